"""Daily rollups of the referral programme, for the funnel, members' stats and the leaderboard.

Counting every click and referral on each read grows with the programme; these tables hold,
per brand-local day, how many clicks, scans, sign-ups, ... there were — per referrer
(``referral_daily``) and for the whole programme (``referral_daily_totals``).

They are kept by the writes themselves: when a flush adds a click or changes a referral,
the difference it makes to each day's counts is added in the same transaction, so the
rollup commits or rolls back with the rows it counts and is never behind them. ``rebuild``
recomputes it from the rows (after a change of ``BRAND_TIMEZONE``, or to check it).
"""
from __future__ import annotations

from collections import Counter
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.database import UTCDateTime
from core.extensions import db
from plugins.referral.models import COUNTED, QUALIFIED, Referral, ReferralClick, ReferralDaily, ReferralDailyTotal

SHARDS = 8  # programme-wide rows per day and metric: concurrent clicks do not all wait on one row

# Metrics: clicks, scans (by visit day); signups, rejected:<reason> (by sign-up day, as the referral
# stands now); qualified (by qualifying day); rewarded, reversed (by that day, as it stands now);
# standing (held or rewarded now, by qualifying day: what the leaderboard ranks).


def brand_day(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(current_app.config["BRAND_TIMEZONE"])).date()


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The UTC instants a brand-local day starts and ends at."""
    zone = ZoneInfo(current_app.config["BRAND_TIMEZONE"])
    return datetime.combine(day, time(), zone), datetime.combine(day + timedelta(days=1), time(), zone)


def referral_counts(status, reason, created_at, qualified_at, rewarded_at, reversed_at) -> Counter:
    """What one referral, in this state, adds to each (day, metric)."""
    counts = Counter()
    if created_at is not None:
        if status in COUNTED:
            counts[(brand_day(created_at), "signups")] += 1
        elif status == "rejected":
            counts[(brand_day(created_at), f"rejected:{reason or ''}")] += 1
    if qualified_at is not None:
        counts[(brand_day(qualified_at), "qualified")] += 1
        if status in QUALIFIED:
            counts[(brand_day(qualified_at), "standing")] += 1
    if status == "rewarded" and rewarded_at is not None:
        counts[(brand_day(rewarded_at), "rewarded")] += 1
    if status == "reversed" and reversed_at is not None:
        counts[(brand_day(reversed_at), "reversed")] += 1
    return counts


_FIELDS = ("status", "reason", "created_at", "qualified_at", "rewarded_at", "reversed_at")


def _state(referral: Referral, *, before: bool) -> tuple:
    """The referral's fields now, or as they were before this flush changed them."""
    if not before:
        return tuple(getattr(referral, name) for name in _FIELDS)
    values = []
    for name in _FIELDS:
        history = sa.inspect(referral).attrs[name].history
        values.append(history.deleted[0] if history.deleted else getattr(referral, name))
    return tuple(values)


@event.listens_for(Session, "after_flush")
def _keep_rollups(session, flush_context) -> None:
    changes: Counter = Counter()  # (referrer_id, day, metric) -> difference

    def add(referrer_id, counts: Counter, sign: int):
        for (day, metric), n in counts.items():
            changes[(referrer_id, day, metric)] += sign * n

    for obj in session.new:
        if isinstance(obj, ReferralClick):
            changes[(obj.referrer_id, brand_day(obj.created_at), "scans" if obj.source == "qr" else "clicks")] += 1
        elif isinstance(obj, Referral):
            add(obj.referrer_id, referral_counts(*_state(obj, before=False)), 1)
    for obj in session.dirty:
        if isinstance(obj, Referral) and session.is_modified(obj, include_collections=False):
            add(obj.referrer_id, referral_counts(*_state(obj, before=True)), -1)
            add(obj.referrer_id, referral_counts(*_state(obj, before=False)), 1)
    for obj in session.deleted:
        if isinstance(obj, Referral):
            add(obj.referrer_id, referral_counts(*_state(obj, before=True)), -1)
    changes = Counter({key: n for key, n in changes.items() if n})
    if changes:
        _apply(session.connection(), changes)


