"""What a member week did, computed in SQL aggregates and stored with ``computed_at``.

One grouped query over the week's snapshot gives, per (held out, engaged, stage at the snapshot),
the number of members, those with a paid order in the window, their orders, their revenue and the
sum of squares of their revenue per member; one more gives the baseline when there is no holdout.
Everything else is arithmetic on those few rows -- never a loop over members.

Intervals (95 %):
* the uplift in conversion rate is a difference of two proportions, with the normal
  approximation (Wald): ``d ± z·sqrt(p1(1-p1)/n1 + p2(1-p2)/n2)``, z = 1.95996;
* the uplift in revenue per member is a difference of two means (every member counts, a member
  with no order with 0), with Welch's t interval: ``d ± t(0.975, ν)·sqrt(s1²/n1 + s2²/n2)``, ν by
  Welch–Satterthwaite -- it does not assume the two groups vary alike.
Refunded orders do not count: only orders whose status is ``paid``.
"""
from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from statistics import NormalDist

import sqlalchemy as sa
from sqlalchemy import and_, func, select

from core.database import transaction, utcnow
from core.extensions import db
from core.members.models import Member
from core.orders.models import Order
from plugins.member_week.models import AudienceMember, Engagement, MemberWeek, Report
from plugins.member_week.services import get_week, record_mall_redemptions

Z95 = NormalDist().inv_cdf(0.975)
CENT = Decimal("0.01")


@dataclass
class Group:
    members: int = 0
    converted: int = 0
    prior_converted: int = 0   # with a paid order in the equally long window before
    orders: int = 0
    revenue: Decimal = Decimal(0)
    revenue_squares: Decimal = Decimal(0)

    def __iadd__(self, other: "Group") -> "Group":
        self.members += other.members
        self.converted += other.converted
        self.prior_converted += other.prior_converted
        self.orders += other.orders
        self.revenue += other.revenue
        self.revenue_squares += other.revenue_squares
        return self

    @property
    def conversion_rate(self) -> float | None:
        return self.converted / self.members if self.members else None

    @property
    def prior_rate(self) -> float | None:
        return self.prior_converted / self.members if self.members else None

    @property
    def aov(self) -> Decimal | None:
        return self.revenue / self.orders if self.orders else None

    @property
    def revenue_per_member(self) -> Decimal | None:
        return self.revenue / self.members if self.members else None

    @property
    def revenue_variance(self) -> float | None:
        """The sample variance of revenue per member (members without an order count as 0)."""
        if self.members < 2:
            return None
        mean = self.revenue / self.members
        return float((self.revenue_squares - self.members * mean * mean) / (self.members - 1))


def _sum(groups) -> Group:
    total = Group()
    for group in groups:
        total += group
    return total


def _money(value: Decimal | float | None) -> str | None:
    if value is None:
        return None
    return str(Decimal(str(value)).quantize(CENT, rounding=ROUND_HALF_UP))


