"""Offline events' rules: events and their keywords, sign-ups and the waitlist, check-in, the report.

Every rule that moves a seat, a ticket, points or a coupon is a function here,
and HTTP, the keyword replies, the member pages and the demo all call it:

* ``register`` and ``cancel_registration`` take the event's row lock, so seats
  are handed out one at a time and a freed seat goes to the first in line;
* ``check_in`` is the door: it keeps the scan by its nonce, locks the
  registration, checks the rules, writes the check-in and grants the attendance
  points and coupon, in one transaction, and answers from a closed set of
  results; ``check_in_batch`` answers a scanner's offline scans the same way;
* ``revert_checkin`` undoes a check-in and what it granted, once.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from io import BytesIO
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from core.database import on_commit, transaction, utcnow
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.extensions import db
from core.i18n import N_, _, in_language, moment, stored_template, time
from core.members.models import Member
from core.messaging import keywords
from core.members.services import get_member
from core.notifications.services import notify
from core.orders.models import Order
from core.rewards import services as rewards
from core.rewards.models import Coupon, CouponTemplate
from plugins.offline_events import PLUGIN
from plugins.offline_events.models import (SEATED, CheckIn, EventKeyword, OfflineEvent, Registration, Scan,
                                           ticket_hash)

CHECKIN_OPENS_BEFORE = timedelta(hours=2)
REPORT_DAYS = 30
JOIN_LINK_DAYS = 7
MAX_KEYWORD_LENGTH = 40
MAX_TICKET_TEXT = 500
# A scanner's clock may run a little ahead of ours; a scan further in the future is taken as now.
CLOCK_SKEW = timedelta(minutes=5)

# Ledger reasons, stored in English and shown in the reader's language (core.i18n.translate_stored).
# Translators: ledger reason
ATTENDED_REASON = stored_template(N_("Came to %(title)s"))
# Translators: ledger reason
REVERTED_REASON = stored_template(N_("Check-in at %(title)s reverted"))


# ------------------------------------------------------------------ events


def get_event(event_id: int) -> OfflineEvent:
    event = db.session.get(OfflineEvent, event_id)
    if event is None:
        raise NotFound(_("Event %(id)s does not exist.", id=event_id))
    return event


def _locked_event(event_id: int) -> OfflineEvent:
    event = db.session.scalar(select(OfflineEvent).where(OfflineEvent.id == event_id).with_for_update()
                              .execution_options(populate_existing=True))
    if event is None:
        raise NotFound(_("Event %(id)s does not exist.", id=event_id))
    return event


def normalise_keyword(text: str | None) -> str:
    """The form a keyword is kept and matched in: the core's (full-width folded, case-folded, trimmed)."""
    return keywords.normalise(text)


def is_open(event: OfflineEvent, now: datetime | None = None) -> bool:
    """Not cancelled and not over: such an event holds its keywords."""
    return event.status == "open" and event.ends_at > (now or utcnow())


def signup_window(event: OfflineEvent) -> tuple[datetime, datetime]:
    """From ``signup_opens_at`` (default: when created) until ``signup_closes_at`` (default: the start)."""
    return event.signup_opens_at or event.created_at, event.signup_closes_at or event.starts_at


def signup_open(event: OfflineEvent, now: datetime | None = None) -> bool:
    now = now or utcnow()
    opens, closes = signup_window(event)
    return event.status == "open" and opens <= now < closes


def checkin_window(event: OfflineEvent) -> tuple[datetime, datetime]:
    """From ``checkin_opens_at`` (default: two hours before the start) until ``checkin_closes_at`` (the end)."""
    return (event.checkin_opens_at or event.starts_at - CHECKIN_OPENS_BEFORE,
            event.checkin_closes_at or event.ends_at)


def _check_times(values: dict) -> None:
    """The event's windows must make sense together; every refusal names its field."""
    errors: dict = {}
    starts, ends = values["starts_at"], values["ends_at"]
    if ends <= starts:
        errors["ends_at"] = ["must be after starts_at"]
    opens, closes = values.get("signup_opens_at"), values.get("signup_closes_at")
    if opens and closes and closes <= opens:
        errors["signup_closes_at"] = ["must be after signup_opens_at"]
    if closes and closes > ends:
        errors["signup_closes_at"] = ["must not be after ends_at"]
    c_opens, c_closes = values.get("checkin_opens_at"), values.get("checkin_closes_at")
    if (c_opens or starts - CHECKIN_OPENS_BEFORE) >= (c_closes or ends):
        errors["checkin_closes_at"] = ["the check-in window must end after it opens"]
    if errors:
        raise ValidationFailed(_("The event's times do not fit together."), fields=errors)


