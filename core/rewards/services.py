"""The points ledger and coupons: the one place where points and coupons move.

Every change to a member's points takes that member's row lock first (``FOR
UPDATE`` on PostgreSQL), then reads and writes lots, entries and the balance in
the same transaction. Each entry's ``source`` is unique, so booking the same
effect again returns the first entry instead of a second one.
"""
from __future__ import annotations

import secrets
import threading
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import (ARRAY, Integer, and_, bindparam, func, insert, literal, nulls_last, or_, select, text, tuple_,
                        update)

from core.database import UTCDateTime, transaction, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.extensions import db
from core.i18n import _
from core.members.models import Member
from core.plugins.host import current_host, emit
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


def _locked_and_unbooked(member_id: int, source: str, locked: Member | None, new_source: bool):
    """The member under its row lock and the entry already booked as ``source`` (if any).

    ``locked``: the caller already holds this member's lock (``lock_member`` in the same
    transaction): it is not taken, nor the row read, again. ``new_source``: the caller knows
    nothing can be booked as ``source`` yet (it is named after a row the caller just inserted
    in this transaction): the unique index on sources still refuses a second booking.
    """
    if locked is not None and locked.id != member_id:
        raise ValueError("the locked member is not the member to book for")
    member = locked if locked is not None else lock_member(member_id)
    return member, (None if new_source else entry_by_source(source))


def credit(member_id: int, points: int, reason: str, source: str, *, pending: bool = False,
           expires_at: datetime | None = None, locked: Member | None = None,
           new_source: bool = False) -> PointsEntry:
    """Add ``points`` as a new lot; ``pending`` lots are held until ``release``.

    ``locked`` and ``new_source``: see ``_locked_and_unbooked``.
    """
    _check_amount(points)
    with transaction():
        member, existing = _locked_and_unbooked(member_id, source, locked, new_source)
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


def debit(member_id: int, points: int, reason: str, source: str, *, locked: Member | None = None,
          new_source: bool = False) -> PointsEntry:
    """Spend ``points`` from the soonest-expiring lots; never below zero.

    ``locked`` and ``new_source``: see ``_locked_and_unbooked``.
    """
    _check_amount(points)
    with transaction():
        member, existing = _locked_and_unbooked(member_id, source, locked, new_source)
        if existing is not None:
            return existing
        now = utcnow()
        _expire_member_lots(member, now)
        if member.points_balance < points:
            raise Conflict(_("The member has %(balance)s points; %(points)s are needed.", balance=member.points_balance, points=points),
                           code="insufficient_points",
                           extra={"balance": member.points_balance, "needed": points})
        entry = _book(member, "debit", reason, source, points=-points)
        takes = _lots_to_spend(member.id, points)
        db.session.execute(update(PointsLot), [{"id": lot_id, "remaining": left} for lot_id, _, left in takes])
        db.session.execute(insert(PointsAllocation),
                           [{"entry_id": entry.id, "lot_id": lot_id, "points": take} for lot_id, take, _ in takes])
        return entry


SPEND_CHUNK = 64  # lots read at a time by a spend: almost every spend needs only the first few


def _lots_to_spend(member_id: int, points: int) -> list[tuple[int, int, int]]:
    """(lot id, points taken, points left) of the soonest-expiring spendable lots covering ``points``.

    The member's spendable lots are read in spending order, at most a chunk at a time (LIMIT),
    with a running sum over them (a window); only the lots whose running sum before them is
    still short of the spend come back. A member with ten thousand lots is not read whole to
    spend from the first two. The caller holds the member's lock: nobody changes these lots meanwhile.
    """
    takes: list[tuple[int, int, int]] = []
    needed, after = points, None
    while needed > 0:
        rows = db.session.execute(spend_chunk(member_id, needed, after)).all()
        if not rows:  # the balance and the lots disagree: refuse rather than book it
            raise RuntimeError(f"ledger of member {member_id} is inconsistent: lots short by {needed}")
        for row in rows:
            take = min(row.remaining, needed)
            takes.append((row.id, take, row.remaining - take))
            needed -= take
        after = (rows[-1].expires_at, rows[-1].id)
    return takes


