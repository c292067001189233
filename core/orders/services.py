"""Paid and refunded orders: points earning, lifecycle dates, and the order events."""
from __future__ import annotations

import math
from datetime import datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from core.database import transaction, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.extensions import db
from core.i18n import N_, _, stored_template
from core.members.models import Member
from core.orders.models import Order
from core.plugins.host import current_host, emit
from core.rewards import services as rewards

# Ledger reasons are stored in English and shown in the reader's language (core.i18n.translate_stored).
# Translators: ledger reason
ORDER_REASON = stored_template(N_("Order %(order)s"))
# Translators: ledger reason
REFUND_REASON = stored_template(N_("Refund of order %(order)s"))


def order_source(external_id: str) -> str:
    return f"order:{external_id}"


def multiplier_for(member: Member, order: Order) -> Decimal:
    """The largest multiplier any enabled plugin offers for this order (1 when none does)."""
    best = Decimal(1)
    for plugin_id, value in current_host().call_each("memberday_points_multiplier", member=member, order=order):
        try:
            candidate = Decimal(str(value))
        except Exception:
            continue
        if candidate.is_finite() and Decimal(0) < candidate <= Decimal(100):
            best = max(best, candidate)
    return best


def base_points(amount: Decimal) -> int:
    return math.floor(amount * Decimal(str(current_app.config["POINTS_PER_UNIT"])))


def _same_member(order: Order, member_id: int) -> Order:
    """An order belongs to one member: reporting its id for another is refused, never merged."""
    if order.member_id != member_id:
        raise Conflict(_("Order %(order)s was reported for another member.", order=order.external_id),
                       code="order_member_mismatch")
    return order


def report_paid_order(external_id: str, member_id: int, amount: Decimal,
                      paid_at: datetime | None = None) -> tuple[Order, bool]:
    """Record a paid order and book its points, once. Returns (order, created).

    The same ``external_id`` reported again for the same member is that order (nothing is
    booked twice); for another member it is ``409 order_member_mismatch``.
    """
    paid_at = paid_at or utcnow()
    # Everything below is written or locked here, so the commit need not expire it: the
    # response and the event's delivery read the order and the member from memory.
    with transaction(keep_loaded=True):
        # The member's lock first: the plugins' multiplier hook then sees the member as it is
        # booked, and the member is read once.
        member = db.session.scalar(select(Member).where(Member.id == member_id).with_for_update()
                                   .execution_options(populate_existing=True))
        if member is None:
            raise ValidationFailed(_("Member %(id)s does not exist.", id=member_id), fields={"member_id": ["no such member"]})
        draft = Order(external_id=external_id, member_id=member_id, amount=amount, paid_at=paid_at, status="paid")
        multiplier = multiplier_for(member, draft)
        points = math.floor(base_points(amount) * multiplier)
        # The unique index on external_id decides, for a retry as for two reports of the same order
        # at once (the same member or not): no check before, no savepoint; the loser reads the
        # winner's row.
        order = db.session.scalar(
            _insert(Order).values(external_id=external_id, member_id=member_id, amount=amount, paid_at=paid_at,
                                  status="paid", multiplier=multiplier, points_earned=points,
                                  created_at=utcnow())
            .on_conflict_do_nothing(index_elements=[Order.external_id]).returning(Order))
        if order is None:
            existing = db.session.scalar(
                select(Order).where(Order.external_id == external_id).execution_options(populate_existing=True))
            return _same_member(existing, member_id), False
        member.orders_count += 1
        member.first_order_at = min(filter(None, [member.first_order_at, paid_at]))
        member.last_order_at = max(filter(None, [member.last_order_at, paid_at]))
        if points > 0:  # the member is locked here, and nothing can be booked yet under the new order's source
            rewards.credit(member.id, points, ORDER_REASON % {"order": external_id}, order_source(external_id),
                           locked=member, new_source=True)
        emit("memberday_order_paid", order=order, member=member)
        return order, True


def _insert(model):
    """An INSERT that can say ``ON CONFLICT DO NOTHING`` on the database in use."""
    if db.session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def refund_order(external_id: str) -> Order:
    """Refund an order: take back what remains of its points, once."""
    with transaction():
        order = db.session.scalar(
            select(Order).where(Order.external_id == external_id).with_for_update()
            .execution_options(populate_existing=True))
        if order is None:
            raise NotFound(_("Order %(order)s does not exist.", order=external_id))
        if order.status == "refunded":
            raise Conflict(_("This order has already been refunded."), code="already_refunded")
        member = rewards.lock_member(order.member_id)
        order.status = "refunded"
        order.refunded_at = utcnow()
        rewards.reverse_credit(order_source(external_id), REFUND_REASON % {"order": external_id})
        db.session.flush()
        first, last, count = db.session.execute(
            select(func.min(Order.paid_at), func.max(Order.paid_at), func.count(Order.id))
            .where(Order.member_id == member.id, Order.status == "paid")).one()
        member.orders_count, member.first_order_at, member.last_order_at = count, first, last
        emit("memberday_order_refunded", order=order, member=member)
        return order


def get_order(external_id: str) -> Order:
    order = db.session.scalar(select(Order).where(Order.external_id == external_id))
    if order is None:
        raise NotFound(_("Order %(order)s does not exist.", order=external_id))
    return order