def _check_templates(values: dict) -> None:
    errors = {}
    for name in ("coupon_template_id", "attendance_coupon_template_id"):
        template_id = values.get(name)
        if template_id is not None and db.session.get(CouponTemplate, template_id) is None:
            errors[name] = [f"coupon template {template_id} does not exist"]
    if values.get("coupon_keyword") and not values.get("coupon_template_id"):
        errors["coupon_template_id"] = ["required with a coupon_keyword"]
    keywords = [values.get("signup_keyword"), values.get("coupon_keyword")]
    if keywords[0] and keywords[0] == keywords[1]:
        errors["coupon_keyword"] = ["must differ from signup_keyword"]
    if errors:
        raise ValidationFailed(_("The event is not valid."), fields=errors)


EVENT_FIELDS = ("title", "venue", "description", "starts_at", "ends_at", "capacity", "signup_opens_at",
                "signup_closes_at", "checkin_opens_at", "checkin_closes_at", "signup_keyword", "coupon_keyword",
                "coupon_template_id", "attendance_points", "attendance_coupon_template_id", "audience")


def _normalised(data: dict) -> dict:
    values = dict(data)
    for name in ("signup_keyword", "coupon_keyword"):
        if name in values:
            values[name] = normalise_keyword(values[name]) or None
    return values


def create_event(data: dict, now: datetime | None = None) -> OfflineEvent:
    """Create an event; its keywords are claimed in the same transaction (``409 keyword_taken``)."""
    now = now or utcnow()
    values = _normalised(data)
    _check_times(values)
    _check_templates(values)
    with transaction():
        event = OfflineEvent(**{name: values[name] for name in EVENT_FIELDS if name in values},
                             status="open", created_at=now, updated_at=now)
        event.audience = values.get("audience") or {}
        db.session.add(event)
        db.session.flush()
        _claim_keywords(event, now)
        return event


def update_event(event_id: int, changes: dict, now: datetime | None = None) -> OfflineEvent:
    """Change an event that is not cancelled; more seats go to the waitlist at once."""
    now = now or utcnow()
    changes = _normalised(changes)
    with transaction():
        event = _locked_event(event_id)
        if event.status == "cancelled":
            raise Conflict(_("This event is cancelled."), code="event_cancelled")
        values = {name: getattr(event, name) for name in EVENT_FIELDS}
        values.update(changes)
        _check_times(values)
        _check_templates(values)
        if values["capacity"] < event.confirmed_count:
            raise Conflict(_("%(seats)s seats are taken; cancel registrations before lowering the capacity "
                             "below that.", seats=event.confirmed_count), code="capacity_below_confirmed",
                           extra={"confirmed": event.confirmed_count})
        for name, value in changes.items():
            if name in EVENT_FIELDS:
                setattr(event, name, value)
        event.updated_at = now
        db.session.flush()
        _claim_keywords(event, now)
        _fill_seats(event, now)
        return event


def _claim_keywords(event: OfflineEvent, now: datetime) -> None:
    """Hold the event's keywords and let go of those it no longer uses.

    A keyword row is locked while it changes hands: it moves to this event only
    when the event holding it is over or cancelled; two events claiming a new
    keyword at once meet on its primary key.
    """
    wanted = {keyword: kind for keyword, kind in ((event.signup_keyword, "signup"),
                                                  (event.coupon_keyword, "coupon")) if keyword}
    db.session.execute(EventKeyword.__table__.delete().where(
        EventKeyword.event_id == event.id, EventKeyword.keyword.notin_(list(wanted) or [""])))
    for keyword, kind in wanted.items():
        row = db.session.scalar(select(EventKeyword).where(EventKeyword.keyword == keyword).with_for_update()
                                .execution_options(populate_existing=True))
        if row is not None:
            if row.event_id != event.id:
                holder = db.session.get(OfflineEvent, row.event_id, populate_existing=True)
                if holder is not None and is_open(holder, now):
                    raise _keyword_taken(keyword, holder)
                row.event_id = event.id
            row.kind = kind
            continue
        try:
            with db.session.begin_nested():
                db.session.add(EventKeyword(keyword=keyword, event_id=event.id, kind=kind))
        except IntegrityError:
            raise _keyword_taken(keyword) from None
    # Across plugins too: a member week or another plugin may hold the same word.
    owner = f"event:{event.id}"
    keywords.release(PLUGIN.id, owner, keep=list(wanted))
    for keyword in wanted:
        keywords.claim(PLUGIN.id, keyword, owner, until=event.ends_at, now=now)
    db.session.flush()


def _keyword_taken(keyword: str, holder: OfflineEvent | None = None) -> Conflict:
    message = f"The keyword {keyword!r} is used by another open event"
    message += f" ({holder.id}: {holder.title})." if holder is not None else "."
    return Conflict(message, code="keyword_taken", fields={"keyword": [keyword]})


