"""Referral rules: codes, share-link visits, attribution with fraud checks,
qualification, the hold, release or reversal of rewards, and the programme's numbers.

Every change to a referral takes that referral's row lock first, then (through
the ledger) the members' row locks, always the referee's before the referrer's.
Concurrent reports of the qualifying order, release jobs and refunds of the
same referral therefore run one after another and each sees what the previous
one did; the ledger's unique sources are a second guard against booking twice.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import os
import secrets
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

from flask import current_app, has_request_context, request
from itsdangerous import BadData, URLSafeTimedSerializer
from itsdangerous.encoding import base64_encode
from itsdangerous.url_safe import URLSafeSerializerMixin
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.database import advisory_lock, run_alone, transaction, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.i18n import N_, _, in_language, stored_template
from core.extensions import db
from core.jobs import enqueue, job_timeout
from core.members.models import Member
from core.notifications.services import notify, notify_many
from core.orders.models import Order
from core.rewards import services as ledger
from core.rewards.models import Coupon, CouponTemplate, PointsEntry
from core.schemas import estimated_rows
from plugins.referral import PLUGIN, qr, rollup
from plugins.referral import clicks as click_batch
from plugins.referral.models import (COUNTED, QUALIFIED, Referral, ReferralClick, ReferralCode, ReferralDaily,
                                     ReferralDailyTotal, ReferralQrExport)

log = logging.getLogger(__name__)

# The coupon alphabet has no 0/O/1/I/L, so a code read aloud or off a poster is typed right.
# Ledger reasons, stored in English and shown in the reader's language (core.i18n.translate_stored).
REFEREE_REASON = N_("Welcome reward for joining through a friend")
REFERRER_REASON = N_("Reward for inviting a friend")
# Translators: ledger reason
MILESTONE_REASON = stored_template(N_("Referral milestone: %(count)s friends"))
CANCELLED_REASON = N_("Referral cancelled: the qualifying order was refunded")

CODE_ALPHABET = ledger.CODE_ALPHABET
CODE_LENGTH = 7  # 31**7: about 27 billion codes
MAX_CODE_LENGTH = 16
ATTRIBUTION_COOKIE = "memberday_ref"
DEVICE_COOKIE = "memberday_device"

# Why a referral was refused or cancelled (the closed set shown to operators).
SELF_REFERRAL = "self_referral"
ALREADY_MEMBER = "already_member"
DUPLICATE_DEVICE = "duplicate_device"
DUPLICATE_PHONE = "duplicate_phone"
DAILY_CAP = "daily_cap"
MONTHLY_CAP = "monthly_cap"
REFUNDED_DURING_HOLD = "refunded_during_hold"
REFUNDED_AFTER_RELEASE = "refunded_after_release"



# A field message stored in English and shown in the reader's language (core.i18n.translate_stored).
# Translators: ledger reason
UNKNOWN_MEMBERS = stored_template(N_("These members do not exist: %(ids)s"))

def settings() -> dict:
    return PLUGIN.settings()


# ------------------------------------------------------------------ codes


def normalise_code(raw) -> str | None:
    """The code as stored (upper case), or None when it cannot be one of ours."""
    if not isinstance(raw, str):
        return None
    code = raw.strip()
    # ASCII first: some letters (e.g. the long s) turn into ASCII ones when upper-cased.
    if not code.isascii() or not 4 <= len(code) <= MAX_CODE_LENGTH:
        return None
    code = code.upper()
    return code if all(char in CODE_ALPHABET for char in code) else None


@dataclass(frozen=True)
class CodeRef:
    """A code and whose it is: all a share link needs."""

    code: str
    member_id: int


_known_codes: OrderedDict = OrderedDict()
_known_codes_lock = threading.Lock()
KNOWN_CODES_KEPT = 20_000


def find_code(raw) -> CodeRef | None:
    """Whose code this is, or None. Found codes are remembered in the process: a code is never
    reassigned or deleted, and share links and QR images are the busiest pages."""
    code = normalise_code(raw)
    if code is None:
        return None
    key = (current_app.config["SQLALCHEMY_DATABASE_URI"], code)
    known = _known_codes.get(key)
    if known is not None:
        return known
    member_id = db.session.scalar(select(ReferralCode.member_id).where(ReferralCode.code == code))
    if member_id is None:
        return None
    known = CodeRef(code, member_id)
    with _known_codes_lock:
        _known_codes[key] = known
        while len(_known_codes) > KNOWN_CODES_KEPT:
            _known_codes.popitem(last=False)
    return known


def code_for(member_id: int) -> ReferralCode:
    """The member's code, created the first time it is asked for.

    Two first requests at once both try to insert; the unique indexes on the
    member and on the code let one win, and the other reads the winner's row.
    """
    existing = db.session.scalar(select(ReferralCode).where(ReferralCode.member_id == member_id))
    if existing is not None:
        return existing
    if db.session.get(Member, member_id) is None:
        raise NotFound(_("Member %(id)s does not exist.", id=member_id))
    with transaction():
        for _attempt in range(10):
            try:
                with db.session.begin_nested():
                    row = ReferralCode(member_id=member_id,
                                       code="".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)))
                    db.session.add(row)
                    db.session.flush()
                return row
            except IntegrityError:
                existing = db.session.scalar(select(ReferralCode).where(ReferralCode.member_id == member_id))
                if existing is not None:
                    return existing
        raise RuntimeError("could not find a free referral code")


def public_url(path: str) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def share_url(code: str) -> str:
    return public_url(f"/r/{code}")


def scan_url(code: str) -> str:
    """What the QR code holds: the share link, marked so that scans are counted apart."""
    return share_url(code) + "?src=qr"


def landing_url(code: str) -> str:
    """Where a share link leads: the operator's page, or the plugin's own join page."""
    configured = settings().get("landing_url")
    if not configured:
        return f"/r/{code}/join"
    if "{code}" in configured:
        return configured.replace("{code}", code)
    return configured + ("&" if "?" in configured else "?") + f"ref={code}"


# ------------------------------------------------------------------ share-link visits


def client_hash(address: str | None) -> str:
    """A keyed hash of the client's address: distinct visitors can be counted, addresses not recovered."""
    return hmac.new(_client_key(current_app.config["SECRET_KEY"]), (address or "").encode(),
                    hashlib.sha256).hexdigest()[:32]


