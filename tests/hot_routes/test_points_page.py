"""A member reading their own points page is answered from one statement on PostgreSQL
(``core.rewards.reads``); everyone else takes the ordinary path. Both must give the same body, and
the lean one must refuse exactly what the ordinary one refuses.

Round trips are counted on the wire (``core.testing.WireTrace``). A connection's first use of the
statement prepares it (one trip more, once per connection); the counts are of a warmed-up one.
"""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from core.testing import WireTrace, bearer, new_phone, sign_in_browser


@pytest.fixture
def wire(memberday_app):
    from core.extensions import db

    with memberday_app.app_context():
        engine = db.engine
    return lambda: WireTrace(engine)


@pytest.fixture
def ledger(memberday_app, memberday_client, member, operator_token):
    """A member with orders (reasons the catalogs translate), a hand adjustment (free text), a spend
    and a pending credit: every kind of entry, some that expire and some that do not."""
    from core.rewards import services

    for number in range(4):
        assert memberday_client.post("/api/v1/orders", headers=bearer(operator_token), json={
            "external_id": f"lean-{number}", "member_id": member["id"], "amount": "120.00"}).status_code == 201
    with memberday_app.app_context():
        services.credit(member["id"], 30, "Thanks for the café review 謝謝", "test:review")
        services.debit(member["id"], 50, "Spent at the till", "test:till")
        services.credit(member["id"], 20, "Referral reward", "test:pending", pending=True)
    return member