def cancel_event(event_id: int, actor: str | None = None, now: datetime | None = None) -> OfflineEvent:
    """Cancel an event: its keywords are free, every live registration is cancelled and told."""
    now = now or utcnow()
    with transaction():
        event = _locked_event(event_id)
        if event.status == "cancelled":
            raise Conflict(_("This event is already cancelled."), code="already_cancelled")
        event.status = "cancelled"
        event.cancelled_at = now
        event.updated_at = now
        registrations = db.session.scalars(
            select(Registration).where(Registration.event_id == event.id,
                                       Registration.status.in_(("confirmed", "waitlisted")))
            .with_for_update(of=Registration).execution_options(populate_existing=True)).all()
        for registration in registrations:
            registration.status = "cancelled"
            registration.cancelled_at = now
            with in_language(registration.member):
                notify(registration.member_id, _("Cancelled: %(title)s", title=event.title)[:200],
                       _("We are sorry: %(title)s on %(when)s will not take place. Your registration is cancelled.",
                         title=event.title, when=local_time(event.starts_at)))
        event.confirmed_count = db.session.scalar(
            select(func.count()).select_from(Registration)
            .where(Registration.event_id == event.id, Registration.status.in_(SEATED)))
        db.session.execute(EventKeyword.__table__.delete().where(EventKeyword.event_id == event.id))
        keywords.release(PLUGIN.id, f"event:{event.id}")
        return event


def event_list(now: datetime | None = None, member: Member | None = None, everything: bool = False):
    """Events open for sign-up now (a member sees those meant for them); operators may ask for every event."""
    now = now or utcnow()
    query = select(OfflineEvent)
    if everything:
        return db.session.scalars(query.order_by(OfflineEvent.starts_at.desc(), OfflineEvent.id.desc())).all()
    events = db.session.scalars(
        query.where(OfflineEvent.status == "open", OfflineEvent.starts_at > now - timedelta(days=1))
        .order_by(OfflineEvent.starts_at, OfflineEvent.id)).all()
    events = [event for event in events if signup_open(event, now)]
    if member is not None:
        events = [event for event in events if eligible(event, member.id, now)]
    return events


def eligible(event: OfflineEvent, member_id: int, now: datetime | None = None) -> bool:
    """Whether the member is in the event's audience (the core audience service decides)."""
    from core.members import audience as audiences

    audience = audiences.Audience.from_dict(event.audience)
    return audience.is_everyone or audiences.contains(audience, member_id, now=now)


def counts(event_id: int) -> dict[str, int]:
    rows = db.session.execute(select(Registration.status, func.count()).where(Registration.event_id == event_id)
                              .group_by(Registration.status)).all()
    return {status: number for status, number in rows}


# ------------------------------------------------------------------ registrations


def get_registration(registration_id: int) -> Registration:
    registration = db.session.get(Registration, registration_id)
    if registration is None:
        raise NotFound(_("Registration %(id)s does not exist.", id=registration_id))
    return registration


def _locked_registration(registration_id: int) -> Registration | None:
    return db.session.scalar(select(Registration).where(Registration.id == registration_id)
                             .with_for_update(of=Registration).execution_options(populate_existing=True))


def new_ticket_code() -> str:
    """128 random bits, URL-safe: the QR code's only content."""
    return secrets.token_urlsafe(16)


def register(event_id: int, member_id: int, channel: str = "api",
             now: datetime | None = None) -> tuple[Registration, bool]:
    """Sign a member up: a seat while there is one, else the end of the waitlist.

    Returns the registration and whether this call made it; the same member
    again gets their registration back (a cancelled one is taken up again).
    The event row is locked only from taking the place to the commit: one
    conditional UPDATE and the registration's INSERT, so a rush of sign-ups
    queues on the shortest possible hold.
    """
    now = now or utcnow()
    get_member(member_id)
    event = get_event(event_id)
    existing = _registration_of(event_id, member_id)
    if existing is not None and existing.status != "cancelled":
        return existing, False
    if not signup_open(event, now):
        raise Conflict(_("Sign-up for this event is closed."), code="signup_closed")
    if not eligible(event, member_id, now):
        raise Forbidden(_("This event is not open to this member."), code="not_eligible")
    with transaction():
        status, seq = _take_place(event_id)
        if existing is None:
            registration = _insert_registration(event_id, member_id, status, seq, channel, now)
            if registration is None:  # the same member signed up at this very moment: theirs stands
                _give_place_back(event_id, status)
                return _registration_of(event_id, member_id), False
        else:
            registration = _locked_registration(existing.id)
            if registration.status != "cancelled":
                _give_place_back(event_id, status)
                return registration, False
            registration.status, registration.waitlist_seq = status, seq
            registration.confirmed_at = now if status == "confirmed" else None
            registration.cancelled_at = None
            registration.channel = channel[:20]
        db.session.flush()
        registration_id = registration.id
        on_commit(lambda: _tell_signed_up(registration_id))  # after the commit: not under the event's lock
        return registration, True