@functools.lru_cache(maxsize=8)
def _client_key(secret: str) -> bytes:
    return hashlib.sha256(b"referral-client:" + secret.encode()).digest()


def record_click(code: CodeRef, source: str, user_agent: str | None, address: str | None) -> None:
    """Count a visit: into this process's batch of clicks (``clicks``), or written at once."""
    click = dict(referrer_id=code.member_id, source=source if source == "qr" else "link",
                 user_agent=(user_agent or "").replace("\x00", "")[:300], client_hash=client_hash(address),
                 created_at=utcnow())
    batch = click_batch.buffer()
    if batch is not None:
        batch.add(click)
        return
    with transaction():
        db.session.add(ReferralClick(**click))


def _serializer() -> URLSafeTimedSerializer:
    return _serializer_for(current_app.config["SECRET_KEY"])


class _AttributionSerializer(URLSafeTimedSerializer):
    """URL-safe and timed, without trying zlib first: a code of a few bytes never shrinks, and
    the attempt cost more than the signature. What it writes is what it wrote before (a payload
    that compresses is never this short), and it reads every cookie it ever wrote."""

    def dump_payload(self, obj) -> bytes:
        return base64_encode(super(URLSafeSerializerMixin, self).dump_payload(obj))


@functools.lru_cache(maxsize=8)
def _serializer_for(secret: str) -> URLSafeTimedSerializer:
    # Built once per key: every share link signs a cookie with it.
    return _AttributionSerializer(secret, salt="referral-attribution")


def attribution_cookie_value(code: str) -> str:
    return _serializer().dumps(code)


def attributed_code(cookie_value: str | None) -> str | None:
    """The code a signed attribution cookie carries, if it is genuine and inside the window."""
    if not cookie_value or len(cookie_value) > 200:
        return None
    window = settings().get("attribution_window_days", 30)
    try:
        code = _serializer().loads(cookie_value, max_age=window * 86400)
    except BadData:
        return None
    return code if isinstance(code, str) else None


# ------------------------------------------------------------------ attribution and fraud


def attribute_join(member: Member, context: dict) -> Referral | None:
    """A member joined: turn the referral code (given, or from the share link's cookie) into a referral."""
    raw = (context or {}).get("referral_code")
    if not raw and has_request_context():
        raw = attributed_code(request.cookies.get(ATTRIBUTION_COOKIE))
    code = find_code(raw) if raw else None
    if code is None:
        return None
    referral = record_referral(code, member.id, channel=(context or {}).get("channel") or "")
    if referral.status == "pending" and settings()["qualify_on"] == "signup":
        referral = qualify(referral.id)
    return referral


def record_referral(code: CodeRef, referee_id: int, channel: str = "", reason: str | None = None) -> Referral:
    """Record that ``referee_id`` came through ``code``: pending, or rejected with a reason.

    A member is referred at most once; a later attempt returns the first referral.
    """
    cfg = settings()
    try:
        with transaction():
            # The referrer's lock makes the per-day and per-month limits exact under concurrent joins.
            referrer = ledger.lock_member(code.member_id)
            existing = db.session.scalar(select(Referral).where(Referral.referee_id == referee_id))
            if existing is not None:
                return existing
            referee = db.session.get(Member, referee_id, populate_existing=True)
            if referee is None:
                raise NotFound(_("Member %(id)s does not exist.", id=referee_id))
            # The device and phone checks look across referrers: whoever checks a device or a
            # phone holds its lock until commit, so two friends on one device joining through
            # two referrers at once are checked one after the other.
            advisory_lock(*([f"referral:device:{referee.device_id}"] if referee.device_id else []),
                          *([f"referral:phone:{referee.phone}"] if referee.phone else []))
            reason = reason or rejection_reason(referrer, referee, cfg)
            if reason == ALREADY_MEMBER and referrer.id == referee.id:
                reason = SELF_REFERRAL
            referral = Referral(referrer_id=referrer.id, referee_id=referee.id, code=code.code, channel=channel[:20],
                                status="rejected" if reason else "pending", reason=reason,
                                device_id=referee.device_id, phone=referee.phone)
            db.session.add(referral)
            db.session.flush()
            return referral
    except IntegrityError:
        # The same member attributed twice at once: the unique referee index kept the first.
        existing = db.session.scalar(select(Referral).where(Referral.referee_id == referee_id))
        if existing is None:
            raise
        return existing


