"""The funnel, members' stats and the leaderboard come from daily rollups that are exactly what
counting the clicks and referrals gives, at every moment, on PostgreSQL and SQLite."""
import random
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from core.database import transaction, utcnow
from core.extensions import db
from core.members.models import Member
from core.testing import run_concurrently
from plugins.referral import rollup, services
from plugins.referral.models import COUNTED, QUALIFIED, Referral, ReferralClick, ReferralDaily, ReferralDailyTotal

PERIODS = ("day", "week", "month", "all")
REASONS = ("self_referral", "already_member", "daily_limit")


@pytest.fixture(params=["postgresql", "sqlite"])
def app(request):
    if request.param == "postgresql":
        return request.getfixturevalue("memberday_app")
    return request.getfixturevalue("memberday_sqlite_app")


def counted(period):
    """The funnel's counts as the rows give them (the queries the funnel ran before the rollup)."""
    since = services.period_start(period)

    def count(model, *conditions, column=None):
        query = select(func.count(model.id)).where(*conditions)
        if since is not None:
            query = query.where((column if column is not None else model.created_at) >= since)
        return db.session.scalar(query) or 0

    rejected = select(Referral.reason, func.count(Referral.id)).where(Referral.status == "rejected")
    if since is not None:
        rejected = rejected.where(Referral.created_at >= since)
    return {
        "clicks": count(ReferralClick, ReferralClick.source == "link"),
        "scans": count(ReferralClick, ReferralClick.source == "qr"),
        "signups": count(Referral, Referral.status.in_(COUNTED)),
        "rejected_by_reason": dict(db.session.execute(rejected.group_by(Referral.reason)).all()),
        "qualified": count(Referral, Referral.qualified_at.is_not(None), column=Referral.qualified_at),
        "rewarded": count(Referral, Referral.status == "rewarded", column=Referral.rewarded_at),
        "reversed": count(Referral, Referral.status == "reversed", column=Referral.reversed_at),
    }


def ranked(period, limit=10):
    """The leaderboard as the rows give it (the query it ran before the rollup)."""
    since = services.period_start(period)
    n = func.count(Referral.id)
    query = (select(Referral.referrer_id, n).where(Referral.status.in_(QUALIFIED)).group_by(Referral.referrer_id)
             .order_by(n.desc(), func.min(Referral.qualified_at), Referral.referrer_id).limit(limit))
    if since is not None:
        query = query.where(Referral.qualified_at >= since)
    return [tuple(row) for row in db.session.execute(query)]


def stats_counted(member_id):
    clicks = dict(db.session.execute(select(ReferralClick.source, func.count()).where(
        ReferralClick.referrer_id == member_id).group_by(ReferralClick.source)).all())
    statuses = dict(db.session.execute(select(Referral.status, func.count()).where(
        Referral.referrer_id == member_id).group_by(Referral.status)).all())
    return {"clicks": clicks.get("link", 0), "scans": clicks.get("qr", 0),
            "signups": sum(statuses.get(s, 0) for s in COUNTED),
            "qualified": sum(statuses.get(s, 0) for s in QUALIFIED), "rewarded": statuses.get("rewarded", 0)}


def assert_rollups_match_the_rows(referrer_ids):
    db.session.expire_all()
    for period in PERIODS:
        funnel = services.funnel(period)
        assert {key: funnel[key] for key in counted(period)} == counted(period), period
        board = services.leaderboard(period, limit=10, reveal=True)["items"]
        assert [(item["member_id"], item["referrals"]) for item in board] == ranked(period), period
    for referrer_id in referrer_ids:
        assert services.member_stats(referrer_id) == stats_counted(referrer_id)
    # And the rows kept write by write are the rows a rebuild from scratch gives.
    kept = _rollup_rows()
    with transaction():
        rollup.rebuild(db.session.connection())
        assert _rollup_rows() == kept
        db.session.rollback()


def _rollup_rows():
    daily = {(r.referrer_id, r.day, r.metric): (r.count, r.first_at) for r in db.session.scalars(select(ReferralDaily))
             if r.count}
    totals = {}
    for row in db.session.scalars(select(ReferralDailyTotal)):
        totals[(row.day, row.metric)] = totals.get((row.day, row.metric), 0) + row.count
    return daily, {key: n for key, n in totals.items() if n}


