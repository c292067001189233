"""Releases in batches: a refunded order inside a batch is reversed, the rest rewarded once, in few
statements; overlapping runs in small batches share the work and book each reward once."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import event, func, select

from core.testing import run_concurrently

from referral_helpers import join, points, referrals, report_order, run_job

PROGRAMME = dict(qualify_on="first_order", min_order_amount="100.00", hold_days=14, referrer_points=200,
                 referee_points=100, max_referrals_per_day=None, max_referrals_per_month=None,
                 milestones=[{"count": 2, "points": 50}, {"count": 5, "points": 500}])


def switch(client, admin, enabled):
    response = client.patch("/api/v1/plugins/referral", json={"enabled": enabled}, headers=admin)
    assert response.status_code == 200, response.get_json()


def _friends(client, admin, referrer, count, prefix="Friend"):
    friends = []
    for i in range(count):
        friend = join(client, f"{prefix} {i}", referral_code=referrer["code"])
        assert report_order(client, admin, f"{prefix}-{i}", friend["id"], "300.00").status_code == 201
        friends.append(friend)
    return friends


def past_every_hold(clock) -> None:
    """Just past the hold of every referral so far: their orders were reported by the real clock,
    which moved while they were (seconds, on a busy machine), so the test clock is set from it."""
    clock.set(datetime.now(timezone.utc) + timedelta(days=PROGRAMME["hold_days"], seconds=1))


def _count_statements(app):
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        from core.extensions import db

        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    return statements, lambda: event.remove(engine, "before_cursor_execute", count)


def test_a_batch_with_a_refunded_order_reverses_that_one_and_rewards_the_rest_once(
        memberday_app, memberday_client, admin, referrer, configure, clock):
    configure(**PROGRAMME)
    friends = _friends(memberday_client, admin, referrer, 6)
    # The third friend's order is refunded while the plugin is off: only the release can notice.
    switch(memberday_client, admin, False)
    assert memberday_client.post("/api/v1/orders/Friend-2/refund", headers=admin).status_code == 200
    switch(memberday_client, admin, True)
    past_every_hold(clock)

    statements, stop = _count_statements(memberday_app)
    try:
        assert run_job(memberday_app, "referral.release_due", clock.now) == {"released": 5}
    finally:
        stop()
    assert run_job(memberday_app, "referral.release_due", clock.now) == {"released": 0}

    by_referee = {r["referee_id"]: r for r in referrals(memberday_app)}
    refunded = by_referee[friends[2]["id"]]
    assert (refunded["status"], refunded["reason"]) == ("reversed", "refunded_during_hold")
    assert all(by_referee[f["id"]]["status"] == "rewarded" for i, f in enumerate(friends) if i != 2)
    # Five friends' 200 each, and the milestones of 2 and 5 friends, once each.
    assert points(memberday_client, admin, referrer["id"]) == (5 * 200 + 50 + 500, 0)
    assert points(memberday_client, admin, friends[0]["id"]) == (400, 0)
    assert points(memberday_client, admin, friends[2]["id"]) == (0, 0)
    with memberday_app.app_context():
        from core.extensions import db
        from core.rewards.models import PointsEntry

        releases = db.session.scalar(select(func.count(PointsEntry.id))
                                     .where(PointsEntry.source.like("referral:%:release")))
        milestones = db.session.scalars(select(PointsEntry.source)
                                        .where(PointsEntry.source.like("referral:milestone:%"))).all()
    assert releases == 10
    assert sorted(milestones) == [f"referral:milestone:{referrer['id']}:2", f"referral:milestone:{referrer['id']}:5"]
    # Far fewer statements than one transaction of ~26 per referral (the rollup and the two
    # notifications of each referral are most of what is left).
    assert len(statements) < 26 * 5, len(statements)


def test_overlapping_runs_in_small_batches_reward_each_referral_once(
        memberday_app, memberday_client, admin, referrer, configure, clock):
    configure(**PROGRAMME)
    friends = _friends(memberday_client, admin, referrer, 9)
    past_every_hold(clock)

    def release(_):
        from plugins.referral.services import release_due

        with memberday_app.app_context():
            return release_due(clock.now, batch=2)["released"]

    assert sum(run_concurrently(release, 3)) == 9
    assert {r["status"] for r in referrals(memberday_app)} == {"rewarded"}
    assert points(memberday_client, admin, referrer["id"]) == (9 * 200 + 50 + 500, 0)
    for friend in friends:
        assert points(memberday_client, admin, friend["id"]) == (400, 0)