def rejection_reason(referrer: Member, referee: Member, cfg: dict, now: datetime | None = None) -> str | None:
    """Why this referral must not pay out, or None when it may."""
    if referrer.id == referee.id or (referee.device_id and referee.device_id == referrer.device_id):
        return SELF_REFERRAL
    if referee.device_id:
        same_device = select(Member.id).where(Member.device_id == referee.device_id, Member.id != referee.id)
        if db.session.scalar(select(Referral.id).where(
                Referral.referee_id != referee.id,
                (Referral.device_id == referee.device_id) | Referral.referee_id.in_(same_device)).limit(1)):
            return DUPLICATE_DEVICE
        # Someone already joined from this device without a referral: this is likely the same person again.
        if db.session.scalar(same_device.where(Member.created_at < referee.created_at).limit(1)):
            return ALREADY_MEMBER
    if referee.phone and db.session.scalar(select(Referral.id).where(
            Referral.phone == referee.phone, Referral.referee_id != referee.id).limit(1)):
        return DUPLICATE_PHONE
    now = now or utcnow()
    for limit_key, period, reason in (("max_referrals_per_day", "day", DAILY_CAP),
                                      ("max_referrals_per_month", "month", MONTHLY_CAP)):
        limit = cfg.get(limit_key)
        if limit and _referrals_since(referrer.id, period_start(period, now)) >= limit:
            return reason
    return None


def _referrals_since(referrer_id: int, since: datetime) -> int:
    return db.session.scalar(select(func.count(Referral.id)).where(
        Referral.referrer_id == referrer_id, Referral.status.in_(COUNTED), Referral.created_at >= since))


def record_existing_member(code: CodeRef, member: Member) -> Referral:
    """Someone who already had an account followed a share link and tried to join again."""
    return record_referral(code, member.id, channel="web", reason=ALREADY_MEMBER)


# ------------------------------------------------------------------ qualification and the hold


def _side_source(referral_id: int, side: str) -> str:
    return PLUGIN.source(referral_id, side)


def _lock_referral(referral_id: int) -> Referral:
    referral = db.session.scalar(select(Referral).where(Referral.id == referral_id).with_for_update()
                                 .execution_options(populate_existing=True))
    if referral is None:
        raise NotFound(_("Referral %(id)s does not exist.", id=referral_id))
    return referral


def order_paid(order: Order, member: Member) -> Referral | None:
    """A paid order may be the referee's qualifying one."""
    cfg = settings()
    if cfg["qualify_on"] != "first_order" or Decimal(order.amount) < Decimal(str(cfg["min_order_amount"])):
        return None
    referral_id = db.session.scalar(select(Referral.id).where(Referral.referee_id == member.id,
                                                              Referral.status == "pending"))
    if referral_id is None:
        return None
    return qualify(referral_id, order.external_id)


def qualify(referral_id: int, order_external_id: str | None = None, now: datetime | None = None) -> Referral:
    """Hold the referral: both rewards booked as pending points until ``hold_until``. Once."""
    cfg = settings()
    now = now or utcnow()
    with transaction():
        referral = _lock_referral(referral_id)
        if referral.status != "pending":
            return referral
        if order_external_id is not None:
            # Locking the order orders us with a refund of it: either it is refunded first and we
            # see it, or the refund waits and then finds this referral held and reverses it.
            order = db.session.scalar(select(Order).where(Order.external_id == order_external_id)
                                      .with_for_update().execution_options(populate_existing=True))
            if order is None or order.status != "paid":
                return referral
        referral.status = "held"
        referral.qualified_at = now
        referral.hold_until = now + timedelta(days=cfg["hold_days"])
        referral.qualifying_order = order_external_id
        expires_at = referral.hold_until + timedelta(days=current_app.config["POINTS_EXPIRY_DAYS"])
        # Both sides locked at once, in id order, as the release job locks them: never a deadlock.
        ledger.lock_members([referral.referee_id, referral.referrer_id])
        for side, member_id, points, reason in (
                ("referee", referral.referee_id, cfg["referee_points"], REFEREE_REASON),
                ("referrer", referral.referrer_id, cfg["referrer_points"], REFERRER_REASON)):
            if points:
                ledger.credit(member_id, points, reason, _side_source(referral.id, side), pending=True,
                              expires_at=expires_at)
        if cfg["hold_days"] == 0:
            enqueue(PLUGIN.job("release_due"))
        return referral


def release_due(now: datetime | None = None, batch: int = 200) -> dict:
    """The periodic job: reward every held referral whose hold has ended. Safe to run twice at once.

    Works a batch at a time (``release_batch``), each in one transaction: a run killed half way
    loses only its open batch, which the next run does again, and books nothing twice.
    """
    now = now or utcnow()
    released = 0
    while True:
        done, found = release_batch(now, batch)
        released += done
        if not found:
            return {"released": released}


