"""The points ledger and coupons: the one place where points and coupons move.

Every change to a member's points takes that member's row lock first (``FOR
UPDATE`` on PostgreSQL), then reads and writes lots, entries and the balance in
the same transaction. Each entry's ``source`` is unique, so booking the same
effect again returns the first entry instead of a second one.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import nulls_last, select

from core.database import transaction, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.extensions import db
from core.i18n import _
from core.members.models import Member
from core.plugins.host import emit
from core.rewards.models import Coupon, CouponTemplate, PointsAllocation, PointsEntry, PointsLot

# ------------------------------------------------------------------ points


def lock_member(member_id: int) -> Member:
    """Load a member under a row lock, refreshing anything this session had cached."""
    member = db.session.scalar(
        select(Member).where(Member.id == member_id).with_for_update().execution_options(populate_existing=True)
    )
    if member is None:
        raise NotFound(_("Member %(id)s does not exist.", id=member_id))
    return member


def entry_by_source(source: str) -> PointsEntry | None:
    return db.session.scalar(
        select(PointsEntry).where(PointsEntry.source == source).execution_options(populate_existing=True)
    )


def _book(member: Member, kind: str, reason: str, source: str, points: int = 0, pending: int = 0,
          lot: PointsLot | None = None) -> PointsEntry:
    entry = PointsEntry(member_id=member.id, kind=kind, points=points, pending_points=pending,
                        reason=reason[:200], source=source, lot_id=lot.id if lot else None,
                        expires_at=lot.expires_at if lot else None)
    member.points_balance += points
    member.points_pending += pending
    db.session.add(entry)
    db.session.flush()
    emit("memberday_points_changed", member=member, entry=entry)
    return entry


def _check_amount(points: int) -> None:
    if not isinstance(points, int) or isinstance(points, bool) or points <= 0:
        raise ValidationFailed(_("Points must be a positive whole number."), fields={"points": ["must be > 0"]})


def credit(member_id: int, points: int, reason: str, source: str, *, pending: bool = False,
           expires_at: datetime | None = None) -> PointsEntry:
    """Add ``points`` as a new lot; ``pending`` lots are held until ``release``."""
    _check_amount(points)
    with transaction():
        member = lock_member(member_id)
        existing = entry_by_source(source)
        if existing is not None:
            return existing
        if expires_at is None:
            expires_at = utcnow() + timedelta(days=current_app.config["POINTS_EXPIRY_DAYS"])
        lot = PointsLot(member_id=member.id, source=source, points=points, remaining=points,
                        status="pending" if pending else "active", expires_at=expires_at)
        db.session.add(lot)
        db.session.flush()
        if pending:
            return _book(member, "hold", reason, source, pending=points, lot=lot)
        return _book(member, "credit", reason, source, points=points, lot=lot)


def debit(member_id: int, points: int, reason: str, source: str) -> PointsEntry:
    """Spend ``points`` from the soonest-expiring lots; never below zero."""
    _check_amount(points)
    with transaction():
        member = lock_member(member_id)
        existing = entry_by_source(source)
        if existing is not None:
            return existing
        now = utcnow()
        _expire_member_lots(member, now)
        if member.points_balance < points:
            raise Conflict(_("The member has %(balance)s points; %(points)s are needed.", balance=member.points_balance, points=points),
                           code="insufficient_points",
                           extra={"balance": member.points_balance, "needed": points})
        lots = db.session.scalars(
            select(PointsLot)
            .where(PointsLot.member_id == member.id, PointsLot.status == "active", PointsLot.remaining > 0)
            .order_by(nulls_last(PointsLot.expires_at.asc()), PointsLot.id)
            .execution_options(populate_existing=True)
        ).all()
        entry = _book(member, "debit", reason, source, points=-points)
        still_needed = points
        for lot in lots:
            if still_needed == 0:
                break
            take = min(lot.remaining, still_needed)
            lot.remaining -= take
            still_needed -= take
            db.session.add(PointsAllocation(entry_id=entry.id, lot_id=lot.id, points=take))
        if still_needed:  # the balance and the lots disagree: refuse rather than book it
            raise RuntimeError(f"ledger of member {member.id} is inconsistent: lots short by {still_needed}")
        db.session.flush()
        return entry


def reverse_debit(source: str, reason: str) -> PointsEntry:
    """Give back a spend to the very lots it drew from (points of lots expired since are lost)."""
    reversal_source = f"{source}:reversal"
    original = entry_by_source(source)
    if original is None or original.kind != "debit":
        raise NotFound(_("No spend booked as %(source)s.", source=source))
    with transaction():
        member = lock_member(original.member_id)
        existing = entry_by_source(reversal_source)
        if existing is not None:
            return existing
        now = utcnow()
        restored = 0
        allocations = db.session.scalars(select(PointsAllocation).where(PointsAllocation.entry_id == original.id)).all()
        for allocation in allocations:
            lot = db.session.get(PointsLot, allocation.lot_id, populate_existing=True)
            if lot.status != "active" or (lot.expires_at and lot.expires_at <= now):
                continue
            lot.remaining += allocation.points
            restored += allocation.points
        return _book(member, "reversal", reason, reversal_source, points=restored)


def reverse_credit(source: str, reason: str) -> PointsEntry | None:
    """Take back what remains of the lot booked as ``source`` (held or spendable)."""
    reversal_source = f"{source}:reversal"
    lot = db.session.scalar(select(PointsLot).where(PointsLot.source == source))
    if lot is None:
        return None
    with transaction():
        member = lock_member(lot.member_id)
        existing = entry_by_source(reversal_source)
        if existing is not None:
            return existing
        lot = db.session.get(PointsLot, lot.id, populate_existing=True)
        take = lot.remaining if lot.status in ("active", "pending") else 0
        points, pending = (-take, 0) if lot.status == "active" else (0, -take)
        lot.remaining -= take
        lot.status = "reversed"
        return _book(member, "reversal", reason, reversal_source, points=points, pending=pending, lot=lot)


def release(source: str, reason: str) -> PointsEntry | None:
    """Make a held lot spendable. Returns None when it is not held (released or reversed)."""
    lot = db.session.scalar(select(PointsLot).where(PointsLot.source == source))
    if lot is None:
        raise NotFound(_("No points booked as %(source)s.", source=source))
    with transaction():
        member = lock_member(lot.member_id)
        lot = db.session.get(PointsLot, lot.id, populate_existing=True)
        if lot.status != "pending":
            return None
        lot.status = "active"
        return _book(member, "release", reason, f"{source}:release", points=lot.remaining,
                     pending=-lot.remaining, lot=lot)


def _expire_member_lots(member: Member, now: datetime) -> int:
    lots = db.session.scalars(
        select(PointsLot)
        .where(PointsLot.member_id == member.id, PointsLot.status == "active", PointsLot.expires_at <= now)
        .order_by(PointsLot.id)
        .execution_options(populate_existing=True)
    ).all()
    for lot in lots:
        expired = lot.remaining
        lot.remaining = 0
        lot.status = "expired"
        if expired:
            _book(member, "expiry", "Points expired", f"{lot.source}:expiry", points=-expired, lot=lot)
    return len(lots)


def expire_due_lots(now: datetime | None = None, batch: int = 500) -> int:
    """Expire every lot past its date, each exactly once (the periodic expiry job)."""
    now = now or utcnow()
    expired = 0
    while True:
        member_ids = db.session.scalars(
            select(PointsLot.member_id)
            .where(PointsLot.status == "active", PointsLot.expires_at <= now)
            .distinct().limit(batch)
        ).all()
        if not member_ids:
            return expired
        for member_id in member_ids:
            with transaction():
                expired += _expire_member_lots(lock_member(member_id), now)


def adjust(member_id: int, points: int, reason: str, source: str) -> PointsEntry:
    """An operator's manual credit (points > 0) or debit (points < 0)."""
    if points == 0:
        raise ValidationFailed(_("Points must not be 0."), fields={"points": ["must not be 0"]})
    limit = current_app.config["POINTS_MAX_ADJUSTMENT"]
    if abs(points) > limit:
        raise ValidationFailed(_("An adjustment is at most %(limit)s points.", limit=limit), fields={"points": ["too large"]})
    if points > 0:
        return credit(member_id, points, reason, source)
    return debit(member_id, -points, reason, source)