def _pages(client, member_id, headers, per_page):
    """Every page of the member's points, following ``next``."""
    pages, query = [], f"?per_page={per_page}"
    while True:
        response = client.get(f"/api/v1/members/{member_id}/points{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        pages.append(response.get_json())
        if not pages[-1]["next"]:
            return pages
        query = f"?per_page={per_page}&after={pages[-1]['next']}"


@pytest.mark.parametrize("language", ["zh-Hant", "zh-Hans", "en"])
@pytest.mark.parametrize("per_page", [2, 50])
def test_the_members_own_page_is_the_ordinary_page_in_one_round_trip(memberday_client, ledger, operator_token,
                                                                      wire, language, per_page):
    own = {**bearer(ledger["token"]), "Accept-Language": language}
    operators = {**bearer(operator_token), "Accept-Language": language}
    # Once first: a connection prepares the statement on its first use (one trip more, once).
    memberday_client.get(f"/api/v1/members/{ledger['id']}/points?per_page={per_page}", headers=own)
    with wire() as trip:
        first = memberday_client.get(f"/api/v1/members/{ledger['id']}/points?per_page={per_page}", headers=own)
    # A full page also asks the planner for its estimate, as the ordinary path does.
    assert trip.trips == (1 if per_page == 50 else 2)
    assert first.status_code == 200
    with wire() as trip:
        memberday_client.get(f"/api/v1/members/{ledger['id']}/points?per_page={per_page}", headers=operators)
    assert trip.trips > 1  # the operator's token, then the member, then the page

    lean, ordinary = (_pages(memberday_client, ledger["id"], headers, per_page) for headers in (own, operators))
    assert lean == ordinary
    entries = [item for page in lean for item in page["items"]]
    assert len(entries) == 7 and lean[0]["balance"] == 4 * 120 + 30 - 50 and lean[0]["pending"] == 20
    reasons = {item["source"]: item["reason_text"] for item in entries}
    assert reasons["test:review"] == "Thanks for the café review 謝謝"  # free text is shown as written
    assert reasons["order:lean-0"] == {"zh-Hant": "訂單 lean-0", "zh-Hans": "订单 lean-0",
                                       "en": "Order lean-0"}[language]
    assert any(item["expires_at"] is None for item in entries) and any(item["expires_at"] for item in entries)
    assert all(item["created_at"].endswith("+08:00") for item in entries)


def _set_locale(app, member_id, locale):
    from core.extensions import db
    from core.members.models import Member

    with app.app_context():
        db.session.execute(update(Member).where(Member.id == member_id).values(locale=locale))
        db.session.commit()


def test_the_members_saved_language_wins_over_the_browsers(memberday_app, memberday_client, ledger, wire):
    _set_locale(memberday_app, ledger["id"], "zh_Hans")
    url, headers = f"/api/v1/members/{ledger['id']}/points", {**bearer(ledger["token"]), "Accept-Language": "en"}
    memberday_client.get(url, headers=headers)
    with wire() as trip:
        response = memberday_client.get(url, headers=headers)
    assert trip.trips == 1  # the language came with the page: no second read of the member
    texts = {item["source"]: item["reason_text"] for item in response.get_json()["items"]}
    assert texts["order:lean-1"] == "订单 lean-1"


def test_a_browser_signed_in_as_a_member_keeps_that_members_language(memberday_app, ledger):
    """As on the ordinary path: the member of the session cookie decides the language, not the
    member whose token the request carries."""
    browser = memberday_app.test_client()
    signed_in = browser.post("/api/v1/members", json={"name": "Cookie Member", "phone": new_phone()}).get_json()
    sign_in_browser(browser, signed_in)
    _set_locale(memberday_app, signed_in["id"], "en")
    _set_locale(memberday_app, ledger["id"], "zh_Hans")
    response = browser.get(f"/api/v1/members/{ledger['id']}/points", headers=bearer(ledger["token"]))
    texts = {item["source"]: item["reason_text"] for item in response.get_json()["items"]}
    assert texts["order:lean-1"] == "Order lean-1"


def test_the_lean_page_refuses_what_the_ordinary_path_refuses(memberday_app, memberday_client, ledger, wire):
    from core.database import utcnow
    from core.extensions import db
    from core.members.models import Member

    url = f"/api/v1/members/{ledger['id']}/points"
    other = memberday_client.post("/api/v1/members", json={"name": "Someone else", "phone": new_phone()}).get_json()
    assert memberday_client.get(url, headers=bearer(other["token"])).status_code == 403
    assert memberday_client.get(url, headers=bearer(ledger["token"] + "x")).status_code == 401
    assert memberday_client.get(url, headers=bearer(ledger["token"][:-1])).status_code == 401
    assert memberday_client.get("/api/v1/members/999999/points", headers=bearer(ledger["token"])).status_code == 403
    # A cursor that is not one: 400 for the member, but 401 first for a token that is not theirs.
    assert memberday_client.get(url + "?after=bm90LWEtY3Vyc29y", headers=bearer(ledger["token"])).status_code == 400
    assert memberday_client.get(url + "?after=bm90LWEtY3Vyc29y",
                                headers=bearer(ledger["token"] + "x")).status_code == 401
    # A cursor past every 32-bit id is simply "from the newest".
    huge = "WzkyMjMzNzIwMzY4NTQ3NzU4MDdd"  # [9223372036854775807]
    assert len(memberday_client.get(url + f"?after={huge}", headers=bearer(ledger["token"])).get_json()["items"]) == 7

    with memberday_app.app_context():
        db.session.execute(update(Member).where(Member.id == ledger["id"])
                           .values(token_expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    with wire() as trip:
        assert memberday_client.get(url, headers=bearer(ledger["token"])).status_code == 401
    assert trip.trips >= 2  # the lean read found the token expired; the ordinary path said so
    with memberday_app.app_context():
        db.session.execute(update(Member).where(Member.id == ledger["id"]).values(token_hash=None))
        db.session.commit()
    assert memberday_client.get(url, headers=bearer(ledger["token"])).status_code == 401


def test_a_member_with_no_entries_reads_an_empty_page(memberday_client, member, wire):
    memberday_client.get(f"/api/v1/members/{member['id']}/points", headers=bearer(member["token"]))
    with wire() as trip:
        response = memberday_client.get(f"/api/v1/members/{member['id']}/points", headers=bearer(member["token"]))
    assert trip.trips == 1
    assert response.get_json() == {"balance": 0, "pending": 0, "items": [], "next": None, "page": 1,
                                   "per_page": 50, "estimate": 0}


def test_on_sqlite_the_member_reads_through_the_ordinary_path(memberday_sqlite_client, sqlite_operator_token):
    joined = memberday_sqlite_client.post("/api/v1/members", json={"name": "Embedded", "phone": new_phone()})
    member = joined.get_json()
    assert memberday_sqlite_client.post("/api/v1/orders", headers=bearer(sqlite_operator_token), json={
        "external_id": "embedded-1", "member_id": member["id"], "amount": "80.00"}).status_code == 201
    url = f"/api/v1/members/{member['id']}/points"
    own = memberday_sqlite_client.get(url, headers={**bearer(member["token"]), "Accept-Language": "en"})
    ordinary = memberday_sqlite_client.get(url, headers={**bearer(sqlite_operator_token), "Accept-Language": "en"})
    assert own.status_code == ordinary.status_code == 200
    assert own.get_json() == ordinary.get_json()
    assert own.get_json()["balance"] == 80 and own.get_json()["items"][0]["reason_text"] == "Order embedded-1"
    assert memberday_sqlite_client.get(url, headers=bearer(member["token"] + "x")).status_code == 401
