"""Lot expiry in sets and spends that read only the lots they need: once under concurrency,
with a spend at the same moment, on SQLite too, and for a member with ten thousand lots."""
from datetime import timedelta

from sqlalchemy import func, insert, select, text

from core.database import utcnow
from core.extensions import db
from core.members.models import Member
from core.rewards import services as rewards
from core.rewards.models import PointsAllocation, PointsEntry, PointsLot
from core.testing import bearer, query_plan, run_concurrently


def _new_members(count: int) -> list[int]:
    from core.members.services import create_member

    return [create_member(f"expiry {i}")[0].id for i in range(count)]


def _assert_ledger_consistent(member_ids) -> None:
    """Each balance equals its entries and its spendable lots, and is never negative."""
    for member_id in member_ids:
        member = db.session.get(Member, member_id, populate_existing=True)
        entries = db.session.scalar(select(func.coalesce(func.sum(PointsEntry.points), 0))
                                    .where(PointsEntry.member_id == member_id))
        lots = db.session.scalar(select(func.coalesce(func.sum(PointsLot.remaining), 0))
                                 .where(PointsLot.member_id == member_id, PointsLot.status == "active"))
        assert member.points_balance == entries == lots >= 0, member_id


def test_four_overlapping_expiry_runs_in_small_batches_expire_each_lot_once(memberday_app):
    now = utcnow()
    with memberday_app.app_context():
        ids = _new_members(30)
        for n, member_id in enumerate(ids):
            for k in range(3):  # three due lots of different ages, one fresh
                rewards.credit(member_id, 10 + k, "old", f"t:old:{member_id}:{k}",
                               expires_at=now - timedelta(days=k + 1, minutes=n))
            rewards.credit(member_id, 100, "fresh", f"t:fresh:{member_id}", expires_at=now + timedelta(days=30))
        rewards.debit(ids[0], 50, "spent some", "t:spend0")  # a spend expires its member's due lots first

    def expire(i):
        with memberday_app.app_context():
            return rewards.expire_due_lots(now, batch=7)

    counts = run_concurrently(expire, 4)
    assert sum(counts) == 87  # every lot still due, each counted by the one run that expired it
    with memberday_app.app_context():
        expiries = db.session.scalars(select(PointsEntry).where(PointsEntry.kind == "expiry")).all()
        assert len(expiries) == 30 * 3
        assert sorted({e.points for e in expiries}) == [-12, -11, -10]
        assert db.session.scalar(select(func.count()).select_from(PointsLot)
                                 .where(PointsLot.status == "active", PointsLot.expires_at <= now)) == 0
        balances = {i: db.session.get(Member, i).points_balance for i in ids}
        assert balances[ids[0]] == 50 and set(balances[i] for i in ids[1:]) == {100}
        _assert_ledger_consistent(ids)
        assert rewards.expire_due_lots(now) == 0  # nothing left: a rerun books nothing


def test_parts_at_once_expire_every_member_once_and_twice_at_once_still_once(memberday_app):
    """The job's parts (members split by id) on threads of their own: every due lot of every member
    expires, whichever part the member falls in, and two parted runs at once still book each lot once."""
    now = utcnow()
    with memberday_app.app_context():
        ids = _new_members(25)
        due = {}
        for n, member_id in enumerate(ids):
            for k in range(1 + n % 3):
                rewards.credit(member_id, 5 + k, "old", f"t:old:{member_id}:{k}", expires_at=now - timedelta(hours=k + 1))
            rewards.credit(member_id, 100, "fresh", f"t:fresh:{member_id}", expires_at=now + timedelta(days=30))
            due[member_id] = sorted(-(5 + k) for k in range(1 + n % 3))
        memberday_app.config["POINTS_EXPIRY_PARTS"] = 3
        assert rewards.expiry_parts() == 3

    def expire(i):
        with memberday_app.app_context():
            return rewards.expire_due_lots(now, batch=4)

    assert sum(run_concurrently(expire, 2)) == sum(len(points) for points in due.values())
    with memberday_app.app_context():
        for member_id in ids:
            booked = sorted(db.session.scalars(select(PointsEntry.points).where(PointsEntry.member_id == member_id,
                                                                                PointsEntry.kind == "expiry")))
            assert booked == due[member_id], member_id
            assert db.session.get(Member, member_id).points_balance == 100
        _assert_ledger_consistent(ids)
        assert rewards.expire_due_lots(now, parts=2) == 0


