"""Orders earn points; the lifecycle stage follows the order history."""
from datetime import timedelta

import pytest

from core.database import utcnow
from core.testing import bearer


def _order(client, token, member_id, external_id, amount="100.00", days_ago=None):
    body = {"external_id": external_id, "member_id": member_id, "amount": amount}
    if days_ago is not None:
        body["paid_at"] = (utcnow() - timedelta(days=days_ago)).isoformat()
    response = client.post("/api/v1/orders", headers=bearer(token), json=body)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def test_a_paid_order_earns_base_points(memberday_client, operator_token, member):
    order = _order(memberday_client, operator_token, member["id"], "E1", amount="129.90")
    assert order["points_earned"] == 129
    assert order["amount"] == "129.90"
    profile = memberday_client.get(f"/api/v1/members/{member['id']}", headers=bearer(member["token"])).get_json()
    assert profile["points_balance"] == 129


@pytest.mark.parametrize("history, stage", [
    ([], "prospect"),
    ([3], "new"),
    ([90, 10], "active"),
    ([100, 45], "at_risk"),
    ([200, 90], "lapsed"),
])
def test_the_stage_is_derived_from_orders(memberday_client, operator_token, member, history, stage):
    for n, days in enumerate(history):
        _order(memberday_client, operator_token, member["id"], f"S{n}", days_ago=days)
    profile = memberday_client.get(f"/api/v1/members/{member['id']}", headers=bearer(operator_token)).get_json()
    assert profile["stage"] == stage


def test_a_refunded_only_order_leaves_the_member_a_prospect(memberday_client, operator_token, member):
    _order(memberday_client, operator_token, member["id"], "R1")
    memberday_client.post("/api/v1/orders/R1/refund", headers=bearer(operator_token))
    profile = memberday_client.get(f"/api/v1/members/{member['id']}", headers=bearer(operator_token)).get_json()
    assert profile["stage"] == "prospect"
    assert profile["points_balance"] == 0


def test_joining_twice_with_the_same_phone_is_member_exists(memberday_client):
    first = memberday_client.post("/api/v1/members", json={"name": "A", "phone": "+886 912-345-678"})
    assert first.status_code == 201
    again = memberday_client.post("/api/v1/members", json={"name": "B", "phone": "+886912345678"})
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "member_exists"


def test_times_are_shown_with_the_brand_offset(memberday_client, operator_token, member):
    order = _order(memberday_client, operator_token, member["id"], "T1")
    assert order["paid_at"].endswith("+08:00")
