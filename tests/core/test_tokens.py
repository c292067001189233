"""Tokens can be revoked, rotated and expire; operators have console passwords and a command line."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.auth.models import Operator
from core.auth.services import (authenticate, create_operator, rotate_member_token, rotate_operator_token,
                                verify_operator_password)
from core.auth.sessions import current_subject, start_session
from core.database import utcnow
from core.extensions import db
from core.testing import bearer, create_operator_token

PASSWORD = "correct horse battery"


def cli(app, *args, input=None):
    result = app.test_cli_runner().invoke(args=list(args), input=input)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_revoked_operator_token_is_401_and_their_console_sessions_end(memberday_app, memberday_client):
    token = cli(memberday_app, "operators", "create", "dana", "--role", "operator").strip().splitlines()[-1]
    assert memberday_client.get("/api/v1/members", headers=bearer(token)).status_code == 200
    with memberday_app.test_request_context():
        operator_id = db.session.scalar(select(Operator.id).where(Operator.name == "dana"))
        start_session("operator", operator_id)
        assert "Revoked 'dana'" in cli(memberday_app, "operators", "revoke", "dana")
        assert current_subject("operator", now=utcnow()) is None
    response = memberday_client.get("/api/v1/members", headers=bearer(token))
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"
    assert "revoked" in cli(memberday_app, "operators", "list").split("dana", 1)[1].splitlines()[0]


def test_rotating_an_operator_token_ends_the_old_one(memberday_app, memberday_client):
    old = create_operator_token(memberday_app, "admin", "erin")
    new = cli(memberday_app, "operators", "rotate", "erin").strip().splitlines()[-1]
    assert new != old
    assert memberday_client.get("/api/v1/members", headers=bearer(old)).status_code == 401
    assert memberday_client.get("/api/v1/members", headers=bearer(new)).status_code == 200


def test_an_expired_token_is_401(memberday_app, memberday_client, member):
    output = cli(memberday_app, "operators", "create", "temp", "--role", "staff", "--expires-in-days", "1")
    token = output.strip().splitlines()[-1]
    with memberday_app.app_context():
        assert authenticate(token) is not None
        operator = db.session.scalar(select(Operator).where(Operator.name == "temp"))
        assert operator.token_expires_at - utcnow() < timedelta(days=1, minutes=1)
        # A one-day token given out two days ago.
        _, token = rotate_operator_token("temp", expires_in_days=1, now=utcnow() - timedelta(days=2))
    assert memberday_client.get("/api/v1/coupon-templates", headers=bearer(token)).status_code == 401

    with memberday_app.app_context():
        member_token, expires_at = rotate_member_token(member["id"], expires_in_days=1,
                                                       now=utcnow() - timedelta(days=2))
        assert expires_at < utcnow()
    assert memberday_client.get(f"/api/v1/members/{member['id']}", headers=bearer(member_token)).status_code == 401


def test_operators_list_shows_each_operator_without_secrets(memberday_app):
    token = create_operator_token(memberday_app, "staff", "till-1")
    cli(memberday_app, "operators", "create", "fay", "--role", "admin", "--password-stdin", input=PASSWORD + "\n")
    output = cli(memberday_app, "operators", "list")
    lines = output.splitlines()
    assert lines[0].split() == ["NAME", "ROLE", "STATUS", "TOKEN", "EXPIRES", "PASSWORD"]
    assert lines[1].split() == ["fay", "admin", "active", "-", "yes"]
    assert lines[2].split() == ["till-1", "staff", "active", "-", "no"]
    assert token not in output


def test_operator_passwords_are_scrypt_hashes_checked_by_verify(memberday_app):
    cli(memberday_app, "operators", "create", "gus", "--role", "staff", "--password-stdin", input=PASSWORD + "\n")
    with memberday_app.app_context():
        stored = db.session.scalar(select(Operator.password_hash).where(Operator.name == "gus"))
        assert stored.startswith("scrypt:") and PASSWORD not in stored
        principal = verify_operator_password("gus", PASSWORD)
        assert principal.kind == "operator" and principal.role == "staff" and principal.name == "gus"
        assert verify_operator_password("gus", PASSWORD + "!") is None
        assert verify_operator_password("nobody", PASSWORD) is None
        create_operator("hal", "admin")  # no password: no console sign-in by password
        assert verify_operator_password("hal", "") is None
    cli(memberday_app, "operators", "revoke", "gus")
    with memberday_app.app_context():
        assert verify_operator_password("gus", PASSWORD) is None


def test_a_short_password_is_refused(memberday_app):
    result = memberday_app.test_cli_runner().invoke(
        args=["operators", "create", "ivy", "--role", "staff", "--password-stdin"], input="short\n")
    assert result.exit_code != 0 and "password" in result.output


def test_a_member_rotates_their_own_token_and_the_old_one_is_401(memberday_client, member):
    response = memberday_client.post(f"/api/v1/members/{member['id']}/token", json={}, headers=bearer(member["token"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["token"].startswith("mb_") and body["expires_at"] is None
    assert memberday_client.get(f"/api/v1/members/{member['id']}", headers=bearer(member["token"])).status_code == 401
    assert memberday_client.get(f"/api/v1/members/{member['id']}", headers=bearer(body["token"])).status_code == 200

    timed = memberday_client.post(f"/api/v1/members/{member['id']}/token", json={"expires_in_days": 30},
                                  headers=bearer(body["token"]))
    assert timed.status_code == 200 and timed.get_json()["expires_at"] is not None


def test_a_member_revokes_their_token_and_it_is_401(memberday_app, memberday_client, member):
    with memberday_app.test_request_context():
        start_session("member", member["id"])
    url = f"/api/v1/members/{member['id']}/token"
    assert memberday_client.delete(url, headers=bearer(member["token"])).status_code == 204
    assert memberday_client.get(f"/api/v1/members/{member['id']}", headers=bearer(member["token"])).status_code == 401
    assert memberday_client.delete(url, headers=bearer(member["token"])).status_code == 401


def test_a_member_cannot_rotate_or_revoke_another_members_token(memberday_client, member):
    other = memberday_client.post("/api/v1/members", json={"name": "Other"}).get_json()
    url = f"/api/v1/members/{other['id']}/token"
    assert memberday_client.post(url, json={}, headers=bearer(member["token"])).status_code == 403
    assert memberday_client.delete(url, headers=bearer(member["token"])).status_code == 403
    assert memberday_client.get(f"/api/v1/members/{other['id']}", headers=bearer(other["token"])).status_code == 200


def test_an_admin_revokes_a_members_token(memberday_app, memberday_client, member):
    staff = create_operator_token(memberday_app, "staff")
    admin = create_operator_token(memberday_app, "admin")
    url = f"/api/v1/members/{member['id']}/token"
    assert memberday_client.delete(url, headers=bearer(staff)).status_code == 403
    assert memberday_client.delete(url, headers=bearer(admin)).status_code == 204
    assert memberday_client.get(f"/api/v1/members/{member['id']}", headers=bearer(member["token"])).status_code == 401