def _tell_signed_up(registration_id: int) -> None:
    """The member's inbox keeps their ticket link (or their place in line)."""
    registration = db.session.get(Registration, registration_id)
    with in_language(registration.member):
        title = (_("You are in: %(title)s", title=registration.event.title) if registration.status in SEATED
                 else _("On the waitlist: %(title)s", title=registration.event.title))
        notify(registration.member_id, title[:200], signup_message(registration))


def _take_place(event_id: int) -> tuple[str, int | None]:
    """A seat if one is left, else the next place in line: one conditional UPDATE of the event row."""
    table = OfflineEvent.__table__
    seated = db.session.execute(
        update(table).where(table.c.id == event_id, table.c.status == "open",
                            table.c.confirmed_count < table.c.capacity)
        .values(confirmed_count=table.c.confirmed_count + 1).returning(table.c.id)).first()
    if seated is not None:
        return "confirmed", None
    waiting = db.session.execute(
        update(table).where(table.c.id == event_id, table.c.status == "open")
        .values(waitlist_counter=table.c.waitlist_counter + 1).returning(table.c.waitlist_counter)).first()
    if waiting is None:
        raise Conflict(_("Sign-up for this event is closed."), code="signup_closed")
    return "waitlisted", waiting[0]


def _give_place_back(event_id: int, status: str) -> None:
    # Still under the row lock the place was taken with: nobody saw it taken.
    if status == "confirmed":
        table = OfflineEvent.__table__
        db.session.execute(update(table).where(table.c.id == event_id)
                           .values(confirmed_count=table.c.confirmed_count - 1))


def _insert_registration(event_id: int, member_id: int, status: str, seq: int | None, channel: str,
                         now: datetime) -> Registration | None:
    """Insert the registration, or None when the member already has one (the unique key decides)."""
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    statement = (dialect.insert(Registration)
                 .values(event_id=event_id, member_id=member_id, status=status, waitlist_seq=seq,
                         ticket_code=new_ticket_code(), channel=channel[:20], checkins_made=0, created_at=now,
                         confirmed_at=now if status == "confirmed" else None)
                 .on_conflict_do_nothing(index_elements=["event_id", "member_id"])
                 .returning(Registration))
    return db.session.scalars(statement, execution_options={"populate_existing": True}).first()


def _registration_of(event_id: int, member_id: int) -> Registration | None:
    return db.session.scalar(select(Registration).where(Registration.event_id == event_id,
                                                        Registration.member_id == member_id)
                             .execution_options(populate_existing=True))


def _seat(event: OfflineEvent, registration: Registration, now: datetime) -> None:
    event.confirmed_count += 1
    registration.status = "confirmed"
    registration.confirmed_at = now
    registration.waitlist_seq = None


def waitlist_position(registration: Registration) -> int | None:
    """1 for the first in line; None for a registration that is not waiting."""
    if registration.status != "waitlisted":
        return None
    ahead = db.session.scalar(select(func.count()).select_from(Registration).where(
        Registration.event_id == registration.event_id, Registration.status == "waitlisted",
        Registration.waitlist_seq < registration.waitlist_seq))
    return ahead + 1


def cancel_registration(registration_id: int, actor: str | None = None,
                        now: datetime | None = None) -> Registration:
    """Give up a registration; a freed seat goes to the first waitlisted member, who is told."""
    now = now or utcnow()
    event_id = get_registration(registration_id).event_id
    with transaction():
        event = _locked_event(event_id)
        registration = _locked_registration(registration_id)
        if registration.status == "cancelled":
            raise Conflict(_("This registration is already cancelled."), code="already_cancelled")
        if registration.status == "checked_in":
            raise Conflict(_("This member has already been checked in."), code="already_checked_in")
        held_seat = registration.status == "confirmed"
        registration.status = "cancelled"
        registration.cancelled_at = now
        registration.waitlist_seq = None
        if held_seat:
            event.confirmed_count -= 1
            _fill_seats(event, now)
        db.session.flush()
        return registration


