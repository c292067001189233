"""Bad input gets a clear 4xx with API.md's error body, and nothing is written."""
import pytest
from sqlalchemy import func, select

from core.extensions import db
from core.members.models import Member
from core.orders.models import Order
from core.rewards.models import PointsEntry
from core.testing import bearer


def _counts(app):
    with app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(model)) for model in (Member, Order, PointsEntry))


def _is_error(response, status, code):
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return body["error"]


@pytest.mark.parametrize("payload", [
    "{not json",
    "[]",
    '"a string"',
    '{"name": ""}',
    '{"name": "   "}',
    '{"name": 12}',
    '{"name": null}',
    '{"name": "x", "email": "not-an-email"}',
    '{"name": "x", "phone": "call me"}',
    '{"name": "' + "x" * 101 + '"}',
    '{"name": "nul\\u0000byte"}',
    '{}',
])
def test_joining_with_bad_input_is_a_validation_error(memberday_client, memberday_app, payload):
    before = _counts(memberday_app)
    response = memberday_client.post("/api/v1/members", data=payload, content_type="application/json")
    error = _is_error(response, 400, "validation_error")
    assert error.get("fields") or payload == "{not json"
    assert _counts(memberday_app) == before


@pytest.mark.parametrize("body", [
    {"external_id": "X", "member_id": "one", "amount": "10"},
    {"external_id": "X", "member_id": 10**30, "amount": "10"},
    {"external_id": "X", "member_id": 1, "amount": "-5"},
    {"external_id": "X", "member_id": 1, "amount": "1e400"},
    {"external_id": "X", "member_id": 1, "amount": "NaN"},
    {"external_id": "X", "member_id": 1, "amount": 10**20},
    {"external_id": "", "member_id": 1, "amount": "10"},
    {"external_id": "X", "member_id": 1, "amount": "10", "paid_at": "yesterday"},
    {"external_id": "X", "member_id": 1, "amount": "10", "paid_at": "2026-01-01T10:00:00"},
    {"external_id": "X", "member_id": True, "amount": "10"},
])
def test_reporting_a_malformed_order_is_a_validation_error(memberday_client, memberday_app, operator_token, member,
                                                           body):
    before = _counts(memberday_app)
    _is_error(memberday_client.post("/api/v1/orders", headers=bearer(operator_token), json=body),
              400, "validation_error")
    assert _counts(memberday_app) == before


def test_an_order_for_an_unknown_member_is_refused_and_not_written(memberday_client, memberday_app, operator_token):
    before = _counts(memberday_app)
    error = _is_error(memberday_client.post("/api/v1/orders", headers=bearer(operator_token),
                                            json={"external_id": "Z", "member_id": 999999, "amount": "10"}),
                      400, "validation_error")
    assert "member_id" in error["fields"]
    assert _counts(memberday_app) == before


@pytest.mark.parametrize("body", [
    {"points": 0, "reason": "zero"},
    {"points": 10**12, "reason": "huge"},
    {"points": 2_000_000, "reason": "over the adjustment limit"},
    {"points": 1.5, "reason": "fraction"},
    {"points": "10", "reason": "string"},
    {"points": 10, "reason": ""},
    {"points": 10},
])
def test_bad_point_adjustments_are_refused(memberday_client, memberday_app, operator_token, member, body):
    before = _counts(memberday_app)
    _is_error(memberday_client.post(f"/api/v1/members/{member['id']}/points", headers=bearer(operator_token),
                                    json=body), 400, "validation_error")
    assert _counts(memberday_app) == before


@pytest.mark.parametrize("path", [
    "/api/v1/members/0",
    "/api/v1/members/99999999",
    "/api/v1/members/99999999999999999999999",
    "/api/v1/members/-1",
    "/api/v1/members/abc",
    "/api/v1/orders/nope",
    "/api/v1/plugins/nope",
    "/api/v1/nothing-here",
])
def test_unknown_things_are_404_with_the_error_body(memberday_client, operator_token, path):
    _is_error(memberday_client.get(path, headers=bearer(operator_token)), 404, "not_found")


def test_huge_page_numbers_and_bad_paging_are_validation_errors(memberday_client, operator_token):
    for query in ("page=0", "per_page=100000", "page=abc", "page=99999999999999999999"):
        _is_error(memberday_client.get(f"/api/v1/members?{query}", headers=bearer(operator_token)),
                  400, "validation_error")


def test_wrong_method_is_405_with_the_error_body(memberday_client):
    _is_error(memberday_client.delete("/api/v1/members"), 405, "method_not_allowed")


def test_an_oversized_body_is_413(memberday_client):
    response = memberday_client.post("/api/v1/members", data="x" * (2 * 1024 * 1024),
                                     content_type="application/json")
    assert response.status_code == 413
