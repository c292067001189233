"""The points ledger under concurrency, refunds and expiry, on PostgreSQL."""
from datetime import timedelta

from sqlalchemy import func, select

from core.database import utcnow
from core.extensions import db
from core.members.models import Member
from core.rewards import services as rewards
from core.rewards.models import PointsEntry, PointsLot
from core.testing import bearer, run_concurrently


def _balance(app, member_id):
    with app.app_context():
        member = db.session.get(Member, member_id)
        return member.points_balance, member.points_pending


def _ledger_sums(app, member_id):
    with app.app_context():
        return db.session.execute(
            select(func.coalesce(func.sum(PointsEntry.points), 0), func.coalesce(func.sum(PointsEntry.pending_points), 0))
            .where(PointsEntry.member_id == member_id)).one()


def test_fifty_simultaneous_debits_against_a_balance_for_ten(memberday_app, operator_token, member):
    client = memberday_app.test_client()
    client.post(f"/api/v1/members/{member['id']}/points", headers=bearer(operator_token),
                json={"points": 1000, "reason": "welcome"})

    def spend(i):
        response = memberday_app.test_client().post(
            f"/api/v1/members/{member['id']}/points", headers=bearer(operator_token),
            json={"points": -100, "reason": f"spend {i}"})
        return response.status_code, response.get_json()

    results = run_concurrently(spend, 50)
    ok = [body for status, body in results if status == 201]
    refused = [body for status, body in results if status == 409]
    assert len(ok) == 10
    assert len(refused) == 40
    assert all(body["error"]["code"] == "insufficient_points" for body in refused)
    assert _balance(memberday_app, member["id"]) == (0, 0)
    assert tuple(_ledger_sums(memberday_app, member["id"])) == (0, 0)


def test_the_same_order_reported_twenty_times_at_once_books_points_once(memberday_app, operator_token, member):
    def report(i):
        response = memberday_app.test_client().post(
            "/api/v1/orders", headers=bearer(operator_token),
            json={"external_id": "SHOP-1001", "member_id": member["id"], "amount": "250.00"})
        return response.status_code, response.get_json()

    results = run_concurrently(report, 20)
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 1 and statuses.count(200) == 19
    assert {body["id"] for _, body in results} == {results[0][1]["id"]}
    assert _balance(memberday_app, member["id"]) == (250, 0)
    with memberday_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(PointsLot)) == 1


def test_refund_after_partial_spend_takes_back_only_what_remains(memberday_app, operator_token, member):
    client = memberday_app.test_client()
    headers = bearer(operator_token)
    client.post("/api/v1/orders", headers=headers,
                json={"external_id": "A", "member_id": member["id"], "amount": "300"})
    spent = client.post(f"/api/v1/members/{member['id']}/points", headers=headers,
                        json={"points": -250, "reason": "mug"})
    assert spent.status_code == 201
    refund = client.post("/api/v1/orders/A/refund", headers=headers)
    assert refund.status_code == 200
    assert refund.get_json()["status"] == "refunded"
    assert _balance(memberday_app, member["id"]) == (0, 0)
    points = client.get(f"/api/v1/members/{member['id']}/points", headers=headers).get_json()
    assert [item["points"] for item in points["items"]] == [-50, -250, 300]
    again = client.post("/api/v1/orders/A/refund", headers=headers)
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_refunded"
    assert _balance(memberday_app, member["id"]) == (0, 0)


def test_refund_reached_twice_at_once_reverses_once(memberday_app, operator_token, member):
    headers = bearer(operator_token)
    memberday_app.test_client().post("/api/v1/orders", headers=headers,
                                     json={"external_id": "B", "member_id": member["id"], "amount": "80"})
    results = run_concurrently(
        lambda i: memberday_app.test_client().post("/api/v1/orders/B/refund", headers=headers).status_code, 8)
    assert sorted(results) == [200] + [409] * 7
    assert _balance(memberday_app, member["id"]) == (0, 0)


