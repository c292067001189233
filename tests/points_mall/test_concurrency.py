"""Redemptions under real concurrency on PostgreSQL: never oversold, never double-spent."""
from collections import Counter

from sqlalchemy import func, select

from core.testing import bearer
from mall_helpers import balance, code_rows, fire_together, item_row, redeem


def test_200_concurrent_redemptions_of_25_units_sell_exactly_25_with_distinct_codes(
        memberday_app, memberday_client, new_member, new_item):
    # Stock is the tighter bound (30 codes for 25 units); members hold points for 0, 1 or 2 units.
    item = new_item(points_cost=100, stock=25, voucher_codes=[f"CAFE-{n:03d}" for n in range(30)])
    members = [new_member(points=100 * (n % 3) + 50) for n in range(50)]
    before = {member["id"]: 100 * (n % 3) + 50 for n, member in enumerate(members)}
    calls = [lambda client, m=member: redeem(client, m, item["id"]) for _ in range(4) for member in members]

    results = fire_together(memberday_app, calls, workers=50)

    won = [(call_index, body) for call_index, (status, body) in enumerate(results) if status == 201]
    assert len(won) == 25
    refused = Counter(body["error"]["code"] for status, body in results if status != 201)
    assert set(refused) <= {"out_of_stock", "insufficient_points"}
    assert all(status in (201, 409) for status, _ in results)
    handed_out = [code for _, body in won for code in body["voucher_codes"]]
    assert len(handed_out) == len(set(handed_out)) == 25

    codes = code_rows(memberday_app, item["id"])
    assert sorted(c["code"] for c in codes if c["status"] == "assigned") == sorted(handed_out)
    assert sum(c["status"] == "available" for c in codes) == 5
    row = item_row(memberday_app, item["id"])
    assert (row["stock"], row["sold"], row["codes_left"]) == (0, 25, 5)

    wins_by_member = Counter(calls_member_id for calls_member_id in
                             (members[index % 50]["id"] for index, _ in won))
    spent = 0
    for member in members:
        now = balance(memberday_client, member)
        assert now >= 0
        assert now == before[member["id"]] - 100 * wins_by_member[member["id"]]
        spent += before[member["id"]] - now
    assert spent == 25 * 100


def test_one_member_firing_ten_redemptions_with_points_for_three_gets_exactly_three(
        memberday_app, memberday_client, new_member, new_item):
    item = new_item(points_cost=100)
    member = new_member(points=350)

    results = fire_together(memberday_app, [lambda client: redeem(client, member, item["id"])] * 10)

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 3, 409: 7}
    assert {body["error"]["code"] for status, body in results if status == 409} == {"insufficient_points"}
    assert balance(memberday_client, member) == 50


def test_same_idempotency_key_repeated_concurrently_redeems_once(memberday_app, memberday_client, new_member,
                                                                  new_item):
    item = new_item(points_cost=100, voucher_codes=["ONCE-1", "ONCE-2"])
    member = new_member(points=1000)
    headers = dict(member["headers"], **{"Idempotency-Key": "tap-once-42"})

    results = fire_together(memberday_app, [lambda client: redeem(client, member, item["id"], headers=headers)] * 8)

    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    assert {tuple(body["voucher_codes"]) for _, body in results} == {("ONCE-1",)}
    assert balance(memberday_client, member) == 900
    listing = memberday_client.get("/api/v1/mall/redemptions?count=exact", headers=member["headers"]).get_json()
    assert listing["total"] == 1


def test_cancelling_twice_at_once_gives_points_and_stock_back_once(memberday_app, memberday_client, admin,
                                                                    new_member, new_item):
    item = new_item(points_cost=100, stock=5, voucher_codes=["TWICE-1", "TWICE-2"])
    member = new_member(points=300)
    redemption = redeem(memberday_client, member, item["id"]).get_json()
    cancel = f"/api/v1/mall/redemptions/{redemption['id']}/cancel"

    results = fire_together(memberday_app, [lambda client: client.post(cancel, headers=admin)] * 6)

    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 1, 409: 5}
    assert {body["error"]["code"] for status, body in results if status == 409} == {"already_cancelled"}
    assert balance(memberday_client, member) == 300
    row = item_row(memberday_app, item["id"])
    assert (row["stock"], row["sold"]) == (5, 0)
    assert [c["status"] for c in code_rows(memberday_app, item["id"])] == ["void", "available"]
    with memberday_app.app_context():
        from core.extensions import db
        from core.rewards.models import PointsEntry

        reversals = db.session.scalar(select(func.count()).select_from(PointsEntry)
                                      .where(PointsEntry.kind == "reversal"))
    assert reversals == 1


def test_per_member_limit_of_one_holds_under_concurrency(memberday_app, memberday_client, new_member, new_item):
    item = new_item(points_cost=100, per_member_limit=1)
    members = [new_member(points=1000) for _ in range(4)]
    # Each member fires six at once, through the member's own token and an operator's alike.
    from core.testing import create_operator_token

    operator = bearer(create_operator_token(memberday_app, "operator"))
    calls = []
    for member in members:
        calls += [lambda client, m=member: redeem(client, m, item["id"])] * 3
        calls += [lambda client, m=member: redeem(client, m, item["id"], headers=operator)] * 3

    results = fire_together(memberday_app, calls)

    statuses = Counter(status for status, _ in results)
    assert statuses == {201: 4, 409: 20}
    assert {body["error"]["code"] for status, body in results if status == 409} == {"limit_reached"}
    assert [balance(memberday_client, member) for member in members] == [900] * 4
