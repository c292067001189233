"""Coupons and rights: issued with unguessable codes, redeemed once, online or in a store."""
from datetime import timedelta

from core.database import utcnow
from core.extensions import db
from core.rewards import services as rewards
from core.rewards.models import Coupon
from core.testing import bearer, create_operator_token, run_concurrently


def _template(client, token, **extra):
    body = {"title": "Free latte", "value": "120.00", "channel": "any", "valid_days": 30, **extra}
    response = client.post("/api/v1/coupon-templates", headers=bearer(token), json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _issue(client, token, member_id, template_id, key=None):
    headers = bearer(token) | ({"Idempotency-Key": key} if key else {})
    response = client.post(f"/api/v1/members/{member_id}/coupons", headers=headers, json={"template_id": template_id})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_coupon_is_redeemed_once_even_when_scanned_twice_at_once(memberday_app, memberday_client, operator_token,
                                                                    member):
    template = _template(memberday_client, operator_token)
    coupon = _issue(memberday_client, operator_token, member["id"], template["id"])
    staff = bearer(create_operator_token(memberday_app, "staff"))

    def scan(i):
        return memberday_app.test_client().post(f"/api/v1/coupons/{coupon['code']}/redeem", headers=staff)

    responses = run_concurrently(scan, 10)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * 9
    assert {r.get_json()["error"]["code"] for r in responses if r.status_code == 409} == {"already_redeemed"}
    listed = memberday_client.get(f"/api/v1/members/{member['id']}/coupons", headers=bearer(member["token"]))
    assert listed.get_json()["items"][0]["status"] == "redeemed"


def test_the_owner_redeems_online_but_not_an_in_store_coupon(memberday_client, operator_token, member):
    online = _template(memberday_client, operator_token, title="Free shipping", channel="online")
    offline = _template(memberday_client, operator_token, title="Free latte", channel="offline")
    mine = bearer(member["token"])
    a = _issue(memberday_client, operator_token, member["id"], online["id"])
    b = _issue(memberday_client, operator_token, member["id"], offline["id"])
    assert memberday_client.post(f"/api/v1/coupons/{a['code'].lower()}/redeem", headers=mine).status_code == 200
    refused = memberday_client.post(f"/api/v1/coupons/{b['code']}/redeem", headers=mine)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "wrong_channel"


def test_a_member_cannot_redeem_someone_elses_coupon(memberday_client, operator_token, member):
    other = memberday_client.post("/api/v1/members", json={"name": "Other"}).get_json()
    template = _template(memberday_client, operator_token, channel="online")
    theirs = _issue(memberday_client, operator_token, other["id"], template["id"])
    response = memberday_client.post(f"/api/v1/coupons/{theirs['code']}/redeem", headers=bearer(member["token"]))
    assert response.status_code == 404


def test_an_expired_coupon_cannot_be_redeemed(memberday_app, memberday_client, operator_token, member):
    template = _template(memberday_client, operator_token)  # valid for 30 days
    with memberday_app.app_context():  # given out 31 days ago
        coupon = rewards.issue_coupon(member["id"], template["id"], now=utcnow() - timedelta(days=31))
        coupon = {"id": coupon.id, "code": coupon.code}
    response = memberday_client.post(f"/api/v1/coupons/{coupon['code']}/redeem", headers=bearer(operator_token))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "expired"
    with memberday_app.app_context():
        assert rewards.expire_due_coupons() == 1
        assert db.session.get(Coupon, coupon["id"]).status == "expired"


def test_unknown_coupon_codes_are_404(memberday_client, operator_token):
    for code in ("NOPE", "x" * 300, "%E2%9C%93"):
        response = memberday_client.post(f"/api/v1/coupons/{code}/redeem", headers=bearer(operator_token))
        assert response.status_code == 404


def test_coupon_codes_are_long_random_and_unique(memberday_app, member):
    with memberday_app.app_context():
        template = rewards.create_template("Voucher")
        codes = {rewards.issue_coupon(member["id"], template.id).code for _ in range(50)}
    assert len(codes) == 50
    assert all(len(code) == 16 and set(code) <= set(rewards.CODE_ALPHABET) for code in codes)


def test_issuing_with_the_same_source_gives_the_same_coupon(memberday_app, member):
    with memberday_app.app_context():
        template = rewards.create_template("Welcome gift")
        first = rewards.issue_coupon(member["id"], template.id, source="welcome:1")
        second = rewards.issue_coupon(member["id"], template.id, source="welcome:1")
        assert first.id == second.id