def test_spends_draw_from_the_soonest_expiring_lots_first(memberday_app, member):
    now = utcnow()
    with memberday_app.app_context():
        rewards.credit(member["id"], 100, "late", "t:late", expires_at=now + timedelta(days=300))
        rewards.credit(member["id"], 100, "soon", "t:soon", expires_at=now + timedelta(days=10))
        rewards.credit(member["id"], 100, "mid", "t:mid", expires_at=now + timedelta(days=100))
        rewards.debit(member["id"], 150, "spend", "t:spend")
        remaining = {lot.source: lot.remaining for lot in db.session.scalars(select(PointsLot))}
        assert remaining == {"t:soon": 0, "t:mid": 50, "t:late": 100}
        assert db.session.get(Member, member["id"]).points_balance == 150


def test_a_cancelled_spend_returns_to_the_very_lots_it_drew_from(memberday_app, member):
    now = utcnow()
    with memberday_app.app_context():
        rewards.credit(member["id"], 100, "a", "t:a", expires_at=now + timedelta(days=5))
        rewards.credit(member["id"], 100, "b", "t:b", expires_at=now + timedelta(days=50))
        rewards.debit(member["id"], 120, "spend", "t:spend")
        rewards.reverse_debit("t:spend", "cancelled")
        rewards.reverse_debit("t:spend", "cancelled again")  # the same effect is not booked twice
        remaining = {lot.source: lot.remaining for lot in db.session.scalars(select(PointsLot))}
        assert remaining == {"t:a": 100, "t:b": 100}
        assert db.session.get(Member, member["id"]).points_balance == 200


def test_expiry_job_run_twice_at_once_expires_each_lot_once(memberday_app):
    now = utcnow()
    with memberday_app.app_context():
        from core.members.services import create_member

        ids = [create_member(f"m{i}")[0].id for i in range(6)]
        for member_id in ids:
            rewards.credit(member_id, 40, "old", f"t:old:{member_id}", expires_at=now + timedelta(days=1))
            rewards.credit(member_id, 60, "fresh", f"t:fresh:{member_id}", expires_at=now + timedelta(days=30))
        rewards.debit(ids[0], 10, "spent some", "t:spend0")

    later = now + timedelta(days=2)

    def expire(i):
        with memberday_app.app_context():
            return rewards.expire_due_lots(later)

    run_concurrently(expire, 2)
    with memberday_app.app_context():
        expiries = db.session.scalars(select(PointsEntry).where(PointsEntry.kind == "expiry")).all()
        assert len(expiries) == 6
        assert sorted(e.points for e in expiries) == [-40] * 5 + [-30]
        balances = [db.session.get(Member, i).points_balance for i in ids]
        assert balances == [60] * 6  # the spent member lost only the 30 left of the old lot


def test_the_balance_never_goes_negative_even_when_asked_directly(memberday_app, member):
    with memberday_app.app_context():
        import pytest

        from core.errors import Conflict

        rewards.credit(member["id"], 5, "x", "t:x")
        with pytest.raises(Conflict) as refused:
            rewards.debit(member["id"], 6, "too much", "t:too-much")
        assert refused.value.code == "insufficient_points"
        assert db.session.get(Member, member["id"]).points_balance == 5


def test_held_points_are_pending_until_released_and_reversible(memberday_app, member):
    with memberday_app.app_context():
        rewards.credit(member["id"], 70, "held", "t:held", pending=True)
        assert _balance(memberday_app, member["id"]) == (0, 70)
        rewards.release("t:held", "released")
        assert rewards.release("t:held", "released twice") is None
        assert _balance(memberday_app, member["id"]) == (70, 0)
        rewards.credit(member["id"], 30, "held", "t:held2", pending=True)
        rewards.reverse_credit("t:held2", "cancelled")
        assert _balance(memberday_app, member["id"]) == (70, 0)
        assert tuple(_ledger_sums(memberday_app, member["id"])) == (70, 0)
