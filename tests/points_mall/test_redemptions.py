"""Redeeming and cancelling: the rules, the errors, and what the member reads in the core ledger."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from mall_helpers import balance, code_rows, item_row, redeem


def _redemption_count(app):
    from core.extensions import db
    from plugins.points_mall.models import Redemption

    with app.app_context():
        return len(db.session.scalars(select(Redemption)).all())


def test_member_redeems_a_voucher_and_reads_its_code_in_the_core_ledger(memberday_client, new_member, new_item):
    item = new_item(name="Beauty voucher", points_cost=400, voucher_codes=["BEAUTY-AAA", "BEAUTY-BBB"])
    member = new_member(points=1000)

    response = redeem(memberday_client, member, item["id"])

    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "completed"
    assert body["points_spent"] == 400
    assert body["voucher_codes"] == ["BEAUTY-AAA"]
    ledger = memberday_client.get(f"/api/v1/members/{member['id']}/points", headers=member["headers"]).get_json()
    assert ledger["balance"] == 600
    spend = ledger["items"][0]
    assert spend["points"] == -400
    assert spend["source"] == f"points_mall:redemption:{body['id']}"
    assert "Beauty voucher" in spend["reason"] and "BEAUTY-AAA" in spend["reason"]
    inbox = memberday_client.get(f"/api/v1/members/{member['id']}/notifications",
                                 headers=member["headers"]).get_json()["items"]
    assert any("BEAUTY-AAA" in note["body"] for note in inbox)


def test_quantity_takes_several_units_codes_and_points(memberday_app, memberday_client, new_member, new_item):
    item = new_item(points_cost=50, stock=10, voucher_codes=["Q1", "Q2", "Q3", "Q4"])
    member = new_member(points=500)

    body = redeem(memberday_client, member, item["id"], quantity=3).get_json()

    assert (body["quantity"], body["points_spent"], body["voucher_codes"]) == (3, 150, ["Q1", "Q2", "Q3"])
    row = item_row(memberday_app, item["id"])
    assert (row["stock"], row["codes_left"], row["sold"]) == (7, 1, 3)
    assert balance(memberday_client, member) == 350


def test_a_code_pool_bounds_the_stock_of_an_unlimited_item(memberday_client, new_member, new_item):
    item = new_item(points_cost=10, stock=None, voucher_codes=["ONLY-1", "ONLY-2"])
    member = new_member(points=1000)

    assert redeem(memberday_client, member, item["id"], quantity=3).get_json()["error"]["code"] == "out_of_stock"
    assert redeem(memberday_client, member, item["id"], quantity=2).status_code == 201
    refused = redeem(memberday_client, member, item["id"])
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (409, "out_of_stock")
    assert balance(memberday_client, member) == 980


@pytest.mark.parametrize("item_fields, member_fields, quantity, status, code", [
    ({"points_cost": 500}, {"points": 499}, 1, 409, "insufficient_points"),
    ({"points_cost": 100, "stock": 0}, {"points": 1000}, 1, 409, "out_of_stock"),
    ({"points_cost": 100, "stock": 2}, {"points": 1000}, 3, 409, "out_of_stock"),
    ({"points_cost": 100, "per_member_limit": 2}, {"points": 1000}, 3, 409, "limit_reached"),
    ({"points_cost": 100, "min_tier": "gold"}, {"points": 1000, "tier": "silver"}, 1, 403, "not_eligible"),
    ({"points_cost": 100, "exclusive": True}, {"points": 1000}, 1, 403, "not_eligible"),
    ({"points_cost": 100, "active": False}, {"points": 1000}, 1, 409, "not_on_sale"),
    ({"points_cost": 100, "starts_at": "2199-01-01T00:00:00+08:00"}, {"points": 1000}, 1, 409, "not_on_sale"),
    ({"points_cost": 100, "starts_at": "2020-01-01T00:00:00+08:00", "ends_at": "2020-02-01T00:00:00+08:00"},
     {"points": 1000}, 1, 409, "not_on_sale"),
])
def test_refused_redemption_names_the_rule_and_writes_nothing(memberday_app, memberday_client, new_member,
                                                              new_item, item_fields, member_fields, quantity,
                                                              status, code):
    item = new_item(**item_fields)
    member = new_member(**member_fields)

    response = redeem(memberday_client, member, item["id"], quantity=quantity)

    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert balance(memberday_client, member) == member_fields["points"]
    assert _redemption_count(memberday_app) == 0


def test_higher_tier_than_the_minimum_may_redeem(memberday_client, new_member, new_item):
    item = new_item(points_cost=100, min_tier="gold")
    assert redeem(memberday_client, new_member(points=100, tier="platinum"), item["id"]).status_code == 201
    assert redeem(memberday_client, new_member(points=100, tier="gold"), item["id"]).status_code == 201


def test_per_member_limit_counts_units_and_ignores_cancelled_redemptions(memberday_client, admin, new_member,
                                                                         new_item):
    item = new_item(points_cost=10, per_member_limit=2)
    member = new_member(points=1000)
    first = redeem(memberday_client, member, item["id"], quantity=2).get_json()
    assert redeem(memberday_client, member, item["id"]).get_json()["error"]["code"] == "limit_reached"

    memberday_client.post(f"/api/v1/mall/redemptions/{first['id']}/cancel", headers=admin)

    assert redeem(memberday_client, member, item["id"], quantity=2).status_code == 201


def test_unknown_item_or_member_is_404_and_another_members_id_is_403(memberday_client, admin, new_member, new_item):
    item = new_item()
    member, other = new_member(points=1000), new_member(points=1000)

    assert redeem(memberday_client, member, 999_999).status_code == 404
    unknown_member = memberday_client.post("/api/v1/mall/redemptions", headers=admin,
                                           json={"member_id": 999_999, "item_id": item["id"]})
    assert unknown_member.status_code == 404
    as_other = memberday_client.post("/api/v1/mall/redemptions", headers=member["headers"],
                                     json={"member_id": other["id"], "item_id": item["id"]})
    assert as_other.status_code == 403
    anonymous = memberday_client.post("/api/v1/mall/redemptions", json={"member_id": member["id"],
                                                                        "item_id": item["id"]})
    assert anonymous.status_code == 401
    assert balance(memberday_client, other) == 1000


def test_operator_redeems_for_a_member(memberday_client, admin, new_member, new_item):
    item = new_item(points_cost=300)
    member = new_member(points=300)

    response = redeem(memberday_client, member, item["id"], headers=admin)

    assert response.status_code == 201
    assert balance(memberday_client, member) == 0


@pytest.mark.parametrize("body", [
    {},
    {"member_id": 1},
    {"item_id": 1},
    {"member_id": "one", "item_id": 1},
    {"member_id": 1, "item_id": 1, "quantity": 0},
    {"member_id": 1, "item_id": 1, "quantity": 101},
    {"member_id": 1, "item_id": 1, "quantity": "2"},
    {"member_id": 1, "item_id": 1, "quantity": 1.5},
    {"member_id": 1, "item_id": 1, "quantity": True},
    {"member_id": 2**40, "item_id": 1},
    {"member_id": 1, "item_id": -3},
    {"member_id": 1, "item_id": None},
    [1, 2],
    "member",
])
def test_bad_redemption_input_is_400(memberday_app, memberday_client, admin, new_item, body):
    new_item()

    response = memberday_client.post("/api/v1/mall/redemptions", json=body, headers=admin)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "validation_error"
    assert _redemption_count(memberday_app) == 0


def test_malformed_json_and_huge_ids_are_4xx_never_500(memberday_client, admin):
    broken = memberday_client.post("/api/v1/mall/redemptions", data="{not json",
                                   headers=dict(admin, **{"Content-Type": "application/json"}))
    assert broken.status_code == 400
    nul = memberday_client.post("/api/v1/mall/redemptions", headers=admin,
                                json={"member_id": 1, "item_id": 1, "note": "a\x00b"})
    assert nul.status_code == 400
    assert memberday_client.get("/api/v1/mall/redemptions/99999999999", headers=admin).status_code == 404
    assert memberday_client.post("/api/v1/mall/redemptions/99999999999/cancel", headers=admin).status_code == 404
    bad_key = memberday_client.post("/api/v1/mall/redemptions", json={"member_id": 1, "item_id": 1},
                                    headers=dict(admin, **{"Idempotency-Key": "x" * 300}))
    assert bad_key.status_code == 400


def test_cancel_gives_points_back_to_the_same_lots_and_voids_codes_for_good(memberday_app, memberday_client, admin,
                                                                           new_member, new_item):
    from core.database import transaction
    from core.extensions import db
    from core.rewards.models import PointsLot
    from core.rewards.services import credit

    item = new_item(points_cost=150, stock=3, voucher_codes=["V-1", "V-2"])
    member = new_member()
    soon = datetime.now(timezone.utc) + timedelta(days=10)
    later = datetime.now(timezone.utc) + timedelta(days=300)
    with memberday_app.app_context(), transaction():
        credit(member["id"], 100, "Soon", "test:lot:soon", expires_at=soon)
        credit(member["id"], 100, "Later", "test:lot:later", expires_at=later)
    redemption = redeem(memberday_client, member, item["id"]).get_json()

    def lots():
        with memberday_app.app_context():
            rows = db.session.scalars(select(PointsLot).where(PointsLot.member_id == member["id"])
                                      .order_by(PointsLot.id)).all()
            return [(row.source, row.remaining) for row in rows]

    assert lots() == [("test:lot:soon", 0), ("test:lot:later", 50)]

    response = memberday_client.post(f"/api/v1/mall/redemptions/{redemption['id']}/cancel", headers=admin)

    assert response.status_code == 200
    assert response.get_json()["status"] == "cancelled"
    assert lots() == [("test:lot:soon", 100), ("test:lot:later", 100)]
    assert item_row(memberday_app, item["id"])["stock"] == 3
    assert code_rows(memberday_app, item["id"])[0] == {"code": "V-1", "status": "void",
                                                       "redemption_id": redemption["id"]}
    again = memberday_client.post(f"/api/v1/mall/redemptions/{redemption['id']}/cancel", headers=admin)
    assert (again.status_code, again.get_json()["error"]["code"]) == (409, "already_cancelled")

    # The voided code never goes out again: the next one does, then the pool is empty.
    assert redeem(memberday_client, member, item["id"]).get_json()["voucher_codes"] == ["V-2"]
    assert redeem(memberday_client, member, item["id"]).get_json()["error"]["code"] == "out_of_stock"


def test_only_operators_cancel(memberday_client, new_member, new_item):
    item = new_item()
    member = new_member(points=100)
    redemption = redeem(memberday_client, member, item["id"]).get_json()

    response = memberday_client.post(f"/api/v1/mall/redemptions/{redemption['id']}/cancel",
                                     headers=member["headers"])

    assert response.status_code == 403
    assert balance(memberday_client, member) == 0


def test_members_read_their_own_redemptions_and_operators_everyones(memberday_client, admin, new_member, new_item):
    item = new_item(points_cost=10)
    member, other = new_member(points=100), new_member(points=100)
    mine = redeem(memberday_client, member, item["id"]).get_json()
    theirs = redeem(memberday_client, other, item["id"]).get_json()

    own = memberday_client.get("/api/v1/mall/redemptions", headers=member["headers"]).get_json()
    assert [r["id"] for r in own["items"]] == [mine["id"]]
    assert memberday_client.get(f"/api/v1/mall/redemptions?member_id={other['id']}",
                                headers=member["headers"]).status_code == 403
    assert memberday_client.get(f"/api/v1/mall/redemptions/{theirs['id']}",
                                headers=member["headers"]).status_code == 404
    one = memberday_client.get(f"/api/v1/mall/redemptions/{mine['id']}", headers=member["headers"]).get_json()
    assert one["item_name"] == item["name"]
    everyone = memberday_client.get(f"/api/v1/mall/redemptions?item_id={item['id']}&count=exact", headers=admin).get_json()
    assert everyone["total"] == 2
    filtered = memberday_client.get(f"/api/v1/mall/redemptions?member_id={other['id']}", headers=admin).get_json()
    assert [r["id"] for r in filtered["items"]] == [theirs["id"]]
    assert memberday_client.get("/api/v1/mall/redemptions").status_code == 401


def test_operators_hear_once_per_crossing_of_the_low_stock_threshold(memberday_client, admin, configure,
                                                                     new_member, new_item):
    configure(low_stock_threshold=2)
    item = new_item(name="Tumbler", points_cost=10, stock=4)
    member = new_member(points=1000)

    def warnings():
        notes = memberday_client.get("/api/v1/notifications?per_page=200", headers=admin).get_json()["items"]
        return sum(note["title"] == "Low stock: Tumbler" for note in notes)

    first = redeem(memberday_client, member, item["id"]).get_json()  # 4 -> 3
    assert warnings() == 0
    second = redeem(memberday_client, member, item["id"]).get_json()  # 3 -> 2: crossed
    assert warnings() == 1
    redeem(memberday_client, member, item["id"])  # 2 -> 1: still below, no second warning
    assert warnings() == 1
    for redemption in (first, second):  # 1 -> 3: back above the threshold
        memberday_client.post(f"/api/v1/mall/redemptions/{redemption['id']}/cancel", headers=admin)
    redeem(memberday_client, member, item["id"], quantity=2)  # 3 -> 1: crossed again
    assert warnings() == 2


def test_redemption_works_on_the_embedded_sqlite_default(memberday_sqlite_app):
    from core.auth.services import create_operator
    from core.testing import bearer

    client = memberday_sqlite_app.test_client()
    with memberday_sqlite_app.app_context():
        _, token = create_operator("sqlite-admin", "admin")
    admin = bearer(token)
    item = client.post("/api/v1/mall/items", headers=admin,
                       json={"name": "Latte", "points_cost": 100, "stock": 1, "voucher_codes": ["LITE-1"]}).get_json()
    member = client.post("/api/v1/members", json={"name": "Lin"}).get_json()
    client.post(f"/api/v1/members/{member['id']}/points", headers=admin, json={"points": 250, "reason": "Welcome"})
    member_ref = {"id": member["id"], "headers": bearer(member["token"])}

    done = redeem(client, member_ref, item["id"])
    assert (done.status_code, done.get_json()["voucher_codes"]) == (201, ["LITE-1"])
    assert redeem(client, member_ref, item["id"]).get_json()["error"]["code"] == "out_of_stock"
    assert client.post(f"/api/v1/mall/redemptions/{done.get_json()['id']}/cancel", headers=admin).status_code == 200
    assert balance(client, member_ref) == 250