def release_batch(now: datetime | None = None, batch: int = 200) -> tuple[int, int]:
    """Release up to ``batch`` due referrals in one transaction; returns (released, referrals taken).

    The due referrals are locked skipping those another transaction holds (a second run, a
    refund), so two runs at once share the work instead of waiting on each other. Each
    qualifying order is locked and re-checked here, where value moves: a referral whose order
    was refunded is reversed instead. The rest are released in set statements: their members
    locked in id order, the held lots made spendable in three statements for the whole batch.
    """
    cfg = settings()
    now = now or utcnow()
    with transaction():
        referrals = list(db.session.scalars(
            select(Referral).where(Referral.status == "held", Referral.hold_until <= now)
            .order_by(Referral.hold_until, Referral.id).limit(batch)
            .with_for_update(skip_locked=True).execution_options(populate_existing=True)))
        if not referrals:
            return 0, 0
        orders = [referral.qualifying_order for referral in referrals if referral.qualifying_order is not None]
        paid = set(db.session.scalars(
            select(Order.external_id).where(Order.external_id.in_(orders), Order.status == "paid")
            .order_by(Order.id).with_for_update())) if orders else set()
        # Every member of the batch locked at once, in id order, before any value moves.
        ledger.lock_members([m for r in referrals for m in (r.referee_id, r.referrer_id)])
        releasing = []
        for referral in referrals:
            if referral.qualifying_order is not None and referral.qualifying_order not in paid:
                _reverse(referral, REFUNDED_DURING_HOLD)
            else:
                releasing.append(referral)
        if not releasing:
            return 0, len(referrals)
        ledger.release_many([_side_source(r.id, side) for r in releasing for side in ("referee", "referrer")],
                            "Referral reward released")
        templates = {}
        for side, key in (("referee", "referee_coupon_template_id"), ("referrer", "referrer_coupon_template_id")):
            template_id = cfg.get(key)
            if template_id and db.session.get(CouponTemplate, template_id) is None:
                log.warning("referral coupon template %s does not exist; no coupon issued", template_id)
            elif template_id:
                templates[side] = template_id
        for referral in releasing:
            for side, member_id in (("referee", referral.referee_id), ("referrer", referral.referrer_id)):
                if side in templates:
                    ledger.issue_coupon(member_id, templates[side], source=f"{_side_source(referral.id, side)}:coupon")
            referral.status = "rewarded"
            referral.rewarded_at = now
        db.session.flush()
        _book_milestones_of({referral.referrer_id for referral in releasing}, cfg)
        # Each side is told in the language they saved (one read for the batch), whoever runs the job.
        told = {member_id for referral in releasing for member_id in (referral.referee_id, referral.referrer_id)}
        locales = dict(db.session.execute(select(Member.id, Member.locale).where(Member.id.in_(told))).all())
        notify_many([message for referral in releasing for message in (
            _release_notice(referral.referee_id, "referee", locales),
            _release_notice(referral.referrer_id, "referrer", locales))])
        return len(releasing), len(referrals)


def _release_notice(member_id: int, side: str, locales: dict) -> tuple[int, str, str]:
    """(member, title, body) of a released reward's notice, in the member's language."""
    locale = locales.get(member_id)
    with in_language(locale):
        if side == "referee":
            title, body = (_("Your welcome reward is here"),
                           _("Thanks for joining through a friend: your reward is now yours to use."))
        else:
            title, body = (_("Your friend joined"),
                           _("A friend you invited joined and qualified: your referral reward is now yours to use."))
    return member_id, title, body


def _book_milestones_of(referrer_ids: set[int], cfg: dict) -> None:
    """The milestones these referrers (locked by the caller) reached, each booked once."""
    if not cfg.get("milestones") or not referrer_ids:
        return
    rewarded = dict(db.session.execute(
        select(Referral.referrer_id, func.count(Referral.id))
        .where(Referral.referrer_id.in_(referrer_ids), Referral.status == "rewarded")
        .group_by(Referral.referrer_id)).all())
    due = {PLUGIN.source("milestone", referrer_id, milestone["count"]): (referrer_id, milestone)
           for referrer_id, count in rewarded.items()
           for milestone in cfg["milestones"] if milestone["count"] <= count}
    booked = set(db.session.scalars(select(PointsEntry.source).where(PointsEntry.source.in_(list(due))))) if due else set()
    for source, (referrer_id, milestone) in sorted(due.items(), key=lambda item: (item[1][0], item[1][1]["count"])):
        if source not in booked:
            ledger.credit(referrer_id, milestone["points"], MILESTONE_REASON % {"count": milestone["count"]}, source)


