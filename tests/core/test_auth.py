"""Who may do what: member tokens reach only their own data; roles; hashed tokens."""
from sqlalchemy import select

from core.auth.models import Operator
from core.auth.services import hash_token
from core.extensions import db
from core.members.models import Member
from core.testing import bearer, create_operator_token


def test_a_member_token_cannot_read_or_change_another_member(memberday_client, member):
    other = memberday_client.post("/api/v1/members", json={"name": "Other"}).get_json()
    mine = bearer(member["token"])
    for path in (f"/api/v1/members/{other['id']}", f"/api/v1/members/{other['id']}/points",
                 f"/api/v1/members/{other['id']}/coupons", f"/api/v1/members/{other['id']}/notifications"):
        response = memberday_client.get(path, headers=mine)
        assert response.status_code == 403, path
        assert response.get_json()["error"]["code"] == "forbidden"
    grant = memberday_client.post(f"/api/v1/members/{member['id']}/points", headers=mine,
                                  json={"points": 1000, "reason": "self-service"})
    assert grant.status_code == 403
    update = memberday_client.patch(f"/api/v1/members/{other['id']}", headers=mine, json={"tier": "gold"})
    assert update.status_code == 403


def test_a_member_reads_their_own_data(memberday_client, member):
    mine = bearer(member["token"])
    assert memberday_client.get(f"/api/v1/members/{member['id']}/points", headers=mine).status_code == 200
    assert memberday_client.get(f"/api/v1/members/{member['id']}/coupons", headers=mine).status_code == 200


def test_calls_without_a_valid_token_are_unauthorized(memberday_client, member):
    for headers in ({}, {"Authorization": "Bearer op_nope"}, {"Authorization": "Basic abc"}):
        response = memberday_client.get(f"/api/v1/members/{member['id']}", headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"


def test_staff_cannot_change_plugins_or_grant_points(memberday_app, memberday_client, member):
    staff = bearer(create_operator_token(memberday_app, "staff"))
    patch = memberday_client.patch("/api/v1/plugins/referral", headers=staff, json={"enabled": False})
    assert patch.status_code == 403
    grant = memberday_client.post(f"/api/v1/members/{member['id']}/points", headers=staff,
                                  json={"points": 10, "reason": "x"})
    assert grant.status_code == 403
    operator = bearer(create_operator_token(memberday_app, "operator"))
    assert memberday_client.patch("/api/v1/plugins/referral", headers=operator,
                                  json={"enabled": False}).status_code == 403


def test_tokens_are_stored_hashed(memberday_app, member, operator_token):
    with memberday_app.app_context():
        stored_member = db.session.get(Member, member["id"])
        assert stored_member.token_hash == hash_token(member["token"])
        assert member["token"] not in stored_member.token_hash
        hashes = db.session.scalars(select(Operator.token_hash)).all()
        assert hash_token(operator_token) in hashes
        assert operator_token not in hashes


def test_operators_create_prints_the_token_on_the_last_line(memberday_app):
    runner = memberday_app.test_cli_runner()
    result = runner.invoke(args=["operators", "create", "till-3", "--role", "staff"])
    assert result.exit_code == 0, result.output
    token = result.output.strip().splitlines()[-1]
    client = memberday_app.test_client()
    assert client.get("/api/v1/coupon-templates", headers=bearer(token)).status_code == 200
    assert client.get("/api/v1/members", headers=bearer(token)).status_code == 403
