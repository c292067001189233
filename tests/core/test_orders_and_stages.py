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


def test_an_order_id_reported_for_another_member_is_refused(memberday_client, memberday_app, operator_token, member):
    other = memberday_client.post("/api/v1/members", json={"name": "Someone Else"}).get_json()
    _order(memberday_client, operator_token, member["id"], "ONE-1")
    refused = memberday_client.post("/api/v1/orders", headers=bearer(operator_token),
                                    json={"external_id": "ONE-1", "member_id": other["id"], "amount": "100.00"})
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "order_member_mismatch"
    profile = memberday_client.get(f"/api/v1/members/{other['id']}", headers=bearer(operator_token)).get_json()
    assert profile["points_balance"] == 0


@pytest.mark.parametrize("keyed", [False, True])
def test_one_order_id_for_two_members_at_once_is_one_201_and_one_409(memberday_client, memberday_app,
                                                                     operator_token, member, keyed):
    from sqlalchemy import func, select

    from core.extensions import db
    from core.orders.models import Order
    from core.testing import run_concurrently

    other = memberday_client.post("/api/v1/members", json={"name": "Someone Else"}).get_json()
    members = [member["id"], other["id"]]
    for round_ in range(10):
        external_id = f"RACE-{keyed}-{round_}"

        def report(i):
            headers = bearer(operator_token)
            if keyed:
                headers["Idempotency-Key"] = f"{external_id}-{i}"
            response = memberday_app.test_client().post(
                "/api/v1/orders", headers=headers,
                json={"external_id": external_id, "member_id": members[i], "amount": "50.00"})
            return response.status_code, response.get_json()

        results = run_concurrently(report, 2)
        assert sorted(status for status, _ in results) == [201, 409], results
        winner = next(body for status, body in results if status == 201)
        loser = next(body for status, body in results if status == 409)
        assert loser["error"]["code"] == "order_member_mismatch"
        with memberday_app.app_context():
            order = db.session.scalar(select(Order).where(Order.external_id == external_id))
            assert order.member_id == winner["member_id"]
    with memberday_app.app_context():
        from core.members.models import Member

        balances = [db.session.get(Member, member_id).points_balance for member_id in members]
        assert sum(balances) == 50 * 10
        assert db.session.scalar(select(func.count(Order.id))) == 10