def spend_chunk(member_id: int, needed: int, after: tuple | None = None):
    """The next spendable lots of a member in spending order after ``after`` (at most a chunk),
    each with the running sum through it; only those still needed to cover ``needed``."""
    order = (nulls_last(PointsLot.expires_at.asc()), PointsLot.id.asc())
    chunk = (select(PointsLot.id, PointsLot.remaining, PointsLot.expires_at,
                    func.sum(PointsLot.remaining).over(order_by=order).label("through"))
             .where(PointsLot.member_id == member_id, PointsLot.status == "active", PointsLot.remaining > 0)
             .order_by(*order).limit(SPEND_CHUNK))
    if after is not None:
        chunk = chunk.where(_after_in_spending_order(*after))
    chunk = chunk.subquery()
    return (select(chunk).where(chunk.c.through - chunk.c.remaining < needed)
            .order_by(nulls_last(chunk.c.expires_at.asc()), chunk.c.id))


def _after_in_spending_order(expires_at, lot_id):
    """Lots after (``expires_at``, ``lot_id``) in spending order (soonest expiry first, none last)."""
    if expires_at is None:
        return and_(PointsLot.expires_at.is_(None), PointsLot.id > lot_id)
    return or_(PointsLot.expires_at > expires_at, PointsLot.expires_at.is_(None),
               and_(PointsLot.expires_at == expires_at, PointsLot.id > lot_id))


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


def _due(now: datetime):
    return and_(PointsLot.status == "active", PointsLot.expires_at <= now)


def _expire_lots_of(member_ids: list[int], now: datetime) -> int:
    """Expire every due lot of these members in set statements (one on PostgreSQL, three on
    SQLite); returns how many lots.

    The caller holds the members' row locks, and every change to a lot is made under its
    member's lock, so the due lots stay the same from the first statement to the last: the
    entries book exactly what the lots lose, and the balances lose exactly that too.
    """
    if not member_ids:
        return 0
    listeners = current_host().implementers("memberday_points_changed")
    if db.session.get_bind().dialect.name == "postgresql":
        expired, lot_ids = _expire_lots_in_one_statement(member_ids, now)
        _forget_members_and_lots()
        _tell_listeners("expiry", lot_ids if listeners else [])
        return expired
    due = and_(PointsLot.member_id.in_(member_ids), _due(now))
    lot_ids = list(db.session.scalars(select(PointsLot.id).where(due, PointsLot.remaining > 0))) if listeners else []
    db.session.execute(insert(PointsEntry).from_select(
        ["member_id", "kind", "points", "pending_points", "reason", "source", "lot_id", "expires_at", "created_at"],
        select(PointsLot.member_id, literal("expiry"), -PointsLot.remaining, literal(0), literal("Points expired"),
               PointsLot.source + literal(":expiry"), PointsLot.id, PointsLot.expires_at,
               literal(utcnow(), UTCDateTime))  # booked now, whatever moment the job judged due by
        .where(due, PointsLot.remaining > 0).order_by(PointsLot.member_id, PointsLot.id)))
    lost = (select(PointsLot.member_id, func.sum(PointsLot.remaining).label("points"))
            .where(due, PointsLot.remaining > 0).group_by(PointsLot.member_id).subquery())
    db.session.execute(update(Member).where(Member.id == lost.c.member_id)
                       .values(points_balance=Member.points_balance - lost.c.points)
                       .execution_options(synchronize_session=False))
    expired = db.session.execute(update(PointsLot).where(due).values(status="expired", remaining=0)
                                 .execution_options(synchronize_session=False)).rowcount
    _forget_members_and_lots()
    _tell_listeners("expiry", lot_ids)
    return expired


_EXPIRE_LOTS = text("""
WITH due AS MATERIALIZED (
    SELECT id, member_id, source, remaining, expires_at FROM points_lots
    WHERE member_id = ANY(:member_ids) AND status = 'active' AND expires_at <= :now
), expired AS (
    UPDATE points_lots SET status = 'expired', remaining = 0 FROM due WHERE points_lots.id = due.id
    RETURNING points_lots.id
), booked AS (
    INSERT INTO points_entries (member_id, kind, points, pending_points, reason, source, lot_id, expires_at,
                                created_at)
    SELECT member_id, 'expiry', -remaining, 0, 'Points expired', source || '\\:expiry', id, expires_at, :booked_at
    FROM due WHERE remaining > 0 ORDER BY member_id, id
    RETURNING lot_id
), lost AS (
    UPDATE members SET points_balance = members.points_balance - lost.points
    FROM (SELECT member_id, sum(remaining) AS points FROM due WHERE remaining > 0 GROUP BY member_id) AS lost
    WHERE members.id = lost.member_id
)
SELECT (SELECT count(*) FROM expired) AS expired, (SELECT array_agg(lot_id) FROM booked) AS lot_ids
""").bindparams(bindparam("member_ids", type_=ARRAY(Integer)), bindparam("now", type_=UTCDateTime),
                bindparam("booked_at", type_=UTCDateTime))