def test_expiry_runs_while_members_spend_through_the_api(memberday_app, operator_token):
    """Two expiry runs and twenty spends at once, on real connections: no negative balance,
    no lot expired twice, every spend either fits the balance left after expiry or is refused."""
    now = utcnow()
    with memberday_app.app_context():
        ids = _new_members(10)
        for member_id in ids:
            rewards.credit(member_id, 60, "old", f"t:old:{member_id}", expires_at=now - timedelta(hours=1))
            rewards.credit(member_id, 50, "fresh", f"t:fresh:{member_id}", expires_at=now + timedelta(days=30))

    def act(i):
        if i < 2:
            with memberday_app.app_context():
                return ("expired", rewards.expire_due_lots(now, batch=3))
        member_id = ids[i % len(ids)]
        response = memberday_app.test_client().post(
            f"/api/v1/members/{member_id}/points", headers=bearer(operator_token),
            json={"points": -30, "reason": f"spend {i}"})
        return (response.status_code, member_id)

    results = run_concurrently(act, 22)
    with memberday_app.app_context():
        rewards.expire_due_lots(now + timedelta(seconds=1))  # whatever was due and not yet expired
        spends = [result for result in results if result[0] != "expired"]
        assert {status for status, _ in spends} <= {201, 409}
        for member_id in ids:
            ok = sum(1 for status, m in spends if m == member_id and status == 201)
            assert ok == 1  # two spends of 30 each, 50 left after expiry: one fits, whatever the order
            expiries = db.session.scalars(select(PointsEntry).where(PointsEntry.member_id == member_id,
                                                                    PointsEntry.kind == "expiry")).all()
            assert len(expiries) == 1 and expiries[0].points == -60
            assert db.session.get(Member, member_id).points_balance == 20
        _assert_ledger_consistent(ids)


def test_expiry_and_spends_on_sqlite(memberday_sqlite_app):
    now = utcnow()
    with memberday_sqlite_app.app_context():
        ids = _new_members(5)
        for member_id in ids:
            rewards.credit(member_id, 40, "old", f"t:old:{member_id}", expires_at=now - timedelta(days=1))
            rewards.credit(member_id, 60, "fresh", f"t:fresh:{member_id}", expires_at=now + timedelta(days=30))
            rewards.credit(member_id, 5, "later", f"t:later:{member_id}", expires_at=now + timedelta(days=60))
        assert rewards.expiry_parts(3) == 1  # SQLite writes one at a time: parts asked for run as one
        assert rewards.expire_due_lots(now, batch=2, parts=3) == 5
        assert rewards.expire_due_lots(now) == 0
        entry = rewards.debit(ids[0], 62, "spend", "t:spend")
        taken = dict(db.session.execute(select(PointsLot.source, PointsAllocation.points)
                                        .join(PointsLot, PointsLot.id == PointsAllocation.lot_id)
                                        .where(PointsAllocation.entry_id == entry.id)).all())
        assert taken == {f"t:fresh:{ids[0]}": 60, f"t:later:{ids[0]}": 2}
        # A spend finds its member's due lot itself, before the job does.
        rewards.credit(ids[1], 7, "soon", f"t:soon:{ids[1]}", expires_at=now + timedelta(minutes=1))
        rewards.credit(ids[1], 7, "sooner", "t:sooner", expires_at=now - timedelta(minutes=1))
        rewards.debit(ids[1], 10, "spend", "t:spend1")
        assert db.session.get(Member, ids[1], populate_existing=True).points_balance == 65 + 7 - 10  # the lapsed 7 are gone
        _assert_ledger_consistent(ids)