def history(member_id: int):
    """A select of the member's ledger entries, newest first."""
    return select(PointsEntry).where(PointsEntry.member_id == member_id).order_by(PointsEntry.id.desc())


# ------------------------------------------------------------------ coupons

CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_coupon_code() -> str:
    """16 characters from an alphabet without look-alikes: about 79 bits, unguessable."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))


def create_template(title: str, value=0, channel: str = "any", valid_days: int | None = None,
                    valid_until: datetime | None = None, description: str = "") -> CouponTemplate:
    with transaction():
        template = CouponTemplate(title=title, value=value, channel=channel, valid_days=valid_days,
                                  valid_until=valid_until, description=description)
        db.session.add(template)
        db.session.flush()
        return template


def issue_coupon(member_id: int, template_id: int, source: str | None = None) -> Coupon:
    """Issue a coupon from a template; with a ``source``, at most once for that source."""
    template = db.session.get(CouponTemplate, template_id)
    if template is None:
        raise NotFound(_("Coupon template %(id)s does not exist.", id=template_id))
    with transaction():
        member = lock_member(member_id)
        if source:
            existing = db.session.scalar(select(Coupon).where(Coupon.source == source))
            if existing is not None:
                return existing
        now = utcnow()
        ends = [t for t in (template.valid_until,
                            now + timedelta(days=template.valid_days) if template.valid_days else None) if t]
        coupon = Coupon(code=new_coupon_code(), template_id=template.id, member_id=member.id, status="issued",
                        source=source, issued_at=now, expires_at=min(ends) if ends else None)
        db.session.add(coupon)
        db.session.flush()
        return coupon


def coupon_status(coupon: Coupon, now: datetime | None = None) -> str:
    """What a member sees: an issued coupon past its date shows as expired."""
    if coupon.status == "issued" and coupon.expires_at and coupon.expires_at <= (now or utcnow()):
        return "expired"
    return coupon.status


def coupon_by_code(code: str, principal) -> Coupon:
    """The coupon with this code; a member finds only their own (anything else is 404)."""
    code = (code or "").strip().upper()
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == code)) if 0 < len(code) <= 32 else None
    if coupon is None or (principal.kind == "member" and coupon.member_id != principal.id):
        raise NotFound(_("No such coupon."))
    return coupon


def redeem_coupon(code: str, principal) -> Coupon:
    """Redeem once: online by its owner, in a store by staff. Row-locked, so never twice."""
    from core.auth.services import MANAGERS

    code = (code or "").strip().upper()
    if not code or len(code) > 32:
        raise NotFound(_("No such coupon."))
    with transaction():
        coupon = db.session.scalar(
            select(Coupon).where(Coupon.code == code).with_for_update().execution_options(populate_existing=True)
        )
        if coupon is None or (principal.kind == "member" and coupon.member_id != principal.id):
            raise NotFound(_("No such coupon."))
        channel = coupon.template.channel
        if principal.kind == "member":
            used_channel = "online"
        elif principal.role in MANAGERS:
            used_channel = "offline" if channel == "offline" else "online"
        else:
            used_channel = "offline"
        if channel not in ("any", used_channel):
            message = _("This coupon is for in-store use only.") if channel == "offline" \
                else _("This coupon is for online use only.")
            raise Conflict(message, code="wrong_channel")
        status = coupon_status(coupon)
        if status == "redeemed":
            raise Conflict(_("This coupon has already been redeemed."), code="already_redeemed")
        if status == "expired":
            raise Conflict(_("This coupon has expired."), code="expired")
        if status == "void":
            raise Conflict(_("This coupon is void."), code="void")
        coupon.status = "redeemed"
        coupon.redeemed_at = utcnow()
        coupon.redeemed_by = principal.key
        coupon.redeemed_channel = used_channel
        member = db.session.get(Member, coupon.member_id)
        emit("memberday_coupon_redeemed", coupon=coupon, member=member)
        return coupon


def void_coupon(coupon_id: int) -> Coupon:
    """Void an issued coupon (e.g. its campaign was cancelled); a redeemed one stays redeemed."""
    with transaction():
        coupon = db.session.scalar(
            select(Coupon).where(Coupon.id == coupon_id).with_for_update().execution_options(populate_existing=True)
        )
        if coupon is None:
            raise NotFound(_("No such coupon."))
        if coupon.status == "issued":
            coupon.status = "void"
        return coupon


def expire_due_coupons(now: datetime | None = None) -> int:
    """Mark issued coupons past their date as expired (a conditional update: safe to repeat)."""
    now = now or utcnow()
    with transaction():
        result = db.session.execute(
            Coupon.__table__.update()
            .where(Coupon.status == "issued", Coupon.expires_at <= now)
            .values(status="expired")
        )
        return result.rowcount


def expire_due(now: datetime | None = None) -> dict:
    """The periodic expiry job: lots and coupons."""
    return {"lots": expire_due_lots(now), "coupons": expire_due_coupons(now)}
