"""On PostgreSQL a redemption's writes go to ``points_mall_redeem()`` in one round trip; the rows are
exactly those the ORM path writes (the path SQLite, voucher items and ledger listeners take).

Two members get the same lots; one redeems through the function, the other through the ORM path,
and everything either wrote is compared: the redemption, the ledger entries, the lots, the spend's
allocations, the balance, and the answer.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from mall_helpers import redeem, statements_sent, stock_emptied_just_before_it_is_taken

LOTS = [  # (points, days to expiry; None: never) -- spent soonest expiry first, by id on a tie, none last
    (30, 5), (50, 5), (100, 40), (40, None), (70, 10),
]


@pytest.fixture
def member_with_lots(memberday_app):
    from core.database import utcnow
    from core.extensions import db
    from core.members.services import create_member
    from core.rewards.models import PointsLot
    from core.rewards.services import credit
    from core.testing import bearer, new_phone

    def make(lots=LOTS, due: int = 0) -> dict:
        with memberday_app.app_context():
            member, token = create_member(f"Lots {uuid.uuid4().hex[:8]}", phone=new_phone())
            now = utcnow()
            for number, (points, days) in enumerate(lots):
                entry = credit(member.id, points, "Welcome points", f"test:lots:{member.id}:{number}",
                               expires_at=now + timedelta(days=days if days is not None else 1))
                if days is None:
                    db.session.execute(update(PointsLot).where(PointsLot.id == entry.lot_id).values(expires_at=None))
                    db.session.commit()
            if due:  # a lot already past its date: a spend expires it first
                credit(member.id, due, "Old points", f"test:lots:{member.id}:due", expires_at=now - timedelta(days=1))
            return {"id": member.id, "token": token, "headers": bearer(token)}

    return make


def function_calls(sent: list) -> list:
    """The calls of ``points_mall_redeem()`` among the statements sent."""
    return [statement for statement in sent if "points_mall_redeem(" in statement]


def written(app, member_id: int, redemption_id: int) -> dict:
    """Everything a redemption wrote for this member, with ids made relative to the member's own rows."""
    from core.extensions import db
    from core.members.models import Member
    from core.rewards.models import PointsAllocation, PointsEntry, PointsLot
    from plugins.points_mall.models import Redemption

    with app.app_context():
        redemption = db.session.get(Redemption, redemption_id)
        lots = db.session.scalars(select(PointsLot).where(PointsLot.member_id == member_id)
                                  .order_by(PointsLot.id)).all()
        lot_index = {lot.id: index for index, lot in enumerate(lots)}
        entries = db.session.scalars(select(PointsEntry).where(PointsEntry.member_id == member_id)
                                     .order_by(PointsEntry.id)).all()
        debit = next(entry for entry in entries if entry.kind == "debit")
        allocations = db.session.scalars(select(PointsAllocation).where(PointsAllocation.entry_id == debit.id)
                                         .order_by(PointsAllocation.id)).all()
        member = db.session.get(Member, member_id)
        own_source = f"points_mall:redemption:{redemption_id}"
        return {
            "redemption": {column.name: getattr(redemption, column.name) for column in Redemption.__table__.columns
                           if column.name not in ("id", "member_id", "created_at")},
            "entries": [(entry.kind, entry.points, entry.pending_points,
                         entry.reason.replace(f"test:lots:{member_id}", "test:lots:M"),
                         entry.source.replace(own_source, "OWN").replace(f"test:lots:{member_id}", "test:lots:M"),
                         lot_index.get(entry.lot_id), entry.expires_at is not None) for entry in entries],
            "debit_at_redemption_time": abs(debit.created_at - redemption.created_at) < timedelta(seconds=5),
            "lots": [(lot.points, lot.remaining, lot.status) for lot in lots],
            "allocations": [(lot_index[allocation.lot_id], allocation.points) for allocation in allocations],
            "balance": (member.points_balance, member.points_pending),
        }


def _answer(body: dict) -> dict:
    return {name: value for name, value in body.items() if name not in ("id", "member_id", "created_at")}


def _redeem_both_ways(app, client, admin, monkeypatch, item_id, first, second, quantity):
    """``first`` redeems as the app does; ``second`` through the ORM path. Returns both (calls, body)."""
    from plugins.points_mall import services

    def go(member):
        headers = dict(admin, **{"Idempotency-Key": str(uuid.uuid4())})
        with statements_sent(app) as sent:
            response = redeem(client, member, item_id, quantity=quantity, headers=headers)
        assert response.status_code == 201, response.get_json()
        return function_calls(sent), response.get_json()

    on_server = go(first)
    with monkeypatch.context() as patch:
        patch.setattr(services, "_books_on_server", lambda item: False)
        through_orm = go(second)
    return on_server, through_orm