def release_referral(referral_id: int, now: datetime | None = None) -> bool:
    """Reward both sides of one held referral whose hold has ended; False when there was nothing to do."""
    cfg = settings()
    now = now or utcnow()
    with transaction():
        referral = _lock_referral(referral_id)
        if referral.status != "held" or referral.hold_until > now:
            return False
        if referral.qualifying_order is not None:
            # Re-checked here, where value moves, not trusted to the refund event (which this
            # plugin misses while it is off): the order's lock orders us with a refund of it.
            order = db.session.scalar(select(Order).where(Order.external_id == referral.qualifying_order)
                                      .with_for_update().execution_options(populate_existing=True))
            if order is None or order.status != "paid":
                _reverse(referral, REFUNDED_DURING_HOLD)
                return False
        ledger.lock_members([referral.referee_id, referral.referrer_id])  # in id order, as a batch does
        for side, member_id, template_key in (("referee", referral.referee_id, "referee_coupon_template_id"),
                                              ("referrer", referral.referrer_id, "referrer_coupon_template_id")):
            source = _side_source(referral.id, side)
            if ledger.entry_by_source(source) is not None:
                ledger.release(source, "Referral reward released")
            template_id = cfg.get(template_key)
            if template_id:
                if db.session.get(CouponTemplate, template_id) is None:
                    log.warning("referral coupon template %s does not exist; no coupon issued", template_id)
                else:
                    ledger.issue_coupon(member_id, template_id, source=f"{source}:coupon")
        referral.status = "rewarded"
        referral.rewarded_at = now
        db.session.flush()
        _book_milestones(referral.referrer_id, cfg)
        with in_language(referral.referee_id):  # each in their own language, whoever released the hold
            notify(referral.referee_id, _("Your welcome reward is here"),
                   _("Thanks for joining through a friend: your reward is now yours to use."))
        with in_language(referral.referrer_id):
            notify(referral.referrer_id, _("Your friend joined"),
                   _("A friend you invited joined and qualified: your referral reward is now yours to use."))
        return True


def _book_milestones(referrer_id: int, cfg: dict) -> None:
    """Extra points at the n-th rewarded referral; each milestone is booked once (its source is unique)."""
    if not cfg.get("milestones"):
        return
    ledger.lock_member(referrer_id)  # counted under the referrer's lock: concurrent releases agree
    rewarded = db.session.scalar(select(func.count(Referral.id)).where(
        Referral.referrer_id == referrer_id, Referral.status == "rewarded"))
    for milestone in sorted(cfg["milestones"], key=lambda m: m["count"]):
        if milestone["count"] <= rewarded:
            ledger.credit(referrer_id, milestone["points"], MILESTONE_REASON % {"count": milestone["count"]},
                          PLUGIN.source("milestone", referrer_id, milestone["count"]))


def order_refunded(order: Order, member: Member) -> Referral | None:
    """A refund of a qualifying order cancels the held rewards (and, with clawback, released ones)."""
    referral_id = db.session.scalar(select(Referral.id).where(Referral.qualifying_order == order.external_id))
    if referral_id is None:
        return None
    cfg = settings()
    with transaction():
        referral = _lock_referral(referral_id)
        if referral.status == "held":
            reason = REFUNDED_DURING_HOLD
        elif referral.status == "rewarded" and cfg["clawback_after_release"]:
            reason = REFUNDED_AFTER_RELEASE
        else:
            return referral
        return _reverse(referral, reason)


def _reverse(referral: Referral, reason: str) -> Referral:
    """Take back both sides' rewards (held points, coupons) of a locked referral, once."""
    ledger.lock_members([referral.referee_id, referral.referrer_id])  # in id order, as the release job
    for side in ("referee", "referrer"):
        source = _side_source(referral.id, side)
        ledger.reverse_credit(source, CANCELLED_REASON)
        coupon = db.session.scalar(select(Coupon).where(Coupon.source == f"{source}:coupon"))
        if coupon is not None:
            ledger.void_coupon(coupon.id)
    referral.status = "reversed"
    referral.reason = reason
    referral.reversed_at = utcnow()
    return referral


# ------------------------------------------------------------------ numbers


def period_start(period: str, now: datetime | None = None) -> datetime | None:
    """The start of the current day / week (Monday) / month in the brand's time zone; None for all time."""
    if period == "all":
        return None
    local = (now or utcnow()).astimezone(ZoneInfo(current_app.config["BRAND_TIMEZONE"]))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        start -= timedelta(days=start.weekday())
    elif period == "month":
        start = start.replace(day=1)
    return start


def member_stats(member_id: int) -> dict:
    """A referrer's numbers, from the daily rollup (one short index range, however busy they are)."""
    click_batch.flush()  # what this process has taken is counted
    counts = rollup.totals_by_metric(ReferralDaily, ReferralDaily.referrer_id == member_id)
    return {
        "clicks": counts.get("clicks", 0),
        "scans": counts.get("scans", 0),
        "signups": counts.get("signups", 0),
        "qualified": counts.get("standing", 0),
        "rewarded": counts.get("rewarded", 0),
    }


def member_referral(member_id: int) -> dict:
    code = code_for(member_id).code
    return {"member_id": member_id, "code": code, "share_url": share_url(code),
            "qr_png_url": share_url(code) + "/qr.png", "qr_svg_url": share_url(code) + "/qr.svg",
            "stats": member_stats(member_id)}


def referrals_query(referrer_id: int | None = None, referee_id: int | None = None, status: str | None = None):
    query = select(Referral).order_by(Referral.id.desc())
    if referrer_id:
        query = query.where(Referral.referrer_id == referrer_id)
    if referee_id:
        query = query.where(Referral.referee_id == referee_id)
    if status:
        query = query.where(Referral.status == status)
    return query