def _fill_seats(event: OfflineEvent, now: datetime) -> list[Registration]:
    """Seat waitlisted members in arrival order while there are seats (the event row is locked)."""
    if event.status != "open" or event.ends_at <= now:
        return []
    free = event.capacity - event.confirmed_count
    if free <= 0:
        return []
    promoted = db.session.scalars(
        select(Registration).where(Registration.event_id == event.id, Registration.status == "waitlisted")
        .order_by(Registration.waitlist_seq).limit(free)
        .with_for_update(of=Registration).execution_options(populate_existing=True)).all()
    for registration in promoted:
        _seat(event, registration, now)
        with in_language(registration.member):
            notify(registration.member_id, _("You have a seat: %(title)s", title=event.title)[:200],
                   _("A seat freed up for %(title)s on %(when)s at %(venue)s. Show your ticket at the door: "
                     "%(url)s", title=event.title, when=local_time(event.starts_at), venue=event.venue,
                     url=ticket_url(registration.ticket_code)))
    return promoted


def registration_list(event_id: int, status: str | None = None, q: str | None = None):
    """An event's registrations in arrival order, by status, or found by a name fragment or phone."""
    get_event(event_id)
    query = (select(Registration).join(Member, Member.id == Registration.member_id)
             .where(Registration.event_id == event_id).order_by(Registration.id))
    if status:
        query = query.where(Registration.status == status)
    if q:
        q = q.strip()
        digits = "".join(ch for ch in q if ch.isdigit())
        conditions = [Member.name.ilike("%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%",
                                        escape="\\")]
        if len(digits) >= 4:
            conditions.append(Member.phone.like("%" + digits))
        query = query.where(or_(*conditions))
    return query


def member_registrations(member_id: int):
    get_member(member_id)
    return (select(Registration).where(Registration.member_id == member_id)
            .order_by(Registration.id.desc()))


def registration_by_ticket(code: str) -> Registration | None:
    code = ticket_code_of(code)
    if code is None:
        return None
    return db.session.scalar(select(Registration).where(Registration.ticket_code == code))


def public_url(path: str) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def ticket_url(code: str) -> str:
    return public_url(f"/t/{code}")


def ticket_qr_url(code: str) -> str:
    return public_url(f"/t/{code}/qr.png")


def event_url(event_id: int) -> str:
    return public_url(f"/e/{event_id}")


def local_time(value: datetime) -> str:
    """A time as a member reads it: in the brand's time zone, written the way of their language."""
    return moment(value)


def end_time(event: OfflineEvent) -> str:
    """When an event ends: the time alone when it ends on the day it starts (brand time zone)."""
    zone = ZoneInfo(current_app.config["BRAND_TIMEZONE"])
    if event.ends_at.astimezone(zone).date() == event.starts_at.astimezone(zone).date():
        return time(event.ends_at)
    return moment(event.ends_at)


def ticket_code_of(scanned: str | None) -> str | None:
    """The ticket code in what a scanner read: the code itself, or a ticket link that ends in it."""
    text = (scanned or "").strip()
    if not text or len(text) > MAX_TICKET_TEXT:
        return None
    if "/" in text:
        path = urlsplit(text).path.rstrip("/")
        if "/t/" not in path:
            return None
        text = path.rsplit("/t/", 1)[1].split("/", 1)[0]
    if not 8 <= len(text) <= 40 or not all(ch.isalnum() or ch in "-_" for ch in text) or not text.isascii():
        return None
    return text