def _expire_lots_in_one_statement(member_ids: list[int], now: datetime) -> tuple[int, list[int]]:
    """``_expire_lots_of`` on PostgreSQL: the same three changes in one statement (data-modifying CTEs).

    Its snapshot is taken after the members' locks (an earlier statement), so the due lots it reads
    once are the lots it changes. The lots are marked expired in the same statement as the entries
    that name them are inserted, so the entries' foreign-key checks find lots this transaction has
    already locked. Returns how many lots expired and the lots an entry was booked for.
    """
    row = db.session.execute(_EXPIRE_LOTS, {"member_ids": list(member_ids), "now": now,
                                            "booked_at": utcnow()}).one()  # booked now, whatever moment was judged
    return row.expired, list(row.lot_ids or [])


def _forget_members_and_lots() -> None:
    """The set statements changed members and lots behind the ORM's back: reload its copies when next read."""
    for instance in list(db.session.identity_map.values()):
        if isinstance(instance, (Member, PointsLot)):
            db.session.expire(instance)


def _tell_listeners(kind: str, lot_ids: list[int]) -> None:
    """Write the ``memberday_points_changed`` event of each entry a set statement booked (when anyone listens)."""
    if not lot_ids:
        return
    for entry in db.session.scalars(select(PointsEntry).where(PointsEntry.kind == kind, PointsEntry.lot_id.in_(lot_ids))
                                    .order_by(PointsEntry.id)):
        emit("memberday_points_changed", member=db.session.get(Member, entry.member_id), entry=entry)


def release_many(sources: list[str], reason: str) -> int:
    """Make the held lots booked as ``sources`` spendable, in three set statements; returns how many.

    The caller holds the row locks of every member these lots belong to (in id order). Lots not
    held any more (released, reversed) are left alone, so releasing twice books once.
    """
    if not sources:
        return 0
    held = and_(PointsLot.source.in_(sources), PointsLot.status == "pending")
    listeners = current_host().implementers("memberday_points_changed")
    lot_ids = list(db.session.scalars(select(PointsLot.id).where(held))) if listeners else []
    db.session.execute(insert(PointsEntry).from_select(
        ["member_id", "kind", "points", "pending_points", "reason", "source", "lot_id", "expires_at", "created_at"],
        select(PointsLot.member_id, literal("release"), PointsLot.remaining, -PointsLot.remaining,
               literal(reason[:200]), PointsLot.source + literal(":release"), PointsLot.id, PointsLot.expires_at,
               literal(utcnow(), UTCDateTime))
        .where(held).order_by(PointsLot.member_id, PointsLot.id)))
    moved = (select(PointsLot.member_id, func.sum(PointsLot.remaining).label("points"))
             .where(held).group_by(PointsLot.member_id).subquery())
    db.session.execute(update(Member).where(Member.id == moved.c.member_id)
                       .values(points_balance=Member.points_balance + moved.c.points,
                               points_pending=Member.points_pending - moved.c.points)
                       .execution_options(synchronize_session=False))
    released = db.session.execute(update(PointsLot).where(held).values(status="active")
                                  .execution_options(synchronize_session=False)).rowcount
    _forget_members_and_lots()
    _tell_listeners("release", lot_ids)
    return released


def lock_members(member_ids, *, skip_locked: bool = False) -> list[int]:
    """Row-lock these members in id order (the order every multi-member lock takes); returns the ids locked."""
    return list(db.session.scalars(select(Member.id).where(Member.id.in_(sorted(set(member_ids))))
                                   .order_by(Member.id).with_for_update(skip_locked=skip_locked)))


def _expire_member_lots(member: Member, now: datetime) -> int:
    """Expire the locked member's due lots (a spend does this first); one cheap read when none is due."""
    if db.session.scalar(select(PointsLot.id).where(PointsLot.member_id == member.id, _due(now)).limit(1)) is None:
        return 0
    expired = _expire_lots_of([member.id], now)
    db.session.refresh(member)
    return expired


