"""The birthday gift's rules: setting a birthday, the once-a-year gift, the birthday-month bonus."""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import select

from core.database import transaction, utcnow
from core.errors import Conflict, NotFound, Unauthorized
from core.extensions import db
from core.i18n import N_, _, in_language, stored_template
from core.members.services import get_member
from core.notifications.services import notify
from core.rewards import services as rewards
from core.rewards.models import Coupon

from . import PLUGIN
from .models import Birthday, BirthdayGift

# The gift's ledger reason: stored in English, shown in the reader's language (core.i18n.translate_stored).
# Translators: ledger reason
GIFT_REASON = stored_template(N_("Birthday gift %(year)s"))
SIGNATURE_HEADER = "X-Birthday-Gift-Signature"
log = logging.getLogger(__name__)


def settings() -> dict:
    return PLUGIN.settings()


def brand_zone() -> ZoneInfo:
    return ZoneInfo(current_app.config["BRAND_TIMEZONE"])


def brand_today() -> date:
    """Today in the brand's time zone: a birthday month starts at the brand's midnight, not UTC's."""
    return utcnow().astimezone(brand_zone()).date()


def gift_source(member_id: int, year: int) -> str:
    return PLUGIN.source(member_id, year)


def get_birthday(member_id: int) -> Birthday | None:
    return db.session.get(Birthday, member_id)


def set_birthday(member_id: int, month: int, day: int, *, set_by: str) -> Birthday:
    """Record a member's birthday. A member sets it once; operators (and the CRM webhook) may correct it.

    Letting members change it at will would let them move their birthday month
    to whenever a bonus suits them.
    """
    with transaction():
        rewards.lock_member(member_id)
        row = db.session.get(Birthday, member_id, populate_existing=True)
        if row is not None and set_by == "member" and (row.month, row.day) != (month, day):
            raise Conflict(_("Your birthday is already set; ask us if it is wrong."), code="birthday_already_set")
        if row is None:
            row = Birthday(member_id=member_id, month=month, day=day, set_by=set_by)
            db.session.add(row)
        else:
            row.month, row.day, row.set_by, row.updated_at = month, day, set_by, utcnow()
        return row


def gift_of(member_id: int, year: int) -> BirthdayGift | None:
    return db.session.scalar(select(BirthdayGift).where(BirthdayGift.member_id == member_id,
                                                        BirthdayGift.year == year))


def describe(member_id: int) -> dict:
    """A member's birthday and this year's gift, as the API and the page show them."""
    get_member(member_id)
    row = get_birthday(member_id)
    if row is None:
        raise NotFound(_("No birthday is set for this member."))
    gift = gift_of(member_id, brand_today().year)
    shown_gift = None
    if gift is not None:
        coupon = db.session.get(Coupon, gift.coupon_id) if gift.coupon_id else None
        shown_gift = {"year": gift.year, "points": gift.points, "coupon_code": coupon.code if coupon else None}
    return {"member_id": member_id, "month": row.month, "day": row.day, "set_by": row.set_by, "gift": shown_gift}


def give_gift(member_id: int, year: int) -> BirthdayGift:
    """Give this year's gift, once: a second call for the same year returns the first gift."""
    return _give_gift(member_id, year)[0]


def _give_gift(member_id: int, year: int) -> tuple[BirthdayGift, bool]:
    """This year's gift, and whether this call gave it (False: an earlier call had)."""
    config = settings()
    with transaction():
        rewards.lock_member(member_id)  # serialises two runs of the job for the same member
        existing = gift_of(member_id, year)
        if existing is not None:
            return existing, False
        gift = BirthdayGift(member_id=member_id, year=year, points=config["gift_points"])
        db.session.add(gift)
        db.session.flush()
        source = gift_source(member_id, year)
        if gift.points:
            rewards.credit(member_id, gift.points, GIFT_REASON % {"year": year}, source)
        if config["coupon_template_id"]:
            coupon = rewards.issue_coupon(member_id, config["coupon_template_id"], source=f"{source}:coupon")
            gift.coupon_id = coupon.id
        with in_language(member_id):  # in the member's language, whatever started the job
            notify(member_id, _("Happy birthday!"), _("Your birthday gift is waiting on your page."))
        return gift, True


def due_member_ids(today: date) -> list[int]:
    """Members whose birthday month it is and who have had no gift this year."""
    gifted = select(BirthdayGift.member_id).where(BirthdayGift.year == today.year)
    return list(db.session.scalars(
        select(Birthday.member_id).where(Birthday.month == today.month, Birthday.member_id.not_in(gifted))
        .order_by(Birthday.member_id)))


def send_due(on: str | None = None) -> dict:
    """The daily job: gift every member in their birthday month who has no gift yet this year.

    ``on`` (an ISO date) stands in for today. A member whose gift fails is
    logged and left for the next run; the others still get theirs. ``given``
    counts the gifts this run gave, not those another run gave first.
    """
    today = date.fromisoformat(on) if on else brand_today()
    given, failed = 0, 0
    for member_id in due_member_ids(today):
        try:
            given += _give_gift(member_id, today.year)[1]
        except Exception:
            log.exception("birthday gift for member %s failed; the next run tries again", member_id)
            failed += 1
    return {"given": given, "failed": failed}


def in_birthday_month(member_id: int, when: datetime) -> bool:
    row = get_birthday(member_id)
    return row is not None and when.astimezone(brand_zone()).month == row.month


def multiplier_for(member_id: int, paid_at: datetime) -> int | None:
    factor = settings()["points_multiplier"]
    if factor > 1 and in_birthday_month(member_id, paid_at):
        return factor
    return None


def check_signature(body: bytes, header: str | None) -> None:
    """The CRM signs the raw body with HMAC-SHA256 and the shared secret: ``sha256=<hex>``."""
    secret = settings().get("webhook_secret")
    if not secret:
        raise NotFound(_("The birthday webhook is not configured."))
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not header or not hmac.compare_digest(expected, header):
        raise Unauthorized(_("The signature does not match."))