def qr_png(data: str) -> bytes:
    import qrcode

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    buffer = BytesIO()
    qr.make_image().save(buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------ check-in


@dataclass
class Answer:
    """What the door is told: an HTTP status and the body, from the closed set of results."""

    status_code: int
    body: dict = field(default_factory=dict)

    @property
    def result(self) -> str:
        return self.body.get("reason") or self.body.get("status")


def _refusal(reason: str, nonce: str, registration: Registration | None = None, **extra) -> Answer:
    body = {"status": "error", "reason": reason, "nonce": nonce}
    if registration is not None:
        body.update(registration_id=registration.id, member_id=registration.member_id,
                    name=registration.member.name, event_id=registration.event_id)
    body.update(extra)
    return Answer(404 if reason == "invalid" else 409, body)


def _iso(value: datetime) -> str:
    return value.astimezone(ZoneInfo(current_app.config["BRAND_TIMEZONE"])).isoformat()


def check_in(event_id: int, nonce: str, *, ticket: str | None = None, registration_id: int | None = None,
             actor: str | None = None, scanned_at: datetime | None = None, offline: bool = False,
             now: datetime | None = None) -> Answer:
    """Let a ticket in at the door, once, and grant what coming earns -- all in one transaction.

    The registration is locked first, so of many scans of one ticket exactly one
    lets it in and the others are ``already_redeemed``. The scan is kept with its
    answer, by its ``nonce``, in the same transaction: a scanner's retry (even one
    racing the first) meets the first scan's row and is answered with its answer.
    """
    now = now or utcnow()
    scanned_at = now if scanned_at is None or scanned_at > now + CLOCK_SKEW else min(scanned_at, now)
    fingerprint = hashlib.sha256(f"{event_id}\0{ticket or ''}\0{registration_id or ''}".encode()).hexdigest()
    try:
        with transaction():
            scan = Scan(nonce=nonce, fingerprint=fingerprint, event_id=event_id, scanned_at=scanned_at,
                        offline=offline, created_by=actor, created_at=now)
            answer = _decide(scan, event_id, ticket, registration_id, actor, now)
            scan.result = answer.result
            scan.answer = {"status_code": answer.status_code, "body": answer.body}
            db.session.add(scan)
            db.session.flush()  # a twin with the same nonce fails here and is answered with the first answer
            return answer
    except IntegrityError:
        db.session.rollback()
        answer = _answer_of_scan(nonce, fingerprint)
        if answer is None:
            raise
        return answer


def _answer_of_scan(nonce: str, fingerprint: str) -> Answer | None:
    scan = db.session.scalar(select(Scan).where(Scan.nonce == nonce).execution_options(populate_existing=True))
    if scan is None:
        return None
    if not hmac.compare_digest(scan.fingerprint, fingerprint):
        raise Conflict(_("This nonce was used for another scan."), code="nonce_reused")
    return Answer(scan.answer["status_code"], dict(scan.answer["body"]))


def _decide(scan: Scan, event_id: int, ticket: str | None, registration_id: int | None, actor: str | None,
            now: datetime) -> Answer:
    nonce = scan.nonce
    if registration_id is not None:
        registration = _locked_registration(registration_id)
    else:
        code = ticket_code_of(ticket)
        registration = None if code is None else db.session.scalar(
            select(Registration).where(Registration.ticket_code == code)
            .with_for_update(of=Registration).execution_options(populate_existing=True))
    if registration is None:
        return _refusal("invalid", nonce)
    scan.registration_id = registration.id
    if registration.event_id != event_id:
        return _refusal("wrong_event", nonce, registration)
    if registration.status == "cancelled":
        return _refusal("canceled", nonce, registration)
    if registration.status == "waitlisted":
        return _refusal("waitlisted", nonce, registration,
                        waitlist_position=waitlist_position(registration))
    if registration.status == "checked_in":
        return _refusal("already_redeemed", nonce, registration,
                        checked_in_at=_iso(registration.checked_in_at))
    event = registration.event  # loaded with the locked row
    opens, closes = checkin_window(event)
    if event.status != "open" or not opens <= scan.scanned_at <= closes:
        return _refusal("not_open", nonce, registration, checkin_opens_at=_iso(opens),
                        checkin_closes_at=_iso(closes))

    # What coming earns is booked first, the registration changed after: its UPDATE then goes out in
    # the same flush as the check-in's INSERT instead of an autoflush of its own.
    source = PLUGIN.source("registration", registration.id, "attendance", registration.checkins_made + 1)
    member = registration.member
    coupon = None
    # The source names this check-in of a registration locked here (its count goes up with every
    # one): nothing can be booked under it yet, so the ledger does not look (its unique index still would refuse).
    if event.attendance_points:
        rewards.credit(member.id, int(event.attendance_points), (ATTENDED_REASON % {"title": event.title})[:200],
                       source, new_source=True)
    if event.attendance_coupon_template_id:
        coupon = rewards.issue_coupon(member.id, event.attendance_coupon_template_id, source=source + ":coupon",
                                      new_source=True)
    registration.checkins_made += 1
    registration.status = "checked_in"
    registration.checked_in_at = scan.scanned_at
    checkin = CheckIn(registration_id=registration.id, event_id=event.id, member_id=member.id, nonce=nonce,
                      offline=scan.offline, scanned_at=scan.scanned_at, created_at=now, created_by=actor,
                      ledger_source=source, points_granted=int(event.attendance_points or 0),
                      coupon_id=coupon.id if coupon else None)
    db.session.add(checkin)
    db.session.flush()
    scan.checkin_id = checkin.id
    coupons = [{"code": coupon.code, "title": coupon.template.title}] if coupon else []
    return Answer(201, {"status": "ok", "nonce": nonce, "checkin_id": checkin.id, "member_id": member.id,
                        "name": member.name, "registration_id": registration.id, "event_id": event.id,
                        "checked_in_at": _iso(checkin.scanned_at),
                        "granted": {"points": checkin.points_granted, "coupons": coupons}})


def check_in_batch(event_id: int, items: list[dict], actor: str | None = None,
                   now: datetime | None = None) -> list[dict]:
    """A scanner's offline scans, each answered exactly as ``check_in`` answers one (in its own transaction)."""
    answers = []
    for item in items:
        answer = check_in(event_id, item["nonce"], ticket=item["ticket"], actor=actor,
                          scanned_at=item.get("scanned_at"), offline=True, now=now)
        answers.append(dict(answer.body, http_status=answer.status_code))
    return answers


def get_checkin(checkin_id: int) -> CheckIn:
    checkin = db.session.get(CheckIn, checkin_id)
    if checkin is None:
        raise NotFound(_("Check-in %(id)s does not exist.", id=checkin_id))
    return checkin


def revert_checkin(checkin_id: int, actor: str | None = None, now: datetime | None = None) -> CheckIn:
    """Undo a check-in: the ticket may be used again, and what it granted is taken back, once.

    The attendance points come back off the lot they were booked as (what of it
    is left); the attendance coupon is voided unless it was already redeemed.
    """
    now = now or utcnow()
    registration_id = get_checkin(checkin_id).registration_id
    with transaction():
        registration = _locked_registration(registration_id)
        checkin = db.session.scalar(select(CheckIn).where(CheckIn.id == checkin_id)
                                    .with_for_update(of=CheckIn).execution_options(populate_existing=True))
        if checkin.reverted_at is not None:
            raise Conflict(_("This check-in is already reverted."), code="already_reverted")
        reason = (REVERTED_REASON % {"title": registration.event.title})[:200]
        points = 0
        if checkin.points_granted:
            reversal = rewards.reverse_credit(checkin.ledger_source, reason)
            points = -(reversal.points or 0) if reversal is not None else 0
        voided = None
        if checkin.coupon_id:
            voided = rewards.void_coupon(checkin.coupon_id).status == "void"
        checkin.reverted_at = now
        checkin.reverted_by = actor
        checkin.points_reversed = points
        checkin.coupon_voided = voided
        registration.status = "confirmed"
        registration.checked_in_at = None
        db.session.flush()
        return checkin


def checkin_list(event_id: int, now: datetime | None = None) -> dict:
    """What a scanner keeps to work offline: per ticket its hash, status and holder's display name."""
    event = get_event(event_id)
    opens, closes = checkin_window(event)
    rows = db.session.execute(
        select(Registration.id, Registration.ticket_code, Registration.status, Member.name)
        .join(Member, Member.id == Registration.member_id)
        .where(Registration.event_id == event_id).order_by(Registration.id)).all()
    return {"event": {"id": event.id, "title": event.title, "status": event.status,
                      "checkin_opens_at": _iso(opens), "checkin_closes_at": _iso(closes)},
            "hash": "sha256", "generated_at": _iso(now or utcnow()),
            "items": [{"registration_id": row.id, "ticket_hash": ticket_hash(row.ticket_code),
                       "status": row.status, "name": row.name} for row in rows]}


# ------------------------------------------------------------------ keywords


def keyword_event(text: str, now: datetime | None = None) -> tuple[OfflineEvent, str] | None:
    """The open event whose keyword ``text`` is, with which keyword it is (``signup`` / ``coupon``)."""
    keyword = normalise_keyword(text)
    if not keyword or len(keyword) > MAX_KEYWORD_LENGTH:
        return None
    row = db.session.execute(select(EventKeyword.kind, OfflineEvent)
                             .join(OfflineEvent, OfflineEvent.id == EventKeyword.event_id)
                             .where(EventKeyword.keyword == keyword)).first()
    if row is None or not is_open(row.OfflineEvent, now):
        return None
    return row.OfflineEvent, row.kind


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="offline_events.join")


