"""Operators sign in to the console with name and password; sessions end on sign-out, password change and
revocation; sign-in is rate-limited and says nothing about which names exist; tokens are made in the console."""
from __future__ import annotations

import re

import pytest

from core.testing import bearer
from conftest import PASSWORD, ConsoleClient

ERROR = re.compile(r'<p class="error" role="alert">([^<]+)</p>')


def browser(app) -> ConsoleClient:
    return ConsoleClient(app)


def test_an_operator_signs_in_with_name_and_password(anonymous_console):
    anonymous_console.sign_in("operator", name="olga")
    page = anonymous_console.get("/console/")
    assert page.status_code == 200 and "olga" in page.get_data(as_text=True)


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(anonymous_console):
    anonymous_console.sign_in("admin", name="ada")
    other = browser(anonymous_console.app)
    wrong = other.post("/console/sign-in", {"name": "ada", "password": PASSWORD + "x"})
    unknown = other.post("/console/sign-in", {"name": "nobody-here", "password": PASSWORD})
    token = other.post("/console/sign-in", {"name": "ada", "password": anonymous_console.operator["token"]})
    assert wrong.status_code == unknown.status_code == token.status_code == 401
    messages = {ERROR.search(r.get_data(as_text=True)).group(1) for r in (wrong, unknown, token)}
    assert len(messages) == 1 and "ada" not in messages.pop()
    assert other.get("/console/").status_code == 302


def test_an_operator_without_a_password_or_revoked_cannot_sign_in(memberday_app):
    from core.auth.services import create_operator, revoke_operator

    with memberday_app.app_context():
        create_operator("integration", "operator")
        create_operator("gone", "operator", password=PASSWORD)
        revoke_operator("gone")
    client = browser(memberday_app)
    for name in ("integration", "gone"):
        assert client.post("/console/sign-in", {"name": name, "password": PASSWORD}).status_code == 401


@pytest.fixture
def limited(memberday_app):
    """Rate limits on, as in production (the suite runs with them off)."""
    from core import ratelimit

    memberday_app.config.update(RATE_LIMITS_ENABLED=True, RATE_LIMITS={"sign_in": "3/minute"})
    ratelimit.limiter.reset()
    yield memberday_app
    ratelimit.limiter.reset()


def test_sign_in_is_rate_limited(limited):
    browser(limited).sign_in("admin", name="ada")  # one attempt of the three
    client = browser(limited)
    answers = [client.post("/console/sign-in", {"name": "ada", "password": "wrong password!"}).status_code
               for _ in range(3)]
    assert answers == [401, 401, 429]
    # Not even the right password gets through until the window passes.
    assert client.post("/console/sign-in", {"name": "ada", "password": PASSWORD}).status_code == 429
    assert client.get("/console/").status_code == 302


def test_a_cookie_replayed_after_a_password_change_is_refused(console):
    copied = console.http.get_cookie("session").value
    other_browser = browser(console.app)
    other_browser.post("/console/sign-in", {"name": console.operator["name"], "password": PASSWORD})
    assert other_browser.get("/console/").status_code == 200

    new = "another long password"
    wrong = console.post("/console/account/password", {"current_password": "not it at all",
                                                      "new_password": new, "repeat_password": new})
    assert wrong.status_code == 400 and ERROR.search(wrong.get_data(as_text=True))
    short = console.post("/console/account/password", {"current_password": PASSWORD,
                                                      "new_password": "short", "repeat_password": "short"})
    assert short.status_code == 400
    changed = console.post("/console/account/password", {"current_password": PASSWORD,
                                                        "new_password": new, "repeat_password": new})
    assert changed.status_code == 303
    assert console.get("/console/").status_code == 200  # this browser stays signed in
    assert other_browser.get("/console/").status_code == 302  # every other one is signed out

    thief = browser(console.app)
    thief.http.set_cookie("session", copied)
    assert thief.get("/console/").status_code == 302
    assert browser(console.app).post("/console/sign-in", {"name": console.operator["name"],
                                                          "password": PASSWORD}).status_code == 401
    assert browser(console.app).post("/console/sign-in", {"name": console.operator["name"],
                                                          "password": new}).status_code == 303


