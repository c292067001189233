"""The member week's rules: promotions and the planner, weeks and their status, the audience
snapshot and holdout, the announcement and reminder, the multiplier, claims and engagement.

Every rule that moves value or decides who is in lives here; the API, the pages, the CLI,
the keyword reply and the jobs all call these functions. The report is in ``report.py``.
"""
from __future__ import annotations

import calendar
import hashlib
import logging
import secrets
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Callable
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

from core.database import before_commit, transaction, utcnow
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.extensions import db
from core.i18n import LOCALES, N_, _, in_language, stored_template
from core.jobs import enqueue
from core.members.models import Member
from core.messaging import keywords
from core.plugins.memo import ProcessMemo
from core.notifications.models import Notification
from core.rewards import services as rewards
from core.rewards.models import CouponTemplate
from plugins.member_week import PLUGIN
from plugins.member_week.models import (AudienceMember, Benefit, Claim, Engagement, MemberWeek, Promotion)
from plugins.member_week.schemas import WEEKDAYS

# A points benefit's ledger reason, stored in English and shown in the reader's language.
# Translators: ledger reason
BENEFIT_REASON = stored_template(N_("Member week: %(title)s"))

OPEN_STATUSES = ("scheduled", "announced", "running")
SHOWN_STATUSES = ("announced", "running")
BUCKETS = 10_000  # holdout buckets: holdout_percent 10 holds out buckets 0-999

log = logging.getLogger(__name__)


def settings() -> dict:
    return PLUGIN.settings()


def brand_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BRAND_TIMEZONE"])


# ------------------------------------------------------------------ promotions and the planner


def create_promotion(data: dict) -> Promotion:
    with transaction():
        promotion = Promotion(**data)
        db.session.add(promotion)
        db.session.flush()
        return promotion


def promotion_list(upcoming: bool | None = None, now: datetime | None = None):
    query = select(Promotion).order_by(Promotion.starts_at, Promotion.id)
    if upcoming:
        query = query.where(Promotion.ends_at > (now or utcnow()))
    return query


def get_promotion(promotion_id: int) -> Promotion:
    promotion = db.session.get(Promotion, promotion_id)
    if promotion is None:
        raise NotFound(_("Promotion %(id)s does not exist.", id=promotion_id))
    return promotion


def _month_start(day: date, months_ahead: int = 0) -> date:
    month = day.month - 1 + months_ahead
    return date(day.year + month // 12, month % 12 + 1, 1)


def _back_to_weekday(day: date, weekday: str | None) -> date:
    if weekday is None:
        return day
    return day - timedelta(days=(day.weekday() - WEEKDAYS.index(weekday)) % 7)


def plan(months: int = 12, now: datetime | None = None) -> list[dict]:
    """Proposed windows, one a month for the next ``months`` months; nothing is created.

    A month with a promotion gets the ``length_days`` days that end ``days_before_promotion``
    days before its first promotion starts (moved back to ``start_weekday`` when set); a month
    without one gets a window from the first ``start_weekday`` on or after the 15th (when set).
    A window is placed in the month it starts in, and one that would start before now is
    dropped. Each proposal names the existing week it would overlap, if any.
    """
    now = now or utcnow()
    cfg = settings()
    zone = brand_zone()
    today = now.astimezone(zone).date()
    length = timedelta(days=cfg.get("length_days", 7))
    before = timedelta(days=cfg.get("days_before_promotion", 3))
    weekday = cfg.get("start_weekday")
    first_month, end_month = _month_start(today), _month_start(today, months)
    horizon = datetime.combine(end_month, time(0), zone) + length + before
    promotions = db.session.scalars(
        select(Promotion).where(Promotion.starts_at > now, Promotion.starts_at < horizon)
        .order_by(Promotion.starts_at, Promotion.id)).all()

    by_month: dict[date, dict] = {}
    for promotion in promotions:
        end_day = promotion.starts_at.astimezone(zone).date() - before
        start_day = _back_to_weekday(end_day - length, weekday)
        month = _month_start(start_day)
        if month in by_month or not first_month <= month < end_month:
            continue  # at most one a month: the first promotion of the month wins
        by_month[month] = {"start": start_day, "promotion": promotion}
    if weekday is not None:
        for n in range(months):
            month = _month_start(today, n)
            if month not in by_month:
                mid = date(month.year, month.month, 15)
                start_day = mid + timedelta(days=(WEEKDAYS.index(weekday) - mid.weekday()) % 7)
                by_month[month] = {"start": start_day, "promotion": None}

    announce = timedelta(days=cfg.get("announce_days_before", 30))
    proposals = []
    for month in sorted(by_month):
        starts_at = datetime.combine(by_month[month]["start"], time(0), zone)
        if starts_at <= now:
            continue
        ends_at = datetime.combine(by_month[month]["start"] + length, time(0), zone)
        promotion = by_month[month]["promotion"]
        clash = _overlapping(starts_at, ends_at)
        proposals.append({
            "month": f"{month.year:04d}-{month.month:02d}",
            "starts_at": starts_at, "ends_at": ends_at, "announce_at": max(now, starts_at - announce),
            "promotion": ({"id": promotion.id, "name": promotion.name, "starts_at": promotion.starts_at,
                           "ends_at": promotion.ends_at} if promotion else None),
            "overlaps_week_id": clash.id if clash else None,
        })
    return proposals


# ------------------------------------------------------------------ weeks


def get_week(week_id: int) -> MemberWeek:
    week = db.session.get(MemberWeek, week_id)
    if week is None:
        raise NotFound(_("Member week %(id)s does not exist.", id=week_id))
    return week


def _locked_week(week_id: int) -> MemberWeek:
    week = db.session.scalar(select(MemberWeek).where(MemberWeek.id == week_id).with_for_update(of=MemberWeek)
                             .execution_options(populate_existing=True))
    if week is None:
        raise NotFound(_("Member week %(id)s does not exist.", id=week_id))
    return week


def _overlapping(starts_at: datetime, ends_at: datetime, except_id: int | None = None) -> MemberWeek | None:
    query = select(MemberWeek).where(MemberWeek.status != "cancelled", MemberWeek.starts_at < ends_at,
                                     MemberWeek.ends_at > starts_at).order_by(MemberWeek.starts_at).limit(1)
    if except_id is not None:
        query = query.where(MemberWeek.id != except_id)
    return db.session.scalar(query)


def _overlap_error(other: MemberWeek | None) -> Conflict:
    message = "This window overlaps another member week."
    extra = {}
    if other is not None:
        message = f"This window overlaps member week {other.id} ({other.name})."
        extra = {"week_id": other.id}
    return Conflict(message, code="overlapping_week", extra=extra)


def _lock_calendar() -> None:
    """Serialise changes to the calendar so two overlapping weeks cannot both pass the check.

    On PostgreSQL the exclusion constraint of the migration is the last line as well.
    """
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext('member_week:calendar'))"))


