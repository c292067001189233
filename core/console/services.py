"""The figures the console's dashboard shows, each computed in SQL over the whole table.

Nothing here moves value: points, orders and coupons change only through their
own domain's services, which the console's pages call like the API does.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, select

from core.database import utcnow
from core.extensions import db
from core.members.models import Member
from core.orders.models import Order
from core.rewards.models import PointsLot

DAYS = 30


def _brand_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BRAND_TIMEZONE"])


def local_day(column, now: datetime):
    """SQL for the calendar day (YYYY-MM-DD) of a UTC timestamp in the brand's time zone."""
    zone = current_app.config["BRAND_TIMEZONE"]
    if db.engine.dialect.name == "postgresql":
        return func.to_char(func.timezone(zone, column), "YYYY-MM-DD")
    # SQLite keeps naive UTC: shift by the zone's offset now (the brand's zone rarely moves in a month).
    offset = int(now.astimezone(ZoneInfo(zone)).utcoffset().total_seconds())
    return func.strftime("%Y-%m-%d", column, f"{offset:+d} seconds")


def points_liability(now: datetime | None = None) -> dict:
    """Points members hold (spendable and held) and what expires within the next 30 days."""
    now = now or utcnow()
    balance, pending, members = db.session.execute(
        select(func.coalesce(func.sum(Member.points_balance), 0), func.coalesce(func.sum(Member.points_pending), 0),
               func.count(Member.id))).one()
    expiring = db.session.scalar(
        select(func.coalesce(func.sum(PointsLot.remaining), 0))
        .where(PointsLot.status == "active", PointsLot.expires_at > now,
               PointsLot.expires_at <= now + timedelta(days=DAYS)))
    return {"members": members, "outstanding": int(balance), "pending": int(pending), "expiring": int(expiring)}


def orders_by_day(now: datetime | None = None, days: int = DAYS) -> dict:
    """Paid (not refunded) orders and revenue per day in the brand's time zone, over the last ``days`` days."""
    now = now or utcnow()
    today = now.astimezone(_brand_zone()).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), tzinfo=_brand_zone())
    day = local_day(Order.paid_at, now).label("day")
    rows = db.session.execute(
        select(day, func.count(Order.id), func.coalesce(func.sum(Order.amount), 0))
        .where(Order.status == "paid", Order.paid_at >= since).group_by(day)).all()
    found = {row[0]: (row[1], Decimal(row[2])) for row in rows}
    labels = [(first + timedelta(days=i)).isoformat() for i in range(days)]
    counts = [found.get(label, (0, Decimal(0)))[0] for label in labels]
    revenue = [found.get(label, (0, Decimal(0)))[1].quantize(Decimal("0.01")) for label in labels]
    return {"days": labels, "orders": counts, "revenue": [str(value) for value in revenue],
            "total_orders": sum(counts), "total_revenue": str(sum(revenue, Decimal(0)))}