def test_an_admin_sets_a_password_and_revokes_and_the_cookie_is_worth_nothing(console, sign_in_as):
    from core.auth.models import Operator
    from core.extensions import db

    staff = sign_in_as("staff")
    copied = staff.http.get_cookie("session").value
    assert staff.get("/console/scan").status_code == 200
    assert console.post(f"/console/operators/{staff.operator['id']}/password",
                        {"password": "short"}).status_code == 303
    assert staff.get("/console/scan").status_code == 200  # a refused password changes nothing
    assert console.post(f"/console/operators/{staff.operator['id']}/password",
                        {"password": "the admin's choice"}).status_code == 303
    assert staff.get("/console/scan").status_code == 302
    assert browser(console.app).post("/console/sign-in", {"name": staff.operator["name"],
                                                          "password": "the admin's choice"}).status_code == 303

    staff.sign_in("staff")
    copied = staff.http.get_cookie("session").value
    assert console.post(f"/console/operators/{staff.operator['id']}/revoke").status_code == 303
    replay = browser(console.app)
    replay.http.set_cookie("session", copied)
    assert replay.get("/console/scan").status_code == 302
    assert replay.get("/console/scan", headers={"Accept": "application/json"}).status_code == 401
    assert console.http.get("/api/v1/coupon-templates", headers=bearer(staff.operator["token"])).status_code == 401
    with console.app.app_context():
        assert db.session.get(Operator, staff.operator["id"]).revoked_at is not None
    # An admin cannot lock themself out.
    console.post(f"/console/operators/{console.operator['id']}/revoke")
    assert console.get("/console/").status_code == 200


def test_only_admins_manage_other_operators(sign_in_as):
    operator = sign_in_as("operator")
    target = sign_in_as("staff").operator["id"]
    for action in ("password", "token", "revoke"):
        assert operator.post(f"/console/operators/{target}/{action}", {"password": "long enough pass"}
                             ).status_code == 403


@pytest.mark.parametrize("role", ["admin", "staff"])
def test_an_operator_makes_and_withdraws_their_own_api_token(sign_in_as, role):
    client = sign_in_as(role)
    old = client.operator["token"]
    made = client.post("/console/account/token", {"action": "new"})
    assert made.status_code == 200
    token = re.search(r"<code data-new-token>([^<]+)</code>", made.get_data(as_text=True)).group(1)
    assert token not in client.get("/console/account").get_data(as_text=True)  # shown once
    api = client.http
    assert api.get("/api/v1/coupon-templates", headers=bearer(old)).status_code == 401
    assert api.get("/api/v1/coupon-templates", headers=bearer(token)).status_code == 200
    assert client.post("/console/account/token", {"action": "revoke"}).status_code == 303
    assert api.get("/api/v1/coupon-templates", headers=bearer(token)).status_code == 401
    assert client.get("/console/account").status_code == 200  # the password session stays


def test_an_admin_gives_another_operator_a_token_and_withdraws_it(console, sign_in_as):
    other = sign_in_as("operator").operator
    made = console.post(f"/console/operators/{other['id']}/token", {"action": "new"})
    token = re.search(r"<code data-new-token>([^<]+)</code>", made.get_data(as_text=True)).group(1)
    assert console.http.get("/api/v1/members", headers=bearer(token)).status_code == 200
    assert console.http.get("/api/v1/members", headers=bearer(other["token"])).status_code == 401
    assert console.post(f"/console/operators/{other['id']}/token", {"action": "revoke"}).status_code == 303
    assert console.http.get("/api/v1/members", headers=bearer(token)).status_code == 401


def test_an_admin_creates_an_operator_with_a_password(console):
    created = console.post("/console/operators", {"name": "till-9", "role": "staff", "password": PASSWORD})
    assert created.status_code == 200
    assert browser(console.app).post("/console/sign-in", {"name": "till-9", "password": PASSWORD}).status_code == 303
    short = console.post("/console/operators", {"name": "till-10", "role": "staff", "password": "short"})
    assert short.status_code == 400


def test_the_cli_creates_an_operator_who_signs_in_to_the_console(memberday_app):
    result = memberday_app.test_cli_runner().invoke(
        args=["operators", "create", "cli-admin", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n")
    assert result.exit_code == 0, result.output
    client = browser(memberday_app)
    assert client.post("/console/sign-in", {"name": "cli-admin", "password": PASSWORD}).status_code == 303
    assert client.get("/console/plugins").status_code == 200