def _check_benefits(benefits: list[dict]) -> None:
    errors = {}
    for index, benefit in enumerate(benefits):
        if benefit["kind"] == "coupon" and db.session.get(CouponTemplate, benefit["coupon_template_id"]) is None:
            errors[str(index)] = {"coupon_template_id": ["no such coupon template"]}
        if benefit["kind"] == "mall_item" and not _mall_item_exists(benefit["item_id"]):
            errors[str(index)] = {"item_id": ["no such points mall item"]}
    if errors:
        raise ValidationFailed(_("Some benefits are not valid."), fields={"benefits": errors})


def _mall_item_exists(item_id: int) -> bool:
    try:
        from plugins.points_mall.models import MallItem
    except ImportError:
        return False
    return db.session.get(MallItem, item_id) is not None


def _write_benefits(week: MemberWeek, benefits: list[dict]) -> None:
    for data in benefits:
        db.session.add(Benefit(week_id=week.id, **data))


def create_week(data: dict, now: datetime | None = None) -> MemberWeek:
    """Schedule a week; a window that overlaps another (not cancelled) week is refused."""
    now = now or utcnow()
    data = dict(data)
    benefits = data.pop("benefits", [])
    if data.get("announce_at") is None:
        data["announce_at"] = max(min(now, data["starts_at"]),
                                  data["starts_at"] - timedelta(days=settings().get("announce_days_before", 30)))
    if data.get("promotion_id") is not None:
        get_promotion(data["promotion_id"])
    _check_benefits(benefits)
    try:
        with transaction():
            _lock_calendar()
            clash = _overlapping(data["starts_at"], data["ends_at"])
            if clash is not None:
                raise _overlap_error(clash)
            data.setdefault("holdout_seed", secrets.token_hex(8))
            week = MemberWeek(**data, status="scheduled",
                              for_everyone=_is_everyone(data.get("audience")), created_at=now, updated_at=now)
            db.session.add(week)
            db.session.flush()
            _write_benefits(week, benefits)
            _hold_keyword(week, now)
            multiplying_windows.changed()
            db.session.flush()
            db.session.expire(week, ["benefits"])
            return week
    except IntegrityError as error:
        if "no_overlapping_weeks" in str(error.orig):
            raise _overlap_error(None) from None
        raise


