"""The item's stock is taken by the redemption's last statement, and a refusal there undoes everything.

The hot item's row is locked from its conditional UPDATE to the COMMIT, so that UPDATE comes after
everything else the transaction writes -- the member's debit, the redemption, its codes, the
notification and the Idempotency-Key's stored answer. When the stock is gone by then (another
redemption or an operator took it after the cheap check at the start), all of that rolls back.
"""
from __future__ import annotations


from sqlalchemy import func, select

from mall_helpers import (balance, code_rows, item_row, redeem, statements_sent,
                          stock_emptied_just_before_it_is_taken)


def _redemptions_of(app, member_id: int) -> int:
    from core.extensions import db
    from plugins.points_mall.models import Redemption

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Redemption).where(Redemption.member_id == member_id))


def _inbox(client, member) -> list:
    return client.get(f"/api/v1/members/{member['id']}/notifications", headers=member["headers"]).get_json()["items"]


def test_the_stock_update_is_the_last_statement_after_the_stored_answer(memberday_app, memberday_client,
                                                                        new_member, new_item):
    item = new_item(points_cost=100, stock=50, voucher_codes=["LAST-1", "LAST-2"])
    member = new_member(points=1000)
    headers = dict(member["headers"], **{"Idempotency-Key": "last-statement-1"})

    with statements_sent(memberday_app) as sent:
        response = redeem(memberday_client, member, item["id"], headers=headers)

    assert response.status_code == 201, response.get_json()
    stock_update = [n for n, s in enumerate(sent) if s.startswith("UPDATE points_mall_items SET stock=")]
    answer = [n for n, s in enumerate(sent) if s.startswith("UPDATE idempotency_keys SET status_code=")]
    assert len(stock_update) == len(answer) == 1
    assert answer[0] < stock_update[0]
    # Nothing else is sent while the item's row is locked: the commit follows at once.
    assert sent[stock_update[0] + 1] == "COMMIT"
    assert item_row(memberday_app, item["id"])["stock"] == 49


def test_out_of_stock_at_the_last_statement_undoes_the_debit_codes_notice_and_answer(
        memberday_app, memberday_client, new_member, new_item):
    item = new_item(points_cost=100, stock=3, voucher_codes=["GONE-1", "GONE-2", "GONE-3"])
    member = new_member(points=500)
    headers = dict(member["headers"], **{"Idempotency-Key": "emptied-meanwhile"})

    with stock_emptied_just_before_it_is_taken(memberday_app, item["id"]) as emptied:
        response = redeem(memberday_client, member, item["id"], headers=headers)

    assert emptied
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "out_of_stock"
    assert balance(memberday_client, member) == 500
    assert _redemptions_of(memberday_app, member["id"]) == 0
    assert [code["status"] for code in code_rows(memberday_app, item["id"])] == ["available"] * 3
    assert not any("GONE-" in note["body"] for note in _inbox(memberday_client, member))
    row = item_row(memberday_app, item["id"])
    assert (row["stock"], row["sold"], row["codes_left"]) == (0, 0, 3)

    # The refusal is the key's answer: a retry is told the same, and books nothing.
    again = redeem(memberday_client, member, item["id"], headers=headers)
    assert again.status_code == 409 and again.headers.get("Idempotent-Replayed") == "true"
    assert again.get_json()["error"]["code"] == "out_of_stock"
    assert balance(memberday_client, member) == 500


def test_out_of_stock_at_the_last_statement_without_a_key_writes_nothing(memberday_app, memberday_client,
                                                                         new_member, new_item):
    item = new_item(points_cost=100, stock=2)
    member = new_member(points=500)

    with stock_emptied_just_before_it_is_taken(memberday_app, item["id"]) as emptied:
        response = redeem(memberday_client, member, item["id"])

    assert emptied
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "out_of_stock")
    assert balance(memberday_client, member) == 500
    assert _redemptions_of(memberday_app, member["id"]) == 0
    assert item_row(memberday_app, item["id"])["sold"] == 0
