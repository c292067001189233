"""The catalogue: operators keep it; members see what they may take now and what they lack for the rest."""
import pytest

from mall_helpers import redeem


def test_operator_creates_and_changes_an_item(memberday_client, admin):
    created = memberday_client.post("/api/v1/mall/items", headers=admin, json={
        "name": "Latte", "description": "Any size.", "image_url": "https://cdn.example.com/latte.png",
        "points_cost": 120, "stock": 40, "per_member_limit": 2, "min_tier": "silver",
        "starts_at": "2026-01-01T00:00:00+08:00", "ends_at": "2199-01-01T00:00:00+08:00"})
    assert created.status_code == 201
    item = created.get_json()
    assert (item["name"], item["points_cost"], item["stock"], item["available"], item["min_tier"]) == \
        ("Latte", 120, 40, 40, "silver")
    assert (item["sold"], item["redemptions"], item["codes_left"], item["has_voucher_codes"]) == (0, 0, 0, False)
    assert item["on_sale"] is True

    changed = memberday_client.patch(f"/api/v1/mall/items/{item['id']}", headers=admin,
                                     json={"points_cost": 100, "stock": None, "active": False})
    assert changed.status_code == 200
    assert (changed.get_json()["points_cost"], changed.get_json()["stock"]) == (100, None)
    assert changed.get_json()["on_sale"] is False
    assert changed.get_json()["name"] == "Latte"


@pytest.mark.parametrize("body", [
    {},
    {"name": "No cost"},
    {"name": "", "points_cost": 10},
    {"name": "x" * 121, "points_cost": 10},
    {"name": "Free", "points_cost": 0},
    {"name": "Negative", "points_cost": -5},
    {"name": "Float", "points_cost": 9.5},
    {"name": "Huge", "points_cost": 10**12},
    {"name": "Stock", "points_cost": 10, "stock": -1},
    {"name": "Limit", "points_cost": 10, "per_member_limit": 0},
    {"name": "Tier", "points_cost": 10, "min_tier": "diamond"},
    {"name": "Naive", "points_cost": 10, "starts_at": "2026-01-01T00:00:00"},
    {"name": "Window", "points_cost": 10, "starts_at": "2026-02-01T00:00:00+08:00",
     "ends_at": "2026-01-01T00:00:00+08:00"},
    {"name": "Image", "points_cost": 10, "image_url": "javascript:alert(1)"},
    {"name": "Codes", "points_cost": 10, "voucher_codes": "ABC"},
    {"name": "Codes", "points_cost": 10, "voucher_codes": [1, 2]},
    {"name": "Codes", "points_cost": 10, "voucher_codes": ["x" * 101]},
    {"name": "Codes", "points_cost": 10, "voucher_codes": ["A", "A"]},
    {"name": "N\x00L", "points_cost": 10},
])
def test_bad_item_input_is_400_and_creates_nothing(memberday_client, admin, body):
    response = memberday_client.post("/api/v1/mall/items", headers=admin, json=body)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "validation_error"
    assert memberday_client.get("/api/v1/mall/items", headers=admin).get_json()["total"] == 0


def test_bad_item_changes_are_400(memberday_client, admin, new_item):
    item = new_item(starts_at="2026-01-01T00:00:00+08:00")
    url = f"/api/v1/mall/items/{item['id']}"

    for body in ({}, {"name": None}, {"points_cost": 0}, {"ends_at": "2025-01-01T00:00:00+08:00"},
                 {"min_tier": "bronze"}, [1]):
        response = memberday_client.patch(url, headers=admin, json=body)
        assert response.status_code == 400, body
    assert memberday_client.patch("/api/v1/mall/items/99999", headers=admin, json={"name": "x"}).status_code == 404