def _hold_keyword(week: MemberWeek, now: datetime) -> None:
    """The week's keyword is held for it until the week ends (``409 keyword_taken`` if another holds it)."""
    owner = f"week:{week.id}"
    keywords.release(PLUGIN.id, owner, keep=[week.keyword] if week.keyword else [])
    if week.keyword and week.status != "cancelled":
        keywords.claim(PLUGIN.id, week.keyword, owner, until=week.ends_at, now=now)


def update_week(week_id: int, changes: dict, now: datetime | None = None) -> MemberWeek:
    """Change a week that has not started. Once announced its audience and holdout are fixed."""
    now = now or utcnow()
    changes = dict(changes)
    benefits = changes.pop("benefits", None)
    if changes.get("promotion_id") is not None:
        get_promotion(changes["promotion_id"])
    if benefits is not None:
        _check_benefits(benefits)
    try:
        with transaction():
            _lock_calendar()
            week = _locked_week(week_id)
            if week.status == "cancelled":
                raise Conflict(_("This week was cancelled."), code="cancelled")
            if week.status not in ("scheduled", "announced") or week.starts_at <= now:
                raise Conflict(_("This week has started; it can no longer be changed."), code="already_started")
            if week.status == "announced" and ({"audience", "holdout_percent", "holdout_seed", "announce_at"}
                                               & set(changes)):
                raise Conflict(_("The audience was fixed when the week was announced."), code="already_announced")
            starts_at = changes.get("starts_at", week.starts_at)
            ends_at = changes.get("ends_at", week.ends_at)
            announce_at = changes.get("announce_at") or week.announce_at
            if "starts_at" in changes and "announce_at" not in changes and week.status == "scheduled":
                announce_at = max(min(now, starts_at),
                                  starts_at - timedelta(days=settings().get("announce_days_before", 30)))
            length = ends_at - starts_at
            if not timedelta(days=1) <= length <= timedelta(days=14):
                raise ValidationFailed(_("A week lasts 1 to 14 days."), fields={"ends_at": ["1 to 14 days after starts_at"]})
            if announce_at > starts_at:
                raise ValidationFailed(_("A week is announced before it starts."),
                                       fields={"announce_at": ["must not be after starts_at"]})
            if starts_at <= now:
                raise ValidationFailed(_("A week cannot be moved into the past."), fields={"starts_at": ["in the past"]})
            clash = _overlapping(starts_at, ends_at, except_id=week.id)
            if clash is not None:
                raise _overlap_error(clash)
            for name, value in changes.items():
                setattr(week, name, value)
            week.for_everyone = _is_everyone(week.audience)
            week.announce_at = announce_at
            if benefits is not None:
                for benefit in list(week.benefits):
                    db.session.delete(benefit)
                db.session.flush()
                _write_benefits(week, benefits)
            _hold_keyword(week, now)
            week.updated_at = now
            multiplying_windows.changed()
            db.session.flush()
            db.session.expire(week, ["benefits"])
            return week
    except IntegrityError as error:
        if "no_overlapping_weeks" in str(error.orig):
            raise _overlap_error(None) from None
        raise


def cancel_week(week_id: int, now: datetime | None = None) -> MemberWeek:
    """Cancel a week that has not ended: it stops showing, claiming and multiplying at once."""
    now = now or utcnow()
    with transaction():
        week = _locked_week(week_id)
        if week.status == "cancelled":
            raise Conflict(_("This week is already cancelled."), code="already_cancelled")
        if week.status == "ended" or week.ends_at <= now:
            raise Conflict(_("This week has ended."), code="already_ended")
        week.status = "cancelled"
        week.cancelled_at = now
        week.updated_at = now
        keywords.release(PLUGIN.id, f"week:{week.id}")
        multiplying_windows.changed()
        return week


def week_list(status: str | None = None):
    query = select(MemberWeek).order_by(MemberWeek.starts_at.desc(), MemberWeek.id.desc())
    if status:
        query = query.where(MemberWeek.status == status)
    return query


def visible_weeks(member_id: int | None):
    """Announced and running weeks this member takes part in (None: weeks for everyone, to anyone)."""
    query = select(MemberWeek).where(MemberWeek.status.in_(SHOWN_STATUSES)).order_by(MemberWeek.starts_at)
    if member_id is None:
        return query.where(MemberWeek.for_everyone.is_(True))
    return query.join(AudienceMember, and_(AudienceMember.week_id == MemberWeek.id,
                                           AudienceMember.member_id == member_id,
                                           AudienceMember.held_out.is_(False)))


def _is_everyone(audience: dict | None) -> bool:
    from core.members.audience import Audience

    return Audience.from_dict(audience).is_everyone


