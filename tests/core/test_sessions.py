"""Sign-in sessions live on the server: sign-out and revocation end them; forms need their CSRF token."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.auth.models import SignInSession
from core.auth.sessions import current_subject, end_all_sessions, start_session
from core.database import utcnow
from core.extensions import db
from core.testing import csrf_token, sign_in_browser


def sign_in(client, member) -> None:
    sign_in_browser(client, member)


def cookie_of(client) -> str:
    return client.get_cookie("session").value


def test_a_signed_out_session_cookie_replayed_is_refused(memberday_app, memberday_client, member):
    sign_in(memberday_client, member)
    stolen = cookie_of(memberday_client)
    assert memberday_client.get("/me").status_code == 200

    token = csrf_token(memberday_client, "/me")
    assert memberday_client.post("/me/logout", data={"csrf_token": token}).status_code == 303

    thief = memberday_app.test_client()
    thief.set_cookie("session", stolen)
    response = thief.get("/me")
    assert response.status_code == 302 and response.headers["Location"].endswith("/me/login")


def test_the_cookie_holds_only_a_session_id_and_the_table_its_digest(memberday_app, memberday_client, member):
    sign_in(memberday_client, member)
    serializer = memberday_app.session_interface.get_signing_serializer(memberday_app)
    data = serializer.loads(cookie_of(memberday_client))
    assert set(data) <= {"sid_member", "csrf_token", "_permanent"}
    with memberday_app.app_context():
        row = db.session.scalars(select(SignInSession)).one()
        assert row.kind == "member" and row.subject_id == member["id"] and row.ended_at is None
        assert data["sid_member"] not in row.id_hash and len(row.id_hash) == 64


def test_signing_in_again_rotates_the_session_id(memberday_app, memberday_client, member):
    sign_in(memberday_client, member)
    first = cookie_of(memberday_client)
    sign_in(memberday_client, member)
    earlier = memberday_app.test_client()
    earlier.set_cookie("session", first)
    assert earlier.get("/me").status_code == 302
    assert memberday_client.get("/me").status_code == 200


def test_revoking_every_session_of_a_member_signs_out_each_browser(memberday_app, member):
    phone, laptop = memberday_app.test_client(), memberday_app.test_client()
    sign_in(phone, member)
    sign_in(laptop, member)
    with memberday_app.app_context():
        assert end_all_sessions("member", member["id"]) == 2
    assert phone.get("/me").status_code == 302
    assert laptop.get("/me").status_code == 302


def test_a_session_ends_when_it_expires(memberday_app, member):
    memberday_app.config["SESSION_LIFETIME_DAYS"] = 1
    with memberday_app.test_request_context():
        start_session("member", member["id"])
        assert current_subject("member", now=utcnow()) == member["id"]
        assert current_subject("member", now=utcnow() + timedelta(days=2)) is None
        assert current_subject("operator") is None


def test_a_form_without_its_csrf_token_is_refused_with_a_clear_400(memberday_app, memberday_client, member):
    html = memberday_client.post("/me/login", data={"phone": member["phone"]}, headers={"Accept": "text/html"})
    assert html.status_code == 400 and "text/html" in html.content_type
    assert "reload" in html.get_data(as_text=True)

    as_json = memberday_client.post("/join", data={"name": "Cross Site"}, headers={"Accept": "application/json"})
    assert as_json.status_code == 400 and as_json.get_json()["error"]["code"] == "csrf_failed"

    forged = memberday_client.post("/join", data={"name": "Cross Site", "csrf_token": "forged"})
    assert forged.status_code == 400
    with memberday_app.app_context():
        from core.members.models import Member

        assert db.session.scalar(select(Member.id).where(Member.name == "Cross Site")) is None
    assert memberday_client.get("/me").status_code == 302  # no login CSRF either


def test_a_token_from_another_browser_does_not_pass(memberday_app, memberday_client, member):
    other = memberday_app.test_client()
    response = memberday_client.post("/me/login", data={"csrf_token": csrf_token(other), "phone": member["phone"]})
    assert response.status_code == 400


def test_the_bearer_api_and_the_wechat_callback_need_no_csrf_token(memberday_client):
    assert memberday_client.post("/api/v1/members", json={"name": "Api Joiner"}).status_code == 201


def test_private_answers_are_not_stored_by_caches(memberday_client, member):
    sign_in(memberday_client, member)
    assert memberday_client.get("/me").headers["Cache-Control"] == "no-store"
    joined = memberday_client.post("/api/v1/members", json={"name": "Cache Free"})
    assert joined.status_code == 201 and joined.headers["Cache-Control"] == "no-store"
    read = memberday_client.get(f"/api/v1/members/{member['id']}", headers={"Authorization": f"Bearer {member['token']}"})
    assert read.headers["Cache-Control"] == "no-store"
    assert "no-store" not in memberday_client.get("/healthz").headers.get("Cache-Control", "")