def _upsert(connection, table, index_elements, rows) -> None:
    """Add each row's count to the row with its key (inserting it the first time)."""
    insert = (postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert)(table)
    statement = insert.on_conflict_do_update(
        index_elements=index_elements, set_={"count": table.c["count"] + insert.excluded["count"]})
    connection.execute(statement, rows)


def _apply(connection, changes: Counter) -> None:
    daily, totals = ReferralDaily.__table__, ReferralDailyTotal.__table__
    rows = [{"referrer_id": r, "day": d, "metric": m, "count": n} for (r, d, m), n in sorted(changes.items())]
    _upsert(connection, daily, ["referrer_id", "day", "metric"], rows)
    by_day = Counter()
    for (referrer_id, day, metric), n in changes.items():
        by_day[(day, metric, referrer_id % SHARDS)] += n
    rows = [{"day": d, "metric": m, "shard": s, "count": n} for (d, m, s), n in sorted(by_day.items()) if n]
    if rows:
        _upsert(connection, totals, ["day", "metric", "shard"], rows)
    for referrer_id, day in sorted({(r, d) for r, d, m in changes if m == "standing"}):
        # The leaderboard breaks ties by who got there first: keep each day's earliest standing referral.
        start, end = day_bounds(day)
        first = (select(func.min(Referral.qualified_at))
                 .where(Referral.referrer_id == referrer_id, Referral.status.in_(QUALIFIED),
                        Referral.qualified_at >= start, Referral.qualified_at < end).scalar_subquery())
        connection.execute(daily.update().where(
            daily.c.referrer_id == referrer_id, daily.c.day == day, daily.c.metric == "standing")
            .values(first_at=first))


def rebuild(connection) -> None:
    """Recompute both rollups from the clicks and referrals (in the caller's transaction)."""
    daily, totals = ReferralDaily.__table__, ReferralDailyTotal.__table__
    clicks, referrals = ReferralClick.__table__, Referral.__table__
    connection.execute(daily.delete())
    connection.execute(totals.delete())
    counts: Counter = Counter()
    first: dict = {}
    for referrer_id, source, created_at in connection.execute(
            select(clicks.c.referrer_id, clicks.c.source, clicks.c.created_at).execution_options(yield_per=10_000)):
        counts[(referrer_id, brand_day(created_at), "scans" if source == "qr" else "clicks")] += 1
    for referrer_id, *state in connection.execute(
            select(referrals.c.referrer_id, *(referrals.c[f] for f in _FIELDS)).execution_options(yield_per=10_000)):
        for (day, metric), n in referral_counts(*state).items():
            counts[(referrer_id, day, metric)] += n
            if metric == "standing":
                key, qualified_at = (referrer_id, day, metric), state[_FIELDS.index("qualified_at")]
                first[key] = min(first.get(key, qualified_at), qualified_at)
    rows = [{"referrer_id": r, "day": d, "metric": m, "count": n, "first_at": first.get((r, d, m))}
            for (r, d, m), n in sorted(counts.items())]
    by_day = Counter()
    for (referrer_id, day, metric), n in counts.items():
        by_day[(day, metric, referrer_id % SHARDS)] += n
    for start in range(0, len(rows), 10_000):
        connection.execute(daily.insert(), rows[start:start + 10_000])
    if by_day:
        connection.execute(totals.insert(), [{"day": d, "metric": m, "shard": s, "count": n}
                                             for (d, m, s), n in sorted(by_day.items())])


def totals_by_metric(model, *conditions) -> dict[str, int]:
    """The sum of each metric over the rollup rows that meet ``conditions``."""
    rows = db.session.execute(select(model.metric, func.sum(model.count)).where(*conditions).group_by(model.metric))
    return {metric: int(n) for metric, n in rows}
