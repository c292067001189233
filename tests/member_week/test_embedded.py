"""The embedded default: the member week on SQLite, with jobs inline, from the calendar to the report."""
from datetime import datetime, timedelta, timezone


def test_a_week_runs_on_sqlite_from_snapshot_to_report(memberday_sqlite_app):
    from core.members.services import create_member
    from core.orders.services import report_paid_order
    from plugins.member_week import report, services

    app = memberday_sqlite_app
    now = datetime.now(timezone.utc)
    with app.app_context():
        members = [create_member(f"Member {n}")[0].id for n in range(20)]
        week = services.create_week({"name": "Embedded week", "starts_at": now - timedelta(hours=1),
                                     "ends_at": now + timedelta(days=3), "announce_at": now - timedelta(hours=2),
                                     "points_multiplier": 2, "audience": {}, "holdout_percent": 20,
                                     "benefits": [{"title": "Bonus", "kind": "points", "points": 10}]},
                                    now=now - timedelta(hours=3))
        services.tick()
        week = services.get_week(week.id)
        assert (week.status, week.audience_size, week.notified_count) == ("running", 20, week.participants_count)
        inside = next(m for m in members if services.participant(week.id, m) is not None)
        held = [m for m in members if services.participant(week.id, m) is None]
        assert all((services.holdout_bucket(week.holdout_seed, m) < 2000) for m in held)
        order, _ = report_paid_order("SQLITE-1", inside, 100)
        assert order.points_earned == 200
        assert services.claim(week.id, inside, week.benefits[0].id).points == 10
        # A second claim is the rule's 409, not a 500, although SQLite names no constraint.
        import pytest

        from core.errors import Conflict

        with pytest.raises(Conflict) as second:
            services.claim(week.id, inside, week.benefits[0].id)
        assert second.value.code == "already_claimed"
        figures = report.compute(week.id)
        assert figures["participants"] == week.participants_count
        assert figures["engaged"]["members"] == 1 and figures["engaged"]["aov"] == "100.00"