def masked_name(name: str) -> str:
    """A leaderboard is public: show only the first letter of each part of the name."""
    parts = [part for part in (name or "").split() if part]
    return " ".join(part[0] + "*" * min(len(part) - 1, 3) for part in parts) or "*"


def leaderboard(period: str, limit: int = 10, reveal: bool = False) -> dict:
    """Top referrers by friends who qualified in the period and still stand (held or rewarded);
    ties go to who got there first. Read from the daily rollup."""
    since = period_start(period)
    referrals = func.sum(ReferralDaily.count).label("referrals")
    query = (select(ReferralDaily.referrer_id, referrals).where(ReferralDaily.metric == "standing")
             .group_by(ReferralDaily.referrer_id).having(func.sum(ReferralDaily.count) > 0)
             .order_by(referrals.desc(), func.min(ReferralDaily.first_at), ReferralDaily.referrer_id).limit(limit))
    if since is not None:
        query = query.where(ReferralDaily.day >= since.date())
    rows = db.session.execute(query).all()
    names = dict(db.session.execute(select(Member.id, Member.name)
                                    .where(Member.id.in_([row.referrer_id for row in rows]))).all())
    items = []
    for rank, row in enumerate(rows, 1):
        item = {"rank": rank, "name": masked_name(names.get(row.referrer_id, "")), "referrals": int(row.referrals)}
        if reveal:
            item.update(member_id=row.referrer_id, name=names.get(row.referrer_id, ""))
        items.append(item)
    return {"period": period, "since": since, "items": items}


def funnel(period: str = "all") -> dict:
    """The programme's funnel and viral coefficient for a period, from the daily rollup.

    invites per member = share-link visits (clicks and scans) / members;
    conversion = friends who joined through a link / visits;
    viral coefficient = invites per member × conversion (new members each member brings).
    """
    click_batch.flush()  # what this process has taken is counted
    since = period_start(period)
    conditions = [ReferralDailyTotal.day >= since.date()] if since is not None else []
    counts = rollup.totals_by_metric(ReferralDailyTotal, *conditions)
    rejected = {metric.split(":", 1)[1]: n for metric, n in counts.items() if metric.startswith("rejected:") and n}
    clicks, scans, signups = counts.get("clicks", 0), counts.get("scans", 0), counts.get("signups", 0)
    members = member_count()
    invites = clicks + scans
    invites_per_member = invites / members if members else 0.0
    conversion = signups / invites if invites else 0.0
    return {
        "period": period, "since": since, "members": members,
        "clicks": clicks, "scans": scans, "signups": signups, "rejected": sum(rejected.values()),
        "rejected_by_reason": rejected, "qualified": counts.get("qualified", 0),
        "rewarded": counts.get("rewarded", 0), "reversed": counts.get("reversed", 0),
        "invites_per_member": round(invites_per_member, 4), "conversion": round(conversion, 4),
        "viral_coefficient": round(invites_per_member * conversion, 4),
    }


def member_count() -> int:
    """How many members there are: exact up to 100,000, then the planner's estimate (a ratio's
    denominator needs no more, and counting a million rows takes longer than the whole funnel)."""
    estimate = estimated_rows(select(Member.id))
    if estimate is not None and estimate > 100_000:
        return estimate
    return db.session.scalar(select(func.count(Member.id))) or 0


# ------------------------------------------------------------------ QR codes


@lru_cache(maxsize=4096)
def qr_image(data: str, image_format: str) -> bytes:
    """The QR image of ``data`` as PNG or SVG bytes (kept in memory: the same link always gives the same
    image). It keeps the best of the eight masks; the export uses one fixed mask, for speed."""
    return qr.render(data, image_format)


def qr_etag(data: str, image_format: str) -> str:
    return hashlib.sha256(f"qr2|{image_format}|{data}".encode()).hexdigest()[:32]


def export_dir() -> str:
    return current_app.config.get("REFERRAL_EXPORT_DIR") or os.path.join(current_app.instance_path,
                                                                         "referral_exports")


def export_path(export: ReferralQrExport) -> str | None:
    return os.path.join(export_dir(), export.filename) if export.filename else None


INLINE_EXPORT_MAX = 300  # without a worker, an export of more members than this is refused
EXPORT_BATCH = 500       # members read (keyset) and codes looked up at a time
EXPORT_SEGMENT = 5_000   # members per checkpoint: a crash loses at most this much rendering
EXPORT_CHUNK = 50        # images a rendering process is handed at a time


def inline_export_max() -> int:
    return int(current_app.config.get("REFERRAL_INLINE_EXPORT_MAX", INLINE_EXPORT_MAX))


def _export_sizes() -> tuple[int, int]:
    """(members per read, members per segment): ``REFERRAL_EXPORT_BATCH`` and ``REFERRAL_EXPORT_SEGMENT``."""
    segment = max(int(current_app.config.get("REFERRAL_EXPORT_SEGMENT", EXPORT_SEGMENT)), 1)
    return min(max(int(current_app.config.get("REFERRAL_EXPORT_BATCH", EXPORT_BATCH)), 1), segment), segment