def _rate(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def proportion_difference_ci(c1: int, n1: int, c2: int, n2: int, z: float = Z95) -> tuple[float, float, float] | None:
    """p1 - p2 and its interval by the normal approximation; None when a group is empty."""
    if not n1 or not n2:
        return None
    p1, p2 = c1 / n1, c2 / n2
    half = z * math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    difference = p1 - p2
    return difference, difference - half, difference + half


def welch_ci(mean1: float, var1: float, n1: int, mean2: float, var2: float, n2: int,
             confidence: float = 0.95) -> tuple[float, float, float] | None:
    """mean1 - mean2 and Welch's t interval; None when a group has fewer than two members."""
    # scipy.special's inverse of Student's t distribution: a third of the import time of scipy.stats.
    from scipy.special import stdtrit

    if n1 < 2 or n2 < 2:
        return None
    a, b = var1 / n1, var2 / n2
    difference = mean1 - mean2
    se = math.sqrt(a + b)
    if se == 0:
        return difference, difference, difference
    df = (a + b) ** 2 / (a * a / (n1 - 1) + b * b / (n2 - 1))
    half = float(stdtrit(df, 0.5 + confidence / 2)) * se
    return difference, difference - half, difference + half


def _groups(week: MemberWeek) -> dict[tuple[bool, bool, str], Group]:
    start, end = week.starts_at, week.ends_at
    before = start - (end - start)
    audience = select(AudienceMember.member_id).where(AudienceMember.week_id == week.id)
    engaged = (select(Engagement.member_id)
               .where(Engagement.week_id == week.id, Engagement.first_at >= start, Engagement.first_at < end)
               .distinct().subquery())
    paid = and_(Order.status == "paid", Order.member_id.in_(audience))
    current = (select(Order.member_id, func.count().label("orders"), func.sum(Order.amount).label("revenue"))
               .where(paid, Order.paid_at >= start, Order.paid_at < end).group_by(Order.member_id).subquery())
    prior = (select(Order.member_id).where(paid, Order.paid_at >= before, Order.paid_at < start)
             .distinct().subquery())
    is_engaged = engaged.c.member_id.is_not(None).label("engaged")
    rows = db.session.execute(
        select(AudienceMember.held_out, is_engaged, AudienceMember.stage, func.count(),
               func.count(current.c.member_id), func.count(prior.c.member_id),
               func.coalesce(func.sum(current.c.orders), 0), func.coalesce(func.sum(current.c.revenue), 0),
               func.coalesce(func.sum(current.c.revenue * current.c.revenue), 0))
        .select_from(AudienceMember)
        .outerjoin(engaged, engaged.c.member_id == AudienceMember.member_id)
        .outerjoin(current, current.c.member_id == AudienceMember.member_id)
        .outerjoin(prior, prior.c.member_id == AudienceMember.member_id)
        .where(AudienceMember.week_id == week.id)
        .group_by(AudienceMember.held_out, is_engaged, AudienceMember.stage)).all()
    return {(bool(held_out), bool(engaged_), stage): Group(members, converted, prior_converted, int(orders),
                                                           Decimal(revenue), Decimal(squares))
            for held_out, engaged_, stage, members, converted, prior_converted, orders, revenue, squares in rows}


def _prior_prospect_rate(week: MemberWeek) -> float | None:
    """Without a holdout: of the audience's members who were prospects when the window before began
    (joined before it, no paid order yet), the share whose first paid order fell in that window."""
    start, end = week.starts_at, week.ends_at
    before = start - (end - start)
    first = (select(Order.member_id, func.min(Order.paid_at).label("first_paid"))
             .where(Order.status == "paid",
                    Order.member_id.in_(select(AudienceMember.member_id).where(AudienceMember.week_id == week.id)))
             .group_by(Order.member_id).subquery())
    members, converted = db.session.execute(
        select(func.count(), func.count().filter(and_(first.c.first_paid >= before, first.c.first_paid < start)))
        .select_from(AudienceMember)
        .join(Member, Member.id == AudienceMember.member_id)
        .outerjoin(first, first.c.member_id == AudienceMember.member_id)
        .where(AudienceMember.week_id == week.id, Member.created_at < before,
               sa.or_(first.c.first_paid.is_(None), first.c.first_paid >= before))).one()
    return converted / members if members else None


def compute(week_id: int, now: datetime | None = None) -> dict:
    """Compute a week's report from the database and store it (the job, and an operator's refresh)."""
    week = get_week(week_id)
    record_mall_redemptions(week)
    groups = _groups(week)
    participants = _sum(g for (held_out, _, _), g in groups.items() if not held_out)
    holdout = _sum(g for (held_out, _, _), g in groups.items() if held_out)
    engaged = _sum(g for (held_out, e, _), g in groups.items() if not held_out and e)
    not_engaged = _sum(g for (held_out, e, _), g in groups.items() if not held_out and not e)
    prospects = _sum(g for (held_out, _, stage), g in groups.items() if not held_out and stage == "prospect")
    held_prospects = _sum(g for (held_out, _, stage), g in groups.items() if held_out and stage == "prospect")
    at_risk = _sum(g for (held_out, _, stage), g in groups.items() if not held_out and stage == "at_risk")
    held_at_risk = _sum(g for (held_out, _, stage), g in groups.items() if held_out and stage == "at_risk")
    has_holdout = holdout.members > 0

    baseline = held_prospects.conversion_rate if has_holdout else _prior_prospect_rate(week)
    activity = _ratio(at_risk.conversion_rate,
                      held_at_risk.conversion_rate if has_holdout else at_risk.prior_rate)

    conversion = proportion_difference_ci(participants.converted, participants.members,
                                          holdout.converted, holdout.members)
    revenue = None
    if participants.members >= 2 and holdout.members >= 2:
        revenue = welch_ci(float(participants.revenue_per_member), participants.revenue_variance,
                           participants.members, float(holdout.revenue_per_member), holdout.revenue_variance,
                           holdout.members)
    figures = {
        "week_id": week.id,
        "window": {"starts_at": week.starts_at.isoformat(), "ends_at": week.ends_at.isoformat()},
        "participants": participants.members,
        "held_out": holdout.members,
        "engaged": {"members": engaged.members, "conversion_rate": _rate(engaged.conversion_rate),
                    "aov": _money(engaged.aov)},
        "not_engaged": {"members": not_engaged.members, "conversion_rate": _rate(not_engaged.conversion_rate),
                        "aov": _money(not_engaged.aov)},
        "holdout": {"members": holdout.members, "conversion_rate": _rate(holdout.conversion_rate),
                    "aov": _money(holdout.aov), "revenue_per_member": _money(holdout.revenue_per_member)},
        "participants_revenue_per_member": _money(participants.revenue_per_member),
        "prospects": {"count": prospects.members, "converted": prospects.converted,
                      "conversion_rate": _rate(prospects.conversion_rate), "baseline_rate": _rate(baseline)},
        "at_risk": {"count": at_risk.members, "returned": at_risk.converted,
                    "activity_multiple": _rate(activity)},
        "uplift": {
            "conversion_rate": _rate(conversion[0]) if conversion else None,
            "conversion_rate_ci95": [_rate(conversion[1]), _rate(conversion[2])] if conversion else None,
            "revenue_per_member": _money(revenue[0]) if revenue else None,
            "revenue_per_member_ci95": [_money(revenue[1]), _money(revenue[2])] if revenue else None,
        },
        "methods": {"conversion_rate_ci95": "normal approximation for a difference of two proportions",
                    "revenue_per_member_ci95": "Welch's t interval for a difference of two means"},
    }
    computed_at = now or utcnow()
    with transaction():
        row = db.session.get(Report, week.id, with_for_update=True, populate_existing=True)
        if row is None:
            db.session.add(Report(week_id=week.id, figures=figures, computed_at=computed_at))
        else:
            row.figures, row.computed_at = figures, computed_at
    return dict(figures, computed_at=computed_at)


def stored(week_id: int) -> dict:
    """The report as last computed, computing it the first time it is asked for."""
    get_week(week_id)
    row = db.session.get(Report, week_id)
    if row is None:
        return compute(week_id)
    return dict(row.figures, computed_at=row.computed_at)


def refresh_due(now: datetime | None = None, days_after: int = 30) -> int:
    """Recompute the report of every week running, or ended within ``days_after`` days (the periodic job)."""
    from datetime import timedelta

    now = now or utcnow()
    week_ids = db.session.scalars(select(MemberWeek.id).where(
        MemberWeek.status.in_(("running", "ended")), MemberWeek.starts_at <= now,
        MemberWeek.ends_at > now - timedelta(days=days_after))).all()
    for week_id in week_ids:
        compute(week_id, now)
    return len(week_ids)


def _flatten(prefix: str, value, rows: list) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, item, rows)
    elif isinstance(value, list):
        for name, item in zip(("low", "high"), value):
            rows.append((f"{prefix}.{name}", item))
    else:
        rows.append((prefix, value))


def as_csv(figures: dict) -> str:
    """The same figures as CSV: one ``figure,value`` row each (intervals as ``.low`` and ``.high``)."""
    rows: list = []
    _flatten("", {key: value for key, value in figures.items() if key != "computed_at"}, rows)
    computed_at = figures["computed_at"]
    rows.append(("computed_at", computed_at.isoformat() if isinstance(computed_at, datetime) else computed_at))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("figure", "value"))
    for name, value in rows:
        writer.writerow((name, "" if value is None else value))
    return out.getvalue()
