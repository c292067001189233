"""Each role reaches what its job needs, and nothing more: every cell of docs/operators.md's role table.

Staff work the till and the door: they look coupons up by code (title, channel,
status, expiry) and redeem them, and never see a member's phone, e-mail, ledger,
inbox or voucher codes.
"""
from __future__ import annotations

import secrets

import pytest

from core.testing import bearer, create_operator_token

WHO = ("admin", "operator", "staff", "self", "other_member", "anonymous")

# capability, method, path, JSON body, expected status for each of WHO (in that order).
ROLE_TABLE = [
    ("list and search members", "GET", "/api/v1/members", None, (200, 200, 403, 403, 403, 401)),
    ("read a member (name, phone, e-mail)", "GET", "/api/v1/members/{member}", None,
     (200, 200, 403, 200, 403, 401)),
    ("change a member", "PATCH", "/api/v1/members/{member}", {"tags": ["vip"]}, (200, 200, 403, 403, 403, 401)),
    ("read a member's points ledger", "GET", "/api/v1/members/{member}/points", None,
     (200, 200, 403, 200, 403, 401)),
    ("adjust points", "POST", "/api/v1/members/{member}/points", {"points": 5, "reason": "goodwill"},
     (201, 201, 403, 403, 403, 401)),
    ("read a member's coupons", "GET", "/api/v1/members/{member}/coupons", None, (200, 200, 403, 200, 403, 401)),
    ("read a member's inbox", "GET", "/api/v1/members/{member}/notifications", None,
     (200, 200, 403, 200, 403, 401)),
    ("look a coupon up by code", "GET", "/api/v1/coupons/{code}", None, (200, 200, 200, 200, 404, 401)),
    ("redeem a coupon", "POST", "/api/v1/coupons/{code}/redeem", None, (200, 200, 200, 200, 404, 401)),
    ("list coupon templates", "GET", "/api/v1/coupon-templates", None, (200, 200, 200, 403, 403, 401)),
    ("create a coupon template", "POST", "/api/v1/coupon-templates",
     {"title": "Tea", "value": "50.00", "channel": "any"}, (201, 201, 403, 403, 403, 401)),
    ("issue a coupon", "POST", "/api/v1/members/{member}/coupons", {"template_id": "{template}"},
     (201, 201, 403, 403, 403, 401)),
    ("report an order", "POST", "/api/v1/orders",
     {"external_id": "{unique}", "member_id": "{member}", "amount": "10.00"}, (201, 201, 403, 403, 403, 401)),
    ("post an inbound message", "POST", "/api/v1/messages",
     {"channel": "sms", "from": "+886912345678", "text": "hi", "message_id": "{unique}"},
     (200, 200, 403, 403, 403, 401)),
    ("list plugins and their settings", "GET", "/api/v1/plugins", None, (200, 200, 403, 403, 403, 401)),
    ("switch a plugin on or off", "PATCH", "/api/v1/plugins/referral", {"enabled": True},
     (200, 403, 403, 403, 403, 401)),
    ("read operators' notifications", "GET", "/api/v1/notifications", None, (200, 200, 403, 403, 403, 401)),
    ("rotate a member's token", "POST", "/api/v1/members/{member}/token", {}, (200, 403, 403, 200, 403, 401)),
    ("revoke a member's token", "DELETE", "/api/v1/members/{member}/token", None, (204, 403, 403, 204, 403, 401)),
    ("read mall redemptions (voucher codes)", "GET", "/api/v1/mall/redemptions?member_id={member}", None,
     (200, 200, 403, 200, 403, 401)),
]

CELLS = [pytest.param(row, who, expected, id=f"{row[0]}-{who}")
         for row in ROLE_TABLE for who, expected in zip(WHO, row[4])]


@pytest.fixture
def world(memberday_app, memberday_client, operator_token):
    """An admin, an operator, staff, a member with a coupon ("self") and another member."""
    me = memberday_client.post("/api/v1/members", json={"name": "Mei Self", "phone": "+886912000001",
                                                        "email": "mei@example.com"}).get_json()
    other = memberday_client.post("/api/v1/members", json={"name": "Oscar Other"}).get_json()
    admin = bearer(operator_token)
    template = memberday_client.post("/api/v1/coupon-templates", headers=admin, json={
        "title": "Free latte", "value": "120.00", "channel": "any"}).get_json()
    coupon = memberday_client.post(f"/api/v1/members/{me['id']}/coupons", headers=admin,
                                   json={"template_id": template["id"]}).get_json()
    tokens = {"admin": operator_token,
              "operator": create_operator_token(memberday_app, "operator"),
              "staff": create_operator_token(memberday_app, "staff"),
              "self": me["token"], "other_member": other["token"], "anonymous": None}
    return {"member": me["id"], "code": coupon["code"], "template": template["id"], "tokens": tokens}


def _fill(value, world):
    if isinstance(value, str):
        names = dict(world, unique=secrets.token_hex(6))
        filled = value.format(**{k: v for k, v in names.items() if k != "tokens"})
        return int(filled) if value in ("{member}", "{template}") else filled
    if isinstance(value, dict):
        return {key: _fill(item, world) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, world) for item in value]
    return value


@pytest.mark.parametrize("row, who, expected", CELLS)
def test_role_table_cell(memberday_client, world, row, who, expected):
    _, method, path, body, _ = row
    token = world["tokens"][who]
    headers = dict(bearer(token) if token else {}, **{"Idempotency-Key": secrets.token_hex(8)})
    response = memberday_client.open(_fill(path, world), method=method, headers=headers,
                                     json=_fill(body, world) if body is not None else None)
    assert response.status_code == expected, response.get_data(as_text=True)[:300]


def test_the_till_sees_a_coupon_without_its_owner(memberday_client, world):
    staff = bearer(world["tokens"]["staff"])
    body = memberday_client.get(f"/api/v1/coupons/{world['code']}", headers=staff).get_json()
    assert set(body) == {"code", "title", "channel", "status", "expires_at"}
    assert body["title"] == "Free latte" and body["status"] == "issued"


def test_voucher_codes_never_reach_staff(memberday_app, memberday_client, world, operator_token):
    """A member's mall voucher code lands in their inbox and ledger; staff can read neither."""
    admin = bearer(operator_token)
    item = memberday_client.post("/api/v1/mall/items", headers=admin, json={
        "name": "Cinema voucher", "points_cost": 5, "voucher_codes": ["CINE-SECRET-42"]}).get_json()
    memberday_client.post(f"/api/v1/members/{world['member']}/points", headers=admin,
                          json={"points": 50, "reason": "welcome"})
    redeemed = memberday_client.post("/api/v1/mall/redemptions", headers=bearer(world["tokens"]["self"]),
                                     json={"member_id": world["member"], "item_id": item["id"]})
    assert redeemed.status_code == 201 and redeemed.get_json()["voucher_codes"] == ["CINE-SECRET-42"]
    staff = bearer(world["tokens"]["staff"])
    member = world["member"]
    for path in (f"/api/v1/members/{member}/notifications", f"/api/v1/members/{member}/points",
                 f"/api/v1/members/{member}", f"/api/v1/members/{member}/coupons",
                 f"/api/v1/mall/redemptions?member_id={member}", "/api/v1/mall/redemptions",
                 f"/api/v1/mall/items/{item['id']}/codes", "/api/v1/members?q=mei@example.com"):
        response = memberday_client.get(path, headers=staff)
        text = response.get_data(as_text=True)
        assert response.status_code == 403, path
        assert "CINE-SECRET-42" not in text and "+886912000001" not in text and "mei@example.com" not in text