def request_qr_export(member_ids: list[int] | None, image_format: str = "png", requested_by: str = "",
                      run_in_background: bool = True) -> ReferralQrExport:
    """Queue a ZIP of QR images for these members (None: every member).

    It is built by a job. Without Redis a job runs inside the request that queued it, so an
    export of more than ``REFERRAL_INLINE_EXPORT_MAX`` members (300) is refused there with
    ``409 worker_required``: a large export needs a worker (or ``memberday referral export-qr``).
    """
    if member_ids is not None:
        member_ids = sorted(set(member_ids))
        known = set(db.session.scalars(select(Member.id).where(Member.id.in_(member_ids))))
        unknown = [member_id for member_id in member_ids if member_id not in known]
        if unknown:
            raise ValidationFailed(_("Some members do not exist."), fields={
                "member_ids": [UNKNOWN_MEMBERS % {"ids": ", ".join(map(str, unknown[:20]))}]})
    if run_in_background and not current_app.config.get("REDIS_URL"):
        size = len(member_ids) if member_ids is not None else member_count()
        if size > inline_export_max():
            raise Conflict(_("An export of %(count)s members needs a background worker: set REDIS_URL and start "
                             "one (memberday worker), or run memberday referral export-qr.", count=size),
                           code="worker_required", extra={"members": size, "inline_max": inline_export_max()})
    with transaction():
        export = ReferralQrExport(member_ids=member_ids, image_format=image_format, status="queued",
                                  requested_by=requested_by[:60])
        db.session.add(export)
        db.session.flush()
        if run_in_background:
            enqueue(PLUGIN.job("export_qr"), export.id)
        return export


EXPORT_JOB_TIMEOUT = 6 * 3600  # seconds a worker lets one run go on (a million members take minutes)


@job_timeout(EXPORT_JOB_TIMEOUT)
def build_qr_export(export_id: int, progress=None) -> dict:
    """The export job: write the ZIP, recording progress as it goes.

    One run at a time per export (a second one at once answers ``busy``). Members are read in
    keyset batches and their images written into the ZIP as they are rendered, a segment
    (``EXPORT_SEGMENT`` members) at a time; each finished segment is a checkpoint. A run that
    died half way left the export ``running``: the next run keeps the finished segments,
    removes whatever else the dead run left, and continues after the last checkpoint. The
    segments are joined into the one ZIP at the end, each member in it once.
    """
    with run_alone(f"referral:qr-export:{export_id}") as mine:
        if not mine:
            return {"export": export_id, "status": "busy"}
        return _build_qr_export(export_id, progress)


def _partial_files(folder: str, filename: str) -> list[str]:
    """Partial files of this export's runs, whoever wrote them (older runs named theirs by process id)."""
    prefix = f".{filename}."
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return [os.path.join(folder, name) for name in names if name.startswith(prefix) and name.endswith(".part")]


def _segment_path(folder: str, filename: str, segment: int) -> str:
    return os.path.join(folder, f".{filename}.seg{segment:06d}.part")


def _export_members(chosen: list[int] | None, after: int, limit: int) -> list[int]:
    """The next ``limit`` member ids of the export after ``after``, in id order (a keyset read);
    ``chosen``: the export's own sorted list, None for every member."""
    if chosen is not None:
        import bisect

        ids = chosen
        start = bisect.bisect_right(ids, after)
        return ids[start:start + limit]
    return list(db.session.scalars(select(Member.id).where(Member.id > after).order_by(Member.id).limit(limit)))


def codes_for(member_ids: list[int]) -> dict[int, str]:
    """The codes of these members, creating the missing ones with one insert (a batch's worth at a time).

    The insert is one statement given every row as parameters (executemany), so SQLAlchemy compiles
    it once and reuses it; a ``VALUES`` list of this batch's length would be compiled anew for
    every batch, which took longer than the insert."""
    from sqlalchemy.dialects.postgresql import insert as pg_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    codes = dict(db.session.execute(select(ReferralCode.member_id, ReferralCode.code)
                                    .where(ReferralCode.member_id.in_(member_ids))).all())
    missing = [member_id for member_id in member_ids if member_id not in codes]
    if missing:
        insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
        with transaction():
            now = utcnow()
            db.session.connection().execute(insert(ReferralCode.__table__).on_conflict_do_nothing(), [
                {"member_id": member_id, "code": "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)),
                 "created_at": now} for member_id in missing])
        codes.update(db.session.execute(select(ReferralCode.member_id, ReferralCode.code)
                                        .where(ReferralCode.member_id.in_(missing))).all())
        for member_id in missing:  # a drawn code that was taken: one at a time, as code_for does
            if member_id not in codes:
                codes[member_id] = code_for(member_id).code
    return codes