def current_week(member_id: int | None, operator: bool = False, now: datetime | None = None) -> MemberWeek | None:
    """The running week (or else the next announced one) the caller may see."""
    now = now or utcnow()
    if operator:
        query = select(MemberWeek).where(MemberWeek.status.in_(OPEN_STATUSES), MemberWeek.ends_at > now)
    else:
        query = visible_weeks(member_id).where(MemberWeek.ends_at > now)
    query = query.order_by(None).order_by(MemberWeek.starts_at, MemberWeek.id)
    weeks = db.session.scalars(query).all()
    running = [week for week in weeks if week.status == "running"]
    return (running or weeks or [None])[0]


def participant(week_id: int, member_id: int) -> AudienceMember | None:
    """The member's snapshot row when they take part (in the audience and not held out)."""
    return db.session.scalar(select(AudienceMember).where(
        AudienceMember.week_id == week_id, AudienceMember.member_id == member_id,
        AudienceMember.held_out.is_(False)))


def can_see(week: MemberWeek, member_id: int) -> bool:
    return week.status in SHOWN_STATUSES and participant(week.id, member_id) is not None


def is_running(week: MemberWeek, now: datetime | None = None) -> bool:
    """Running by status (the jobs moved it) and by the clock (claims stop on the second it ends)."""
    now = now or utcnow()
    return week.status == "running" and week.starts_at <= now < week.ends_at


# ------------------------------------------------------------------ status by time and jobs


def tick(now: datetime | None = None) -> dict:
    """Move every week whose time has come: announce, start, end. Safe to run at any moment, twice at once.

    Each step is a conditional change under the week's row lock; the notifications and the report
    it calls for are jobs. An announcement or reminder that has not finished (a worker died) is
    enqueued again: runs that overlap share the work without sending anything twice.
    """
    now = now or utcnow()
    moved = {"announced": 0, "running": 0, "ended": 0, "resumed": 0}
    due = db.session.scalars(select(MemberWeek.id).where(
        MemberWeek.status.in_(OPEN_STATUSES),
        or_(MemberWeek.announce_at <= now, MemberWeek.starts_at <= now, MemberWeek.ends_at <= now))
        .order_by(MemberWeek.id)).all()
    db.session.rollback()
    for week_id in due:
        with transaction():
            week = _locked_week(week_id)
            if week.status == "scheduled" and week.announce_at <= now:
                take_snapshot(week, now)
                week.status = "announced"
                moved["announced"] += 1
                if week.ends_at > now:
                    enqueue(PLUGIN.job("announce"), week.id)
            if week.status == "announced" and week.starts_at <= now:
                week.status = "running"
                moved["running"] += 1
                if week.ends_at > now:
                    enqueue(PLUGIN.job("remind"), week.id)
            if week.status == "running" and week.ends_at <= now:
                week.status = "ended"
                moved["ended"] += 1
                enqueue(PLUGIN.job("compute_report"), week.id)
            week.updated_at = now
    unfinished = db.session.execute(select(MemberWeek.id, MemberWeek.status, MemberWeek.announced_at,
                                           MemberWeek.reminded_at).where(
        MemberWeek.status.in_(SHOWN_STATUSES), MemberWeek.ends_at > now,
        or_(MemberWeek.announced_at.is_(None),
            and_(MemberWeek.status == "running", MemberWeek.reminded_at.is_(None))))).all()
    db.session.rollback()
    for week_id, status, announced_at, reminded_at in unfinished:
        with transaction():
            if announced_at is None:
                enqueue(PLUGIN.job("announce"), week_id)
                moved["resumed"] += 1
            if status == "running" and reminded_at is None:
                enqueue(PLUGIN.job("remind"), week_id)
                moved["resumed"] += 1
    return moved


# ------------------------------------------------------------------ audience snapshot and holdout


def holdout_bucket(seed: str, member_id: int) -> int:
    """The member's holdout bucket (0-9999) for a week: anyone can recompute it from the seed."""
    digest = hashlib.md5(f"{seed}:{member_id}".encode()).hexdigest()
    return int(digest[:8], 16) % BUCKETS


class _Bucket(FunctionElement):
    """``holdout_bucket`` in SQL: the first 32 bits of md5(seed:member_id), modulo 10,000."""

    type = sa.BigInteger()
    inherit_cache = True


@compiles(_Bucket, "postgresql")
def _bucket_postgresql(element, compiler, **kw):
    seed, member_id = list(element.clauses)
    return ("mod(('x' || substr(md5(%s || ':' || CAST(%s AS TEXT)), 1, 8))::bit(32)::bigint, %d)"
            % (compiler.process(seed, **kw), compiler.process(member_id, **kw), BUCKETS))


@compiles(_Bucket)
def _bucket_other(element, compiler, **kw):
    seed, member_id = list(element.clauses)
    return "member_week_bucket(%s, %s)" % (compiler.process(seed, **kw), compiler.process(member_id, **kw))