def test_the_function_writes_the_rows_the_orm_path_writes(memberday_app, memberday_client, admin, new_item,
                                                          member_with_lots, monkeypatch):
    item = new_item(name="Cinema ticket", points_cost=60, stock=10, per_member_limit=5)
    first, second = member_with_lots(), member_with_lots()

    (calls, server_body), (orm_calls, orm_body) = _redeem_both_ways(
        memberday_app, memberday_client, admin, monkeypatch, item["id"], first, second, quantity=3)

    assert len(calls) == 1 and orm_calls == []
    assert _answer(server_body) == _answer(orm_body)
    on_server = written(memberday_app, first["id"], server_body["id"])
    through_orm = written(memberday_app, second["id"], orm_body["id"])
    assert on_server == through_orm
    # What both wrote: 180 points from the lots due soonest (id order on a tie), the lot without
    # an expiry date last and untouched.
    assert on_server["allocations"] == [(0, 30), (1, 50), (4, 70), (2, 30)]
    assert on_server["lots"] == [(30, 0, "active"), (50, 0, "active"), (100, 70, "active"),
                                 (40, 40, "active"), (70, 0, "active")]
    assert on_server["balance"] == (110, 0)
    assert on_server["entries"][-1][:5] == ("debit", -180, 0, "Points mall: Cinema ticket ×3", "OWN")
    assert on_server["debit_at_redemption_time"]
    assert on_server["redemption"]["points_spent"] == 180 and on_server["redemption"]["created_by"].startswith("operator:")
    stock = memberday_client.get(f"/api/v1/mall/items/{item['id']}", headers=admin).get_json()
    assert (stock["stock"], stock["sold"]) == (4, 6)


def test_lots_due_to_expire_send_the_redemption_through_the_orm_path(memberday_app, memberday_client, admin,
                                                                     new_item, member_with_lots, monkeypatch):
    item = new_item(name="Tote bag", points_cost=100)
    first, second = member_with_lots(due=25), member_with_lots(due=25)

    (calls, server_body), (_, orm_body) = _redeem_both_ways(
        memberday_app, memberday_client, admin, monkeypatch, item["id"], first, second, quantity=1)

    assert len(calls) == 1  # asked, wrote nothing (the lot was due), and the ORM path booked it all
    on_server = written(memberday_app, first["id"], server_body["id"])
    assert on_server == written(memberday_app, second["id"], orm_body["id"])
    assert [entry[0] for entry in on_server["entries"]][-2:] == ["expiry", "debit"]
    assert on_server["balance"] == (190, 0)


def test_out_of_stock_after_the_function_rolls_its_writes_back(memberday_app, memberday_client, admin, new_item,
                                                               member_with_lots):
    item = new_item(name="Last scarf", points_cost=100, stock=2)
    member = member_with_lots()
    headers = dict(admin, **{"Idempotency-Key": "scarf-1"})

    with statements_sent(memberday_app) as sent, \
            stock_emptied_just_before_it_is_taken(memberday_app, item["id"]) as emptied:
        response = redeem(memberday_client, member, item["id"], headers=headers)

    assert len(function_calls(sent)) == 1 and emptied
    assert (response.status_code, response.get_json()["error"]["code"]) == (409, "out_of_stock")
    assert written_lots(memberday_app, member["id"]) == [points for points, _ in LOTS]
    body = memberday_client.get(f"/api/v1/members/{member['id']}/points", headers=member["headers"]).get_json()
    assert body["balance"] == 290 and [entry["points"] > 0 for entry in body["items"]] == [True] * len(LOTS)
    listing = memberday_client.get(f"/api/v1/mall/redemptions?member_id={member['id']}&count=exact",
                                   headers=admin).get_json()
    assert listing["total"] == 0
    again = redeem(memberday_client, member, item["id"], headers=headers)
    assert again.status_code == 409 and again.headers.get("Idempotent-Replayed") == "true"


def written_lots(app, member_id: int) -> list[int]:
    from core.extensions import db
    from core.rewards.models import PointsLot

    with app.app_context():
        return list(db.session.scalars(select(PointsLot.remaining).where(PointsLot.member_id == member_id)
                                       .order_by(PointsLot.id)))