def _build_qr_export(export_id: int, progress=None) -> dict:
    with transaction():
        export = db.session.scalar(select(ReferralQrExport).where(ReferralQrExport.id == export_id)
                                   .with_for_update().execution_options(populate_existing=True))
        if export is None or export.status == "done":
            return {"export": export_id, "status": export.status if export else "missing"}
        if export.status not in ("running", "failed") or not export.total:  # else: continue from the checkpoint
            total = len(export.member_ids) if export.member_ids is not None else \
                db.session.scalar(select(func.count(Member.id)))
            export.total, export.segments, export.resume_after, export.done_before = total, 0, 0, 0
        export.status, export.error, export.done, export.finished_at = "running", None, export.done_before, None
        segments, after, done = export.segments, export.resume_after, export.done_before
        image_format, total, chosen = export.image_format, export.total, export.member_ids
    folder = export_dir()
    os.makedirs(folder, exist_ok=True)
    filename = f"referral-qr-{export_id}.zip"
    kept = {_segment_path(folder, filename, segment) for segment in range(segments)}
    for leftover in _partial_files(folder, filename):
        if leftover not in kept:  # what a dead run was writing: redone from its checkpoint
            os.remove(leftover)
    batch, segment_size = _export_sizes()
    compression = zipfile.ZIP_STORED if image_format == "png" else zipfile.ZIP_DEFLATED  # PNGs are compressed
    pool = _render_pool(total - done, batch)

    def start(after: int, limit: int):
        """Read the next ``limit`` members after ``after`` and start rendering them: (ids, images in
        order), or None when there are none. With a pool, they render while the caller writes the
        batch before them."""
        member_ids = _export_members(chosen, after, limit) if limit > 0 else []
        if not member_ids:
            return None
        codes = codes_for(member_ids)
        db.session.rollback()  # no snapshot held open while rendering
        entries = [(f"{member_id}-{codes[member_id]}.{image_format}", scan_url(codes[member_id]), image_format)
                   for member_id in member_ids]
        images = pool.imap(qr.render_entry, entries, chunksize=EXPORT_CHUNK) if pool else \
            map(qr.render_entry, entries)
        return member_ids, images

    try:
        while True:
            segment_path = _segment_path(folder, filename, segments)
            written = 0
            with zipfile.ZipFile(segment_path, "w", compression) as archive:
                rendering = start(after, min(batch, segment_size))
                while rendering is not None:
                    member_ids, images = rendering
                    read = written + len(member_ids)
                    rendering = start(member_ids[-1], min(batch, segment_size - read))  # the next batch, meanwhile
                    for name, image in images:  # in order, each written as soon as it is rendered
                        archive.writestr(name, image)
                    written = read
                    after = member_ids[-1]
                    _export_progress(export_id, done=done + written)
                    if progress:
                        progress(done + written, total)
            if not written:
                os.remove(segment_path)
                break
            done += written
            segments += 1
            _export_progress(export_id, segments=segments, resume_after=after, done_before=done, done=done)
        temporary = os.path.join(folder, f".{filename}.part")
        _join_segments([_segment_path(folder, filename, segment) for segment in range(segments)], temporary)
        os.replace(temporary, os.path.join(folder, filename))
        for segment in range(segments):
            os.remove(_segment_path(folder, filename, segment))
    except Exception as exc:
        db.session.rollback()
        _export_progress(export_id, status="failed", error=f"{exc.__class__.__name__}: {exc}"[:300],
                         finished_at=utcnow())
        raise
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
    _export_progress(export_id, status="done", filename=filename, done=done, total=done, finished_at=utcnow())
    return {"export": export_id, "status": "done", "members": done}


def _join_segments(paths: list[str], target: str) -> None:
    """One ZIP of the segments' entries, copied byte for byte (nothing read back, recompressed or
    checked again): each segment's entries go after the previous segment's, and the one central
    directory at the end lists them all at their new offsets."""
    import shutil

    with zipfile.ZipFile(target, "w") as archive:
        for path in paths:
            with zipfile.ZipFile(path) as part, open(path, "rb") as source:
                offset = archive.fp.tell()
                remaining = part.start_dir  # the entries end where the segment's own directory begins
                while remaining:
                    chunk = source.read(min(remaining, 1 << 20))
                    if not chunk:
                        raise zipfile.BadZipFile(f"{path} ends before its directory")
                    archive.fp.write(chunk)
                    remaining -= len(chunk)
                for info in part.infolist():
                    info.header_offset += offset
                    archive.filelist.append(info)
                    archive.NameToInfo[info.filename] = info
        archive.start_dir = archive.fp.tell()  # where closing writes the directory


def _render_pool(members: int, batch: int):
    """Processes rendering in parallel (``REFERRAL_EXPORT_PROCESSES``, by default one per CPU), for an
    export larger than one read; None: render here. Started fresh (spawn), so they share nothing
    with this process's database connections; they exit when this process does, killed or not."""
    import multiprocessing

    processes = int(current_app.config.get("REFERRAL_EXPORT_PROCESSES") or os.cpu_count() or 1)
    if processes <= 1 or members <= batch:
        return None
    return multiprocessing.get_context("spawn").Pool(processes)


def _export_progress(export_id: int, **values) -> None:
    with transaction():
        db.session.execute(ReferralQrExport.__table__.update()
                           .where(ReferralQrExport.id == export_id).values(**values))


def get_export(export_id: int) -> ReferralQrExport:
    export = db.session.get(ReferralQrExport, export_id, populate_existing=True)
    if export is None:
        raise NotFound(_("Export %(id)s does not exist.", id=export_id))
    return export