def test_a_member_with_ten_thousand_lots_spends_from_the_soonest_few(memberday_app, member):
    now = utcnow()
    lots = 10_000
    with memberday_app.app_context():
        # Ten thousand lots of 3 points; expiry dates shuffled against the ids (a hash of the id).
        db.session.execute(insert(PointsLot).from_select(
            ["member_id", "source", "points", "remaining", "status", "expires_at", "created_at"],
            select(text(f"{member['id']}"), text("'t:lot:' || k"), text("3"), text("3"), text("'active'"),
                   text("now() + (abs(hashint4(k)::bigint) % 5000) * interval '1 minute' + interval '1 day'"), text("now()"))
            .select_from(text(f"generate_series(1, {lots}) AS k"))))
        db.session.execute(insert(PointsEntry).from_select(
            ["member_id", "kind", "points", "pending_points", "reason", "source", "created_at"],
            select(text(f"{member['id']}"), text("'credit'"), text(f"{3 * lots}"), text("0"), text("'bulk'"),
                   text("'t:bulk'"), text("now()"))))
        db.session.execute(text(f"UPDATE members SET points_balance = {3 * lots} WHERE id = {member['id']}"))
        db.session.commit()
        expected = db.session.execute(select(PointsLot.id).where(PointsLot.member_id == member["id"])
                                      .order_by(PointsLot.expires_at, PointsLot.id).limit(84)).scalars().all()

        entry = rewards.debit(member["id"], 250, "a big spend", "t:big")  # 83 whole lots and 1 of the 84th
        taken = dict(db.session.execute(select(PointsAllocation.lot_id, PointsAllocation.points)
                                        .where(PointsAllocation.entry_id == entry.id)).all())
        assert taken == {**{lot_id: 3 for lot_id in expected[:83]}, expected[83]: 1}
        assert db.session.get(PointsLot, expected[83], populate_existing=True).remaining == 2
        assert db.session.scalar(select(func.count()).select_from(PointsLot).where(
            PointsLot.member_id == member["id"], PointsLot.remaining < 3)) == 84
        _assert_ledger_consistent([member["id"]])

        # What a spend reads: the member's spendable lots along their index, cut off by the LIMIT.
        plan = query_plan(db.session, rewards.spend_chunk(member["id"], 5))
        assert "ix_points_lots_spending_order" in plan and "Limit" in plan, plan
        assert "Sort" not in plan.replace("Incremental Sort", ""), plan
        due = query_plan(db.session, rewards.due_lots(now, (now - timedelta(days=1), 5)))
        assert "ix_points_lots_status_expires" in due, due


class PointsListener:
    from core.plugins import PluginInfo, hookimpl

    PLUGIN = PluginInfo(id="points_listener", name="Points listener")

    def __init__(self):
        self.seen = []

    @hookimpl
    def memberday_points_changed(self, member, entry):
        self.seen.append((member.id, entry.kind, entry.points, entry.source))


def test_a_listener_of_points_changes_hears_of_each_expiry(memberday_app):
    """With a plugin listening to ``memberday_points_changed``, the set-based expiry tells it of each entry."""
    from core.plugins.host import current_host

    now = utcnow()
    listener = PointsListener()
    with memberday_app.app_context():
        assert current_host().add(listener).status == "ok"
        ids = _new_members(3)
        for member_id in ids:
            rewards.credit(member_id, 9, "old", f"t:old:{member_id}", expires_at=now - timedelta(days=1))
        listener.seen.clear()
        assert rewards.expire_due_lots(now) == 3
    assert sorted(listener.seen) == [(member_id, "expiry", -9, f"t:old:{member_id}:expiry") for member_id in ids]


def test_coupon_expiry_finds_due_coupons_along_an_index(memberday_app, member):
    from core.rewards.models import Coupon

    now = utcnow()
    with memberday_app.app_context():
        template = rewards.create_template("Soon gone", valid_days=1)
        coupons = [rewards.issue_coupon(member["id"], template.id, source=f"t:coupon:{i}").id for i in range(3)]
        rewards.redeem_coupon(db.session.get(Coupon, coupons[0]).code, _Member(member["id"]))
        plan = query_plan(db.session, select(Coupon.id).where(Coupon.status == "issued", Coupon.expires_at <= now))
        assert "ix_coupons_status_expires" in plan, plan
        assert rewards.expire_due_coupons(now + timedelta(days=2)) == 2
        assert rewards.expire_due_coupons(now + timedelta(days=2)) == 0  # a second run changes nothing
        statuses = sorted(db.session.scalars(select(Coupon.status).execution_options(populate_existing=True)))
        assert statuses == ["expired", "expired", "redeemed"]


class _Member:
    """A member principal, as the API passes one (its own coupons, online)."""

    kind = "member"

    def __init__(self, member_id):
        self.id = member_id
        self.key = f"member:{member_id}"