def join_url(event_id: int, channel: str, sender: str) -> str:
    """A link that lets the sender of a keyword join and come back to this event's sign-up.

    It is signed and carries their channel identity, so the account they make is
    the one the channel knows them by the next time they write.
    """
    token = _serializer().dumps({"e": event_id, "c": channel, "s": sender})
    return public_url(f"/e/{event_id}/join?t={token}")


def read_join_token(token: str | None, event_id: int) -> dict | None:
    """The channel identity in a join link for ``event_id``, or None when it is absent, forged or stale."""
    if not token or len(token) > 1000:
        return None
    try:
        data = _serializer().loads(token, max_age=JOIN_LINK_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("e") != event_id or not isinstance(data.get("s"), str):
        return None
    return data


def issue_keyword_coupon(event: OfflineEvent, member_id: int) -> tuple[Coupon, bool]:
    """The event's online coupon, once per member: returns it and whether this call issued it."""
    source = PLUGIN.source("event", event.id, "keyword_coupon", member_id)
    with transaction():
        rewards.lock_member(member_id)
        existing = db.session.scalar(select(Coupon).where(Coupon.source == source))
        if existing is not None:
            return existing, False
        return rewards.issue_coupon(member_id, event.coupon_template_id, source=source), True


def keyword_reply(member: Member | None, text: str, channel: str, sender: str,
                  now: datetime | None = None) -> str | None:
    """Answer an event keyword: sign the member up, or give them the coupon, in their language."""
    found = keyword_event(text, now)
    if found is None:
        return None
    event, kind = found
    with in_language(member):
        if member is None:
            return _("Join us to sign up for %(title)s: %(url)s", title=event.title,
                     url=join_url(event.id, channel, sender))
        if kind == "coupon":
            return _coupon_reply(event, member, now)
        return _signup_reply(event, member, now)


def _signup_reply(event: OfflineEvent, member: Member, now: datetime | None) -> str:
    try:
        registration, _created = register(event.id, member.id, channel="keyword", now=now)
    except Conflict:
        return _("Sign-up for %(title)s is closed.", title=event.title)
    except Forbidden:
        return _("Sorry, %(title)s is not open to your membership.", title=event.title)
    return signup_message(registration)


def signup_message(registration: Registration) -> str:
    """What a member is told about their registration (keyword reply and pages alike)."""
    event = registration.event
    if registration.status in SEATED:
        return _("You are in: %(title)s, %(when)s at %(venue)s. Your ticket: %(url)s", title=event.title,
                 when=local_time(event.starts_at), venue=event.venue, url=ticket_url(registration.ticket_code))
    if registration.status == "waitlisted":
        return _("%(title)s is full. You are number %(position)s on the waitlist; we will tell you when a seat "
                 "frees up. Your ticket: %(url)s", title=event.title, position=waitlist_position(registration),
                 url=ticket_url(registration.ticket_code))
    return _("Your registration for %(title)s is cancelled.", title=event.title)


def _coupon_reply(event: OfflineEvent, member: Member, now: datetime | None) -> str:
    if not eligible(event, member.id, now):
        return _("Sorry, %(title)s is not open to your membership.", title=event.title)
    coupon, issued = issue_keyword_coupon(event, member.id)
    if issued:
        return _("Here is your coupon for %(title)s: %(code)s", title=coupon.template.title, code=coupon.code)
    return _("You already have this coupon: %(code)s", code=coupon.code)


# ------------------------------------------------------------------ report


def _online(member_ids: list[int], starts: datetime, ends: datetime) -> dict:
    """Paid (not refunded) orders of ``member_ids`` in [starts, ends): how many ordered, and for how much."""
    members = len(member_ids)
    ordered, orders, revenue = 0, 0, Decimal("0")
    for start in range(0, members, 5000):
        chunk = member_ids[start:start + 5000]
        row = db.session.execute(
            select(func.count(func.distinct(Order.member_id)), func.count(Order.id),
                   func.coalesce(func.sum(Order.amount), 0))
            .where(Order.member_id.in_(chunk), Order.status == "paid", Order.paid_at >= starts,
                   Order.paid_at < ends)).one()
        ordered += row[0]
        orders += row[1]
        revenue += Decimal(row[2])
    return {"members": members, "ordered_within_30_days": ordered,
            "conversion_rate": round(ordered / members, 4) if members else None,
            "orders": orders, "revenue": f"{revenue.quantize(Decimal('0.01'))}",
            "aov": f"{(revenue / orders).quantize(Decimal('0.01'))}" if orders else None}


def report(event_id: int, now: datetime | None = None) -> dict:
    """The funnel from sign-up to the door, and what attendees and no-shows bought online afterwards.

    Online orders count from the event's start until 30 days after its end.
    No-shows are registrations that held a seat and were never checked in.
    """
    event = get_event(event_id)
    by_status = counts(event_id)
    seated = by_status.get("confirmed", 0) + by_status.get("checked_in", 0)
    checked_in = by_status.get("checked_in", 0)
    attendee_ids = db.session.scalars(select(Registration.member_id).where(
        Registration.event_id == event_id, Registration.status == "checked_in")).all()
    absentee_ids = db.session.scalars(select(Registration.member_id).where(
        Registration.event_id == event_id, Registration.status == "confirmed")).all()
    starts, ends = event.starts_at, event.ends_at + timedelta(days=REPORT_DAYS)
    return {"event_id": event.id, "registered": sum(by_status.values()), "confirmed": seated,
            "waitlisted": by_status.get("waitlisted", 0), "cancelled": by_status.get("cancelled", 0),
            "checked_in": checked_in, "no_shows": by_status.get("confirmed", 0),
            "attendance_rate": round(checked_in / seated, 4) if seated else None,
            "window": {"starts_at": _iso(starts), "ends_at": _iso(ends)},
            "attendees_online": _online(list(attendee_ids), starts, ends),
            "absentees_online": _online(list(absentee_ids), starts, ends),
            "computed_at": _iso(now or utcnow())}