def due_lots(now: datetime, after: tuple | None = None, batch: int = 500, part: int = 0, parts: int = 1):
    """The next ``batch`` due lots (id, member, expiry) in expiry order after ``after`` = (expires_at, id);
    with ``parts`` > 1, only lots of members whose id is ``part`` modulo ``parts``."""
    query = (select(PointsLot.id, PointsLot.member_id, PointsLot.expires_at).where(_due(now))
             .order_by(PointsLot.expires_at, PointsLot.id).limit(batch))
    if after is not None:
        query = query.where(tuple_(PointsLot.expires_at, PointsLot.id) > tuple(after))
    if parts > 1:
        query = query.where(PointsLot.member_id % parts == part)
    return query


def expiry_parts(wanted: int | None = None) -> int:
    """How many parts the expiry job runs at once: ``wanted``, else ``POINTS_EXPIRY_PARTS``; always
    one on SQLite, whose one writer at a time would only make the parts wait for each other."""
    if db.session.get_bind().dialect.name != "postgresql":
        return 1
    return max(int(wanted or current_app.config.get("POINTS_EXPIRY_PARTS") or 1), 1)


def expire_due_lots(now: datetime | None = None, batch: int = 2000, parts: int | None = None) -> int:
    """Expire every lot past its date, each exactly once (the periodic expiry job); returns how many.

    Members are split into ``parts`` (by id modulo ``parts``; default :func:`expiry_parts`), each
    expired on a thread with a database connection of its own, so that a backlog keeps as many
    database cores busy; the parts share no member and so wait for no lock of each other's.
    A part is :func:`expire_due_lots_part`.
    """
    now = now or utcnow()
    parts = expiry_parts(parts)
    if parts <= 1:
        return expire_due_lots_part(now, batch)
    app = current_app._get_current_object()
    counts, failures = [0] * parts, []

    def run(part: int) -> None:
        with app.app_context():  # a session, and so a connection, of its own
            try:
                counts[part] = expire_due_lots_part(now, batch, part, parts)
            except BaseException as exc:  # re-raised by the caller's thread below
                failures.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(part,), name=f"points-expiry-{part}", daemon=True)
               for part in range(parts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return sum(counts)


def expire_due_lots_part(now: datetime, batch: int = 2000, part: int = 0, parts: int = 1) -> int:
    """Expire the due lots of the members of one part (``part`` of ``parts``); returns how many.

    Due lots are found along the (status, expires_at, id) index, a batch at a time from where the
    last batch ended, so a run reads only due rows. Each batch locks its members (in id order,
    skipping any that another transaction holds: a spend expires its member's lots itself) and
    expires their due lots in one set statement (three on SQLite). The members skipped are done at the end, one
    at a time, waiting for their locks. Two runs at once therefore expire each lot once, and a
    spend at the same moment sees the balance either before or after its lots expired.
    """
    expired, after, skipped = 0, None, set()
    while True:
        with transaction():
            rows = db.session.execute(due_lots(now, after, batch, part, parts)).all()
            if not rows:
                break
            after = (rows[-1].expires_at, rows[-1].id)
            wanted = sorted({row.member_id for row in rows})
            locked = lock_members(wanted, skip_locked=True)
            skipped.update(set(wanted) - set(locked))
            expired += _expire_lots_of(locked, now)
    for member_id in sorted(skipped):
        with transaction():
            lock_member(member_id)
            expired += _expire_lots_of([member_id], now)
    return expired


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


def issue_coupon(member_id: int, template_id: int, source: str | None = None,
                 now: datetime | None = None, *, new_source: bool = False) -> Coupon:
    """Issue a coupon from a template; with a ``source``, at most once for that source.

    ``new_source``: the caller named the source after a row it just inserted in this
    transaction, so no coupon can have it yet: it is not looked for (the unique index on
    sources still refuses a second one).
    """
    template = db.session.get(CouponTemplate, template_id)
    if template is None:
        raise NotFound(_("Coupon template %(id)s does not exist.", id=template_id))
    with transaction():
        member = lock_member(member_id)
        if source and not new_source:
            existing = db.session.scalar(select(Coupon).where(Coupon.source == source))
            if existing is not None:
                return existing
        now = now or utcnow()
        ends = [t for t in (template.valid_until,
                            now + timedelta(days=template.valid_days) if template.valid_days else None) if t]
        # The template itself, not only its id: whoever shows the coupon reads it from memory.
        coupon = Coupon(code=new_coupon_code(), template=template, member_id=member.id, status="issued",
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