def test_rollups_follow_every_click_and_referral_change_across_days(app):
    rnd = random.Random(11)
    now = utcnow()
    # Instants on both sides of the brand's midnights (16:00 UTC for +08:00), over ten weeks.
    moments = [now - timedelta(days=d, hours=h, minutes=m) for d in range(0, 70, 3) for h, m in
               ((0, 0), (0, 5), (7, 59), (8, 1), (15, 0))]
    moments = [moment for moment in moments if moment <= now]
    with app.app_context():
        with transaction() as session:
            members = [Member(name=f"R{i}", tags=[]) for i in range(160)]
            session.add_all(members)
        referrers = [m.id for m in members[:12]]
        referees = [m.id for m in members[12:]]
        with transaction() as session:
            for _ in range(300):
                session.add(ReferralClick(referrer_id=rnd.choice(referrers), source=rnd.choice(["link", "qr"]),
                                          created_at=rnd.choice(moments)))
        with transaction() as session:
            for referee in referees:
                created = rnd.choice(moments)
                status = rnd.choice(["pending", "pending", "rejected", "held", "rewarded", "reversed"])
                qualified = created + timedelta(hours=rnd.choice([0, 5, 30])) if status in ("held", "rewarded", "reversed") \
                    else None
                qualified = min(qualified, now) if qualified else None
                session.add(Referral(
                    referrer_id=rnd.choice(referrers), referee_id=referee, code="C", status=status,
                    reason=rnd.choice(REASONS) if status == "rejected" else None, created_at=created,
                    qualified_at=qualified, rewarded_at=min(qualified + timedelta(days=1), now) if status == "rewarded" else None,
                    reversed_at=now if status == "reversed" else None))
        assert_rollups_match_the_rows(referrers)

        # Referrals move on, one flush at a time and many at once: qualify, reward, reverse, reject.
        for step in range(4):
            with transaction():
                rows = db.session.scalars(select(Referral).order_by(Referral.id)).all()
                for referral in rnd.sample(rows, 25):
                    if referral.status == "pending":
                        referral.status, referral.qualified_at = "held", rnd.choice(moments[:8])
                    elif referral.status == "held":
                        referral.status, referral.rewarded_at = "rewarded", now
                    elif referral.status == "rewarded":
                        referral.status, referral.reversed_at, referral.reason = "reversed", now, "refunded"
                    elif referral.status == "rejected":
                        referral.reason = rnd.choice(REASONS)
                    if step % 2:
                        db.session.flush()
            assert_rollups_match_the_rows(referrers)

        # A change that rolls back leaves the rollup as it was.
        before = _rollup_rows()
        with pytest.raises(RuntimeError), transaction():
            db.session.add(ReferralClick(referrer_id=referrers[0], source="link"))
            db.session.scalars(select(Referral).where(Referral.status == "held")).first().status = "reversed"
            db.session.flush()
            raise RuntimeError("the request failed")
        assert _rollup_rows() == before


def test_concurrent_clicks_and_joins_are_each_counted_once(memberday_app):
    from referral_helpers import join

    client = memberday_app.test_client()
    referrer = join(client, "Busy Referrer")
    code = client.get(f"/api/v1/members/{referrer['id']}/referral",
                      headers={"Authorization": f"Bearer {referrer['token']}"}).get_json()["code"]

    def visit_and_join(i):
        own = memberday_app.test_client()
        own.get(f"/r/{code}" + ("/qr.png" if i % 3 == 0 else ""))
        own.get(f"/r/{code}?src=qr" if i % 4 == 0 else f"/r/{code}")
        if i % 2 == 0:
            join(own, f"Friend {i}", referral_code=code)

    run_concurrently(visit_and_join, 12)
    with memberday_app.app_context():
        assert_rollups_match_the_rows([referrer["id"]])
        assert services.member_stats(referrer["id"])["signups"] == 6


def test_rebuild_rollups_recounts_the_days_after_a_time_zone_change(memberday_app):
    from datetime import datetime, timezone

    with memberday_app.app_context():
        with transaction() as session:
            referrer = Member(name="Late Clicker", tags=[])
            session.add(referrer)
            session.flush()
            # 20:00 UTC is already tomorrow in Taipei, still today in London.
            session.add(ReferralClick(referrer_id=referrer.id, source="link",
                                      created_at=datetime(2026, 3, 1, 20, 0, tzinfo=timezone.utc)))
        referrer_id = referrer.id
        days = lambda: {row.day.isoformat() for row in db.session.scalars(select(ReferralDaily))}  # noqa: E731
        assert days() == {"2026-03-02"}
    memberday_app.config["BRAND_TIMEZONE"] = "Europe/London"
    result = memberday_app.test_cli_runner().invoke(args=["referral", "rebuild-rollups"])
    assert result.exit_code == 0, result.output
    with memberday_app.app_context():
        assert days() == {"2026-03-01"}
        assert_rollups_match_the_rows([referrer_id])
