"""One person, one phone and one e-mail, however they are written."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from core.extensions import db
from core.members.identity import IdentityError, normalise_email, normalise_phone
from core.members.models import Member
from core.testing import csrf_token, join_browser


def members(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Member))


@pytest.mark.parametrize("spelling", ["0912345678", "00886912345678", "886912345678", "+886 912-345-678",
                                      "(09) 1234-5678", "０９１２３４５６７８"])
def test_another_spelling_of_a_phone_is_member_exists(memberday_app, memberday_client, spelling):
    first = memberday_client.post("/api/v1/members", json={"name": "First", "phone": "+886912345678"})
    assert first.status_code == 201 and first.get_json()["phone"] == "+886912345678"
    again = memberday_client.post("/api/v1/members", json={"name": "Again", "phone": spelling})
    if spelling.isascii():
        assert again.status_code == 409 and again.get_json()["error"]["code"] == "member_exists"
    else:  # full-width digits do not even reach the members' rules
        assert again.status_code == 400
    assert members(memberday_app) == 1


def test_a_local_number_is_read_in_the_default_region(memberday_app, memberday_client):
    memberday_app.config["DEFAULT_PHONE_REGION"] = "US"
    joined = memberday_client.post("/api/v1/members", json={"name": "Sam", "phone": "(415) 555-0100"})
    assert joined.status_code == 201 and joined.get_json()["phone"] == "+14155550100"


@pytest.mark.parametrize("phone", ["call me", "12345", "+886 12"])
def test_something_that_is_not_a_phone_is_refused(memberday_client, phone):
    response = memberday_client.post("/api/v1/members", json={"name": "Nope", "phone": phone})
    assert response.status_code == 400 and "phone" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("spelling", ["ADA@EXAMPLE.COM", "Ada@Example.com ", "ａｄａ@example.com"])
def test_another_spelling_of_an_email_is_member_exists(memberday_client, spelling):
    assert memberday_client.post("/api/v1/members", json={"name": "Ada", "email": "ada@example.com"}).status_code == 201
    again = memberday_client.post("/api/v1/members", json={"name": "Ada 2", "email": spelling})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "member_exists"


def test_an_international_domain_is_stored_in_idna_and_matched_either_way(memberday_client):
    joined = memberday_client.post("/api/v1/members", json={"name": "Björn", "email": "Bjorn@Bücher.de"})
    assert joined.status_code == 201 and joined.get_json()["email"] == "bjorn@xn--bcher-kva.de"
    again = memberday_client.post("/api/v1/members", json={"name": "B", "email": "BJORN@XN--BCHER-KVA.DE"})
    assert again.status_code == 409


@pytest.mark.parametrize("lookalike", ["аda@example.com", "ada@exаmple.com"])  # Cyrillic а
def test_an_email_mixing_lookalike_alphabets_is_refused(memberday_app, memberday_client, lookalike):
    response = memberday_client.post("/api/v1/members", json={"name": "Spoof", "email": lookalike})
    assert response.status_code == 400 and "email" in response.get_json()["error"]["fields"]
    assert members(memberday_app) == 0


def test_the_join_form_checks_the_email_too(memberday_app, memberday_client):
    response = memberday_client.post("/join", data={"csrf_token": csrf_token(memberday_client), "name": "Form",
                                                    "email": "not-an-email"})
    assert response.status_code == 400
    assert members(memberday_app) == 0


def test_joining_again_through_a_share_link_with_another_spelling_is_refused(memberday_app, memberday_client,
                                                                              operator_token):
    from core.testing import bearer

    referrer = memberday_client.post("/api/v1/members", json={"name": "Rae Referrer"}).get_json()
    code = memberday_client.get(f"/api/v1/members/{referrer['id']}/referral",
                                headers=bearer(referrer["token"])).get_json()["code"]
    first = memberday_app.test_client()
    first.get(f"/r/{code}")
    assert join_browser(first, f"/r/{code}/join", name="Fei", phone="+886931326362").status_code == 303
    for spelling in ("0931326362", "00886931326362", "886931326362"):
        browser = memberday_app.test_client()
        browser.get(f"/r/{code}")
        response = browser.post(f"/r/{code}/join", data={"csrf_token": csrf_token(browser), "name": "Fei again",
                                                         "phone": spelling})
        assert response.status_code == 409, spelling
    assert members(memberday_app) == 2
    with memberday_app.app_context():
        rows = db.session.execute(text("SELECT status, reason, phone FROM referral_referrals ORDER BY id")).all()
    # One referral, for the first join, with the phone in E.164: the other spellings earned nothing.
    assert [row.phone for row in rows] == ["+886931326362"]


def test_the_normalisers_agree_with_themselves():
    assert normalise_phone("0912345678") == normalise_phone("+886912345678") == "+886912345678"
    assert normalise_email("Ada@Example.COM") == "ada@example.com"
    with pytest.raises(IdentityError):
        normalise_email("аda@example.com")


def test_db_upgrade_normalises_existing_members_and_leaves_clashes_for_an_operator(tmp_path, capsys):
    from flask_migrate import upgrade

    from core.testing import make_app

    app = make_app(f"sqlite:///{tmp_path / 'legacy.sqlite'}")
    with app.app_context():
        upgrade(revision="core_0007")
        with db.engine.begin() as conn:
            for member_id, phone, email in ((1, "0912345678", "Ada@Example.COM"), (2, "+886 931-326-362", None),
                                            (3, "00886931326362", "ada@example.com"), (4, "call me", "x@bücher.de")):
                conn.execute(text("INSERT INTO members (id, name, phone, email, tier, tags, marketing_consent, "
                                  "points_balance, points_pending, orders_count, created_at) VALUES "
                                  "(:id, 'Legacy', :phone, :email, 'member', '[]', 0, 0, 0, 0, '2025-01-01')"),
                             {"id": member_id, "phone": phone, "email": email})
        upgrade(revision="heads")
        rows = db.session.execute(text("SELECT id, phone, email FROM members ORDER BY id")).all()
        db.engine.dispose()
    assert [tuple(row) for row in rows] == [
        (1, "+886912345678", "Ada@Example.COM"),   # its e-mail, folded, is member 3's: left for an operator
        (2, "+886931326362", None),
        (3, "00886931326362", "ada@example.com"),  # its phone is member 2's now: left as it was
        (4, "call me", "x@xn--bcher-kva.de"),      # not a phone: kept as typed
    ]
    assert "share the" in capsys.readouterr().out