def take_snapshot(week: MemberWeek, now: datetime) -> int:
    """Freeze the audience in one INSERT ... SELECT: each member, their stage now, held out or not.

    Called under the week's row lock, once (a week with a snapshot keeps it).
    """
    from core.members import audience as audiences

    if week.snapshot_at is not None:
        return week.audience_size or 0
    if db.engine.dialect.name == "sqlite":
        db.session.connection().connection.driver_connection.create_function(
            "member_week_bucket", 2, holdout_bucket, deterministic=True)
    rule = audiences.Audience.from_dict(week.audience)
    held_out = _Bucket(sa.literal(week.holdout_seed), Member.id) < week.holdout_percent * (BUCKETS // 100)
    rows = (select(sa.literal(week.id), Member.id, audiences.stage_expression(now), held_out)
            .where(audiences.member_filter(rule, now)))
    table = AudienceMember.__table__
    db.session.execute(sa.insert(table).from_select(["week_id", "member_id", "stage", "held_out"], rows))
    size, out = db.session.execute(
        select(func.count(), func.count().filter(table.c.held_out.is_(True)))
        .where(table.c.week_id == week.id)).one()
    if db.engine.dialect.name == "postgresql":
        # Fresh statistics, or the announcement's batches are planned for the empty table this was.
        db.session.execute(sa.text("ANALYZE member_week_audience"))
    week.snapshot_at = now
    week.audience_size = size
    week.held_out_count = out
    return size


# ------------------------------------------------------------------ announcement and reminder

Progress = Callable[[int, int], None]


def announce(week_id: int, progress: Progress | None = None, now: datetime | None = None) -> int:
    """Notify every participant of the week, once, in batches (the announcement job)."""
    return _send(week_id, "notified", progress, now)


def remind(week_id: int, progress: Progress | None = None, now: datetime | None = None) -> int:
    """Remind every participant at the start, once, in batches (the reminder job)."""
    return _send(week_id, "reminded", progress, now)


def _message(week: MemberWeek, kind: str) -> dict:
    """The title and body in each language, as SQL parameters (``title_en``, ``body_zh_Hant``…);
    ``title_default``/``body_default`` for members who chose none (the brand's language)."""
    from plugins.member_week.messages import announcement, reminder

    params = {}
    for locale in (*LOCALES, None):
        with in_language(locale):
            title, body = (announcement if kind == "notified" else reminder)(week)
        params[f"title_{locale or 'default'}"], params[f"body_{locale or 'default'}"] = title, body
    return params


def _in_members_language(column: str) -> str:
    """SQL choosing the ``column`` parameter (title or body) in the language the member ``m`` saved."""
    cases = " ".join(f"WHEN '{locale}' THEN :{column}_{locale}" for locale in LOCALES)
    return f"CASE m.locale {cases} ELSE :{column}_default END"


def _for_member(texts: dict, column: str, locale: str | None) -> str:
    return texts[f"{column}_{locale}"] if locale in LOCALES else texts[f"{column}_default"]


def _send(week_id: int, kind: str, progress: Progress | None, now: datetime | None) -> int:
    """Work through the participants not yet told, one batch per transaction.

    A batch locks its snapshot rows with ``SKIP LOCKED`` (two runs at once take different rows),
    writes the notifications and marks the rows in the same transaction: a run killed half way
    loses its open batch whole and the next run sends exactly what is left.
    """
    week = get_week(week_id)
    if week.snapshot_at is None or week.status not in SHOWN_STATUSES:
        return 0
    if kind == "reminded" and week.status != "running":
        return 0
    texts = _message(week, kind)
    marker = getattr(AudienceMember, f"{kind}_at")
    counter = "notified_count" if kind == "notified" else "reminded_count"
    finished = "announced_at" if kind == "notified" else "reminded_at"
    batch_size = settings().get("notify_batch_size", 1000)
    total = week.participants_count or 0
    sent = 0
    db.session.rollback()
    batch = _batch_in_one_statement if db.engine.dialect.name == "postgresql" else _batch_in_steps
    # Keyset: each batch starts after the last member this run reached, so the index scan never
    # walks back over the entries of rows already told; one sweep from the start at the end picks up
    # rows another run held when this one passed them.
    after = 0
    while True:
        with transaction():
            rows = batch(week_id, kind, batch_size, after, texts, now or utcnow())
            if rows:
                db.session.execute(update(MemberWeek.__table__).where(MemberWeek.id == week_id)
                                   .values({counter: getattr(MemberWeek.__table__.c, counter) + len(rows)}))
                enqueue(PLUGIN.job("deliver"), [notification_id for notification_id, _ in rows])
                sent += len(rows)
        if progress is not None:
            progress(sent, total)
        if rows:
            after = max(member_id for _, member_id in rows)
        elif after:
            after = 0
        else:
            break
    with transaction():
        left = db.session.scalar(select(func.count()).where(
            AudienceMember.week_id == week_id, AudienceMember.held_out.is_(False), marker.is_(None)))
        if left == 0:  # rows another run holds still count as left: only the last one out marks it done
            db.session.execute(update(MemberWeek.__table__)
                               .where(MemberWeek.id == week_id, getattr(MemberWeek.__table__.c, finished).is_(None))
                               .values({finished: now or utcnow()}))
    return sent


def _batch_in_one_statement(week_id: int, kind: str, size: int, after: int, texts: dict,
                            now: datetime) -> list[tuple[int, int]]:
    """Lock the next participants not yet told, mark them and write their notifications, each in the
    member's language: one round trip. Returns (notification id, member id) pairs."""
    return [tuple(row) for row in db.session.execute(sa.text(f"""
        WITH batch AS (
            SELECT member_id FROM member_week_audience
            WHERE week_id = :week AND held_out = false AND {kind}_at IS NULL AND member_id > :after
            ORDER BY member_id LIMIT :size FOR UPDATE SKIP LOCKED),
        marked AS (
            UPDATE member_week_audience AS a SET {kind}_at = :now FROM batch
            WHERE a.week_id = :week AND a.member_id = batch.member_id RETURNING a.member_id)
        INSERT INTO notifications (member_id, audience, title, body, status, attempts, created_at)
        SELECT marked.member_id, 'member', {_in_members_language("title")}, {_in_members_language("body")},
               'queued', 0, :now
        FROM marked JOIN members AS m ON m.id = marked.member_id ORDER BY marked.member_id
        RETURNING id, member_id"""), {"week": week_id, "size": size, "after": after, "now": now, **texts})]


def _batch_in_steps(week_id: int, kind: str, size: int, after: int, texts: dict,
                    now: datetime) -> list[tuple[int, int]]:
    """The same as ``_batch_in_one_statement`` for SQLite, where one writer at a time needs no row locks."""
    marker = getattr(AudienceMember, f"{kind}_at")
    member_ids = db.session.scalars(
        select(AudienceMember.member_id)
        .where(AudienceMember.week_id == week_id, AudienceMember.held_out.is_(False), marker.is_(None),
               AudienceMember.member_id > after)
        .order_by(AudienceMember.member_id).limit(size)).all()
    if not member_ids:
        return []
    db.session.execute(update(AudienceMember.__table__)
                       .where(AudienceMember.week_id == week_id, AudienceMember.member_id.in_(member_ids))
                       .values({f"{kind}_at": now}))
    locales = dict(db.session.execute(select(Member.id, Member.locale).where(Member.id.in_(member_ids))).all())
    table = Notification.__table__
    return [tuple(row) for row in db.session.execute(
        sa.insert(table).returning(table.c.id, table.c.member_id, sort_by_parameter_order=True),
        [{"member_id": member_id, "audience": "member", "title": _for_member(texts, "title", locales.get(member_id)),
          "body": _for_member(texts, "body", locales.get(member_id)), "status": "queued",
          "attempts": 0, "created_at": now} for member_id in member_ids])]


def deliver(notification_ids: list[int]) -> int:
    """Deliver a batch of week notifications through the core's channels (a job)."""
    from core.notifications.services import deliver as deliver_one

    delivered = 0
    with transaction():  # one commit for the batch; each delivery still asks the channels itself
        for notification_id in notification_ids:
            if deliver_one(int(notification_id)) is not None:
                delivered += 1
    return delivered


def progress_of(week_id: int) -> dict:
    week = get_week(week_id)
    return {"participants": week.participants_count, "notified": week.notified_count,
            "announced_at": week.announced_at, "reminded": week.reminded_count, "reminded_at": week.reminded_at}


# ------------------------------------------------------------------ the multiplier


def _multiplying_windows() -> tuple:
    """(id, starts_at, ends_at) of every week that multiplies points and is not cancelled: a handful of rows."""
    return tuple(db.session.execute(
        select(MemberWeek.id, MemberWeek.starts_at, MemberWeek.ends_at)
        .where(MemberWeek.status != "cancelled", MemberWeek.points_multiplier > 1)).all())


# Every order asks for its multiplier; outside a week the answer is known without a query.
multiplying_windows = ProcessMemo(_multiplying_windows)


def multiplier_for(member: Member, order) -> Decimal | None:
    """The week's multiplier for an order paid inside a window by one of its participants."""
    paid_at = order.paid_at or utcnow()
    weeks = [row.id for row in multiplying_windows.get() if row.starts_at <= paid_at < row.ends_at]
    if not weeks:
        return None
    # Whether the member takes part, and the week as it is now (a cancel is seen at once).
    value = db.session.scalar(
        select(func.max(MemberWeek.points_multiplier))
        .join(AudienceMember, and_(AudienceMember.week_id == MemberWeek.id,
                                   AudienceMember.member_id == member.id,
                                   AudienceMember.held_out.is_(False)))
        .where(MemberWeek.id.in_(weeks), MemberWeek.status != "cancelled",
               MemberWeek.starts_at <= paid_at, MemberWeek.ends_at > paid_at))
    return Decimal(value) if value is not None and Decimal(value) > 1 else None


# ------------------------------------------------------------------ benefits, claims, engagement


def get_benefit(week: MemberWeek, benefit_id: int) -> Benefit:
    benefit = db.session.get(Benefit, benefit_id)
    if benefit is None or benefit.week_id != week.id:
        raise NotFound(_("Benefit %(id)s is not a benefit of this week.", id=benefit_id))
    return benefit


def claim(week_id: int, member_id: int, benefit_id: int, now: datetime | None = None) -> Claim:
    """Give a participant a benefit: once per member and benefit, never past the stock.

    One transaction: the claim row first (its unique key makes a concurrent twin wait and then
    fail), then the coupon or points, and last -- after the caller's writes too (``before_commit``)
    -- the stock with one conditional UPDATE, so the hot benefit row is held only for that update
    and the commit. Any refusal rolls all of it back.
    """
    now = now or utcnow()
    week = get_week(week_id)
    benefit = get_benefit(week, benefit_id)
    if participant(week.id, member_id) is None:
        raise Forbidden(_("This member does not take part in this week."), code="not_eligible")
    if week.status == "cancelled" or not is_running(week, now):
        raise Conflict(_("This week is not running."), code="not_running")
    if benefit.kind == "mall_item":
        raise Conflict(_("This benefit is taken in the points mall, at the week's price."), code="mall_item",
                       extra={"item_id": benefit.item_id})
    try:
        # What the answer shows -- the benefit's kind, the coupon and its template -- does not change
        # with this commit: it is kept loaded rather than read again.
        with transaction(keep_loaded=True):
            # The week again, under a share lock: a cancel commits under its row lock, so a claim
            # either sees the cancel or holds the cancel back until it has committed.
            status = db.session.scalar(select(MemberWeek.status).where(MemberWeek.id == week.id)
                                       .with_for_update(read=True))
            if status == "cancelled":
                raise Conflict(_("This week is not running."), code="not_running")
            record = Claim(week_id=week.id, benefit=benefit, member_id=member_id, created_at=now)
            db.session.add(record)
            db.session.flush()
            source = PLUGIN.source("claim", record.id)  # the claim just inserted: nothing booked under it yet
            if benefit.kind == "coupon":
                coupon = rewards.issue_coupon(member_id, benefit.coupon_template_id, source=source,
                                              new_source=True)
                record.coupon_id = coupon.id
                record.issued_coupon = coupon  # held for the answer (the session holds objects weakly)
            else:
                rewards.credit(member_id, int(benefit.points), (BENEFIT_REASON % {"title": benefit.title})[:200],
                               source, new_source=True)
                record.points = benefit.points
            _record(week.id, member_id, "claim", now)
            # The benefit's row is the one every claim of it waits for: its conditional update is
            # the transaction's last statement, after whatever the caller still writes (the
            # idempotency key's answer), so the row is locked for that update and the commit only.
            before_commit(lambda: _take_stock(benefit))
            return record
    except IntegrityError:
        db.session.rollback()
        # The one claim per member and benefit (PostgreSQL names the constraint, SQLite the columns).
        if db.session.scalar(select(Claim.id).where(Claim.benefit_id == benefit.id, Claim.member_id == member_id)):
            raise Conflict(_("This benefit has already been claimed."), code="already_claimed") from None
        raise


def _take_stock(benefit: Benefit) -> None:
    table = Benefit.__table__
    row = db.session.execute(
        update(table).where(table.c.id == benefit.id, or_(table.c.stock.is_(None), table.c.stock > 0))
        .values(stock=table.c.stock - 1, claimed=table.c.claimed + 1).returning(table.c.id)).first()
    if row is None:
        raise Conflict(_("This benefit is out of stock."), code="out_of_stock")


def claimed_benefits(week_id: int, member_id: int) -> set[int]:
    return set(db.session.scalars(select(Claim.benefit_id).where(Claim.week_id == week_id,
                                                                 Claim.member_id == member_id)).all())


def _record(week_id: int, member_id: int, kind: str, now: datetime) -> None:
    table = Engagement.__table__
    values = {"week_id": week_id, "member_id": member_id, "kind": kind, "first_at": now}
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    db.session.execute(insert(table).values(values).on_conflict_do_nothing())


def record_engagement(week_id: int, member_id: int, kind: str, now: datetime | None = None) -> bool:
    """Record that a participant engaged, once per kind, only inside the window. Returns whether it counts."""
    now = now or utcnow()
    week = get_week(week_id)
    if week.status == "cancelled" or not week.starts_at <= now < week.ends_at:
        return False
    if participant(week_id, member_id) is None:
        return False
    with transaction():
        _record(week_id, member_id, kind, now)
    return True


def week_at(now: datetime, member_id: int) -> MemberWeek | None:
    """The week whose window holds ``now`` and in which the member takes part."""
    return db.session.scalar(
        select(MemberWeek).join(AudienceMember, and_(AudienceMember.week_id == MemberWeek.id,
                                                     AudienceMember.member_id == member_id,
                                                     AudienceMember.held_out.is_(False)))
        .where(MemberWeek.status != "cancelled", MemberWeek.starts_at <= now, MemberWeek.ends_at > now).limit(1))


def _mall_pricing_windows() -> tuple:
    """(id, starts_at, ends_at) of every week not cancelled that prices mall items: a handful of rows."""
    prices_items = sa.exists().where(Benefit.week_id == MemberWeek.id, Benefit.kind == "mall_item")
    return tuple(db.session.execute(
        select(MemberWeek.id, MemberWeek.starts_at, MemberWeek.ends_at)
        .where(MemberWeek.status != "cancelled", prices_items)).all())


# Every redemption asks for the week's prices; outside such a week the answer is known without a
# query (kept and dropped with the multiplier's windows: the same changes move both).
mall_pricing_windows = ProcessMemo(_mall_pricing_windows)


def mall_offers(member: Member, now: datetime | None = None) -> list:
    """The week's mall prices for a participant while the week runs (the mall's offers hook)."""
    from plugins.points_mall.hookspecs import MallOffer

    now = now or utcnow()
    if not any(row.starts_at <= now < row.ends_at for row in mall_pricing_windows.get()):
        return []
    week = week_at(now, member.id)
    if week is None or not is_running(week, now):
        return []
    return [MallOffer(item_id=benefit.item_id, points_cost=int(benefit.points_cost), label=week.name[:120])
            for benefit in week.benefits if benefit.kind == "mall_item"]


def record_mall_redemptions(week: MemberWeek) -> None:
    """Participants who redeemed a week mall item inside the window engaged: recorded from the
    mall's own redemptions (once per member, at their first), in one INSERT ... SELECT."""
    items = [benefit.item_id for benefit in week.benefits if benefit.kind == "mall_item"]
    if not items:
        return
    try:
        from plugins.points_mall.models import Redemption
    except ImportError:
        return
    rows = (select(sa.literal(week.id), Redemption.member_id, sa.literal("mall_redemption"),
                   func.min(Redemption.created_at))
            .join(AudienceMember, and_(AudienceMember.week_id == week.id,
                                       AudienceMember.member_id == Redemption.member_id,
                                       AudienceMember.held_out.is_(False)))
            .where(Redemption.item_id.in_(items), Redemption.status == "completed",
                   Redemption.created_at >= week.starts_at, Redemption.created_at < week.ends_at)
            .group_by(Redemption.member_id))
    if db.engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    with transaction():
        db.session.execute(insert(Engagement.__table__)
                           .from_select(["week_id", "member_id", "kind", "first_at"], rows)
                           .on_conflict_do_nothing())


def keyword_reply(member: Member | None, text: str, now: datetime | None = None) -> str | None:
    """Answer the week's keyword for a participant (and count it inside the window); others pass."""
    if member is None or not text:
        return None
    now = now or utcnow()
    week = db.session.scalar(
        select(MemberWeek).join(AudienceMember, and_(AudienceMember.week_id == MemberWeek.id,
                                                     AudienceMember.member_id == member.id,
                                                     AudienceMember.held_out.is_(False)))
        .where(MemberWeek.status.in_(SHOWN_STATUSES), MemberWeek.ends_at > now,
               func.lower(MemberWeek.keyword) == text.strip().lower())
        .order_by(MemberWeek.starts_at).limit(1))
    if week is None:
        return None
    record_engagement(week.id, member.id, "keyword", now)
    from plugins.member_week.messages import keyword_answer

    with in_language(member):  # the reply goes to the member, in their language
        return keyword_answer(week, now)