def test_only_operators_keep_the_catalogue(memberday_client, new_member, new_item):
    item = new_item()
    member = new_member()

    assert memberday_client.post("/api/v1/mall/items", json={"name": "x", "points_cost": 1}).status_code == 401
    assert memberday_client.post("/api/v1/mall/items", headers=member["headers"],
                                 json={"name": "x", "points_cost": 1}).status_code == 403
    assert memberday_client.patch(f"/api/v1/mall/items/{item['id']}", headers=member["headers"],
                                  json={"name": "x"}).status_code == 403
    assert memberday_client.get("/api/v1/mall/items", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_anyone_sees_items_on_sale_now_but_not_exclusive_or_off_sale_ones(memberday_client, new_item):
    on_sale = new_item(name="On sale")
    sold_out = new_item(name="Sold out", stock=0)
    new_item(name="Exclusive", exclusive=True)
    new_item(name="Switched off", active=False)
    new_item(name="Coming", starts_at="2199-01-01T00:00:00+08:00")
    new_item(name="Over", starts_at="2020-01-01T00:00:00+08:00", ends_at="2020-01-02T00:00:00+08:00")

    body = memberday_client.get("/api/v1/mall/items").get_json()

    assert [item["name"] for item in body["items"]] == ["On sale", "Sold out"]
    assert "stock" not in body["items"][0] and "sold" not in body["items"][0]
    assert [item["available"] for item in body["items"]] == [None, 0]
    assert memberday_client.get(f"/api/v1/mall/items/{on_sale['id']}").status_code == 200
    assert memberday_client.get(f"/api/v1/mall/items/{sold_out['id']}").get_json()["available"] == 0


def test_member_sees_only_what_they_may_take_now_and_what_they_lack_for_the_rest(memberday_client, admin,
                                                                                  new_member, new_item):
    member = new_member(points=500, tier="silver")
    cheap = new_item(name="Cheap", points_cost=200)
    exact = new_item(name="Exactly affordable", points_cost=500)
    dear = new_item(name="Dear", points_cost=800)
    dearer = new_item(name="Dearer", points_cost=2000)
    new_item(name="Gold only", points_cost=100, min_tier="gold")
    new_item(name="Silver and up", points_cost=100, min_tier="silver")
    new_item(name="Sold out", points_cost=100, stock=0)
    once = new_item(name="Once each", points_cost=10, per_member_limit=1)
    new_item(name="Exclusive", points_cost=10, exclusive=True)
    new_item(name="Coming", points_cost=10, starts_at="2199-01-01T00:00:00+08:00")
    assert redeem(memberday_client, member, once["id"]).status_code == 201  # balance 490

    body = memberday_client.get("/api/v1/mall/items", headers=member["headers"]).get_json()

    assert body["balance"] == 490
    assert sorted(item["name"] for item in body["items"]) == ["Cheap", "Silver and up"]
    assert [(item["name"], item["points_short"]) for item in body["need_more_points"]] == \
        [("Exactly affordable", 10), ("Dear", 310), ("Dearer", 1510)]
    assert all(item["points_short"] == 0 for item in body["items"])
    assert {cheap["id"], exact["id"], dear["id"], dearer["id"]} >= {item["id"] for item in body["need_more_points"]}
    one = memberday_client.get(f"/api/v1/mall/items/{dear['id']}", headers=member["headers"]).get_json()
    assert one["points_short"] == 310
    assert memberday_client.get(f"/api/v1/mall/items/{once['id']}", headers=member["headers"]).status_code == 404


def test_operators_see_every_item_with_stock_redemptions_and_codes_left(memberday_client, admin, new_member,
                                                                       new_item):
    voucher = new_item(name="Voucher", points_cost=10, stock=10, voucher_codes=["A1", "A2", "A3"])
    new_item(name="Off", active=False)
    member = new_member(points=100)
    first = redeem(memberday_client, member, voucher["id"]).get_json()
    redeem(memberday_client, member, voucher["id"])
    memberday_client.post(f"/api/v1/mall/redemptions/{first['id']}/cancel", headers=admin)

    body = memberday_client.get("/api/v1/mall/items", headers=admin).get_json()

    assert [item["name"] for item in body["items"]] == ["Off", "Voucher"]
    row = body["items"][1]
    assert (row["stock"], row["codes_left"], row["available"], row["sold"]) == (9, 1, 1, 1)
    assert (row["redemptions"], row["cancelled_redemptions"]) == (1, 1)
    on_sale = memberday_client.get("/api/v1/mall/items?on_sale=true", headers=admin).get_json()
    assert [item["name"] for item in on_sale["items"]] == ["Voucher"]
    paged = memberday_client.get("/api/v1/mall/items?per_page=1&page=2", headers=admin).get_json()
    assert ([item["name"] for item in paged["items"]], paged["total"]) == (["Voucher"], 2)
    assert memberday_client.get("/api/v1/mall/items?per_page=0", headers=admin).status_code == 400
