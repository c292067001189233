"""Closed sets: statuses are kept to their values by the database, and each endpoint answers
only the error codes it declares, which the OpenAPI document lists."""
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from core.errors import errors
from core.extensions import db
from core.testing import bearer

CLOSED = [("orders", "status"), ("points_lots", "status"), ("points_entries", "kind"), ("coupons", "status"),
          ("notifications", "status"), ("operators", "role"), ("plugin_audit", "action")]


@pytest.mark.parametrize("table, column", CLOSED)
def test_the_database_refuses_a_value_outside_the_closed_set(memberday_app, memberday_client, operator_token,
                                                             member, table, column):
    # Rows in every table: an order (lots, entries), a coupon, a notification, an audit line.
    memberday_client.post("/api/v1/orders", headers=bearer(operator_token),
                          json={"external_id": "o-1", "member_id": member["id"], "amount": "10.00"})
    template = memberday_client.post("/api/v1/coupon-templates", headers=bearer(operator_token),
                                     json={"title": "Latte"}).get_json()
    memberday_client.post(f"/api/v1/members/{member['id']}/coupons", headers=bearer(operator_token),
                          json={"template_id": template["id"]})
    memberday_client.patch("/api/v1/plugins/referral", headers=bearer(operator_token), json={"settings": {}})
    with memberday_app.app_context():
        from core.notifications.services import notify

        notify(member["id"], "Hello")
        with db.engine.connect() as conn:
            assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() > 0
            with pytest.raises(IntegrityError, match=f"ck_{table}_{column}_known"):
                conn.execute(text(f"UPDATE {table} SET {column} = 'bogus'"))


def test_the_openapi_document_lists_each_endpoints_error_codes(memberday_client):
    spec = memberday_client.get("/api/openapi.json").get_json()
    redeem = spec["paths"]["/api/v1/coupons/{code}/redeem"]["post"]["responses"]
    assert redeem["409"]["description"] == ("Conflict: `already_redeemed`, `expired`, `idempotency_key_reused`, "
                                            "`void`, `wrong_channel`")
    assert redeem["409"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert set(spec["components"]["schemas"]["Error"]["properties"]) == {"error"}
    order_status = spec["components"]["schemas"]["Order"]["properties"]["status"]
    assert order_status["enum"] == ["paid", "refunded"]


def test_an_unknown_core_code_cannot_be_declared():
    with pytest.raises(ValueError, match="unknown error code 'no_such_code'"):
        errors("no_such_code")
