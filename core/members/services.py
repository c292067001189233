"""Joining, finding and updating members."""
from __future__ import annotations

from flask import current_app
from sqlalchemy import func, literal_column, or_, select
from sqlalchemy.exc import IntegrityError

from core.auth.services import MEMBER_PREFIX, hash_token, new_token
from core.database import transaction
from core.errors import Conflict, NotFound, ValidationFailed
from core.extensions import db
from core.i18n import _
from core.members import identity
from core.members.models import NAME_WORDS, Member
from core.plugins.host import emit


def normalise_phone(phone: str | None) -> str | None:
    """The phone in E.164, read in the brand's DEFAULT_PHONE_REGION; 400 when it is not a phone."""
    try:
        return identity.normalise_phone(phone, current_app.config.get("DEFAULT_PHONE_REGION"))
    except identity.IdentityError as exc:
        raise ValidationFailed(str(exc), fields={"phone": [str(exc)]}) from None


def normalise_email(email: str | None) -> str | None:
    """The e-mail case-folded with an IDNA domain; 400 when it is not one, or mixes look-alike alphabets."""
    try:
        return identity.normalise_email(email)
    except identity.IdentityError as exc:
        raise ValidationFailed(str(exc), fields={"email": [str(exc)]}) from None


def member_with_identity(phone: str | None = None, email: str | None = None) -> Member | None:
    """The member holding this phone or e-mail, however it is written (for sign-in and lookups)."""
    taken = [column == value for column, value in
             ((Member.phone, normalise_phone(phone)), (Member.email, normalise_email(email))) if value]
    return db.session.scalar(select(Member).where(or_(*taken)).limit(1)) if taken else None


def create_member(name: str, *, phone: str | None = None, email: str | None = None, openid: str | None = None,
                  unionid: str | None = None, device_id: str | None = None, tier: str = "member",
                  tags: list | None = None, marketing_consent: bool = False,
                  context: dict | None = None) -> tuple[Member, str]:
    """Create a member; returns it with its token, which is shown only this once.

    ``context`` (referral code, device, channel) is handed to plugins with the
    ``member_created`` event.
    """
    phone = normalise_phone(phone)
    email = normalise_email(email)
    token = new_token(MEMBER_PREFIX)
    taken = [column == value for column, value in
             ((Member.phone, phone), (Member.email, email), (Member.openid, openid)) if value]
    try:
        with transaction():
            if taken and db.session.scalar(select(Member.id).where(or_(*taken)).limit(1)):
                raise Conflict(_("A member with this phone, email or WeChat account already exists."),
                               code="member_exists")
            member = Member(name=name, phone=phone, email=email, openid=openid, unionid=unionid,
                            device_id=device_id, tier=tier, tags=list(tags or []),
                            marketing_consent=marketing_consent, token_hash=hash_token(token))
            db.session.add(member)
            db.session.flush()
            emit("memberday_member_created", member=member, context=dict(context or {}, device_id=device_id))
    except IntegrityError:
        # Two joins with the same identity at once: the unique constraint decided.
        raise Conflict(_("A member with this phone, email or WeChat account already exists."),
                       code="member_exists") from None
    return member, token


def get_member(member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None:
        raise NotFound(_("Member %(id)s does not exist.", id=member_id))
    return member


def member_by_openid(openid: str) -> Member | None:
    return db.session.scalar(select(Member).where(Member.openid == openid))


def update_member(member_id: int, **changes) -> Member:
    """An operator changes a member's tier, tags, consent or language (a member, their language)."""
    with transaction():
        member = get_member(member_id)
        for key in ("name", "tier", "tags", "marketing_consent", "locale"):
            if key in changes:
                setattr(member, key, list(changes[key]) if key == "tags" else changes[key])
        return member


def search_condition(q: str):
    """Who ``q`` finds: the member with that exact e-mail or phone, else names containing it.

    An e-mail or phone is normalised as joining stores it and matched through its unique
    index; a name fragment uses the trigram index on PostgreSQL (plain LIKE on SQLite).
    Either way the same members as ``name ILIKE '%q%'`` (q taken literally).
    """
    if "@" in q:
        return Member.email == q.lower()
    try:
        phone = normalise_phone(q)
    except ValidationFailed:
        phone = None
    if phone is not None:
        return Member.phone == phone
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    if db.session.get_bind().dialect.name != "postgresql":
        return Member.name.ilike(f"%{escaped}%", escape="\\")
    # The name as the trigram index reads it (models.NAME_WORDS): space and hyphen swapped with 0 and 1.
    # The swap maps characters one to one and none of them has a case, so the swapped name holds the
    # swapped q exactly when the name holds q: the same members as name ILIKE '%q%'.
    gaps, letters = NAME_WORDS
    swapped = func.translate(Member.name, literal_column(f"'{gaps}'"), literal_column(f"'{letters}'"))
    return swapped.ilike(f"%{escaped.translate(str.maketrans(gaps, letters))}%", escape="\\")


def set_locale(member_id: int, locale: str | None) -> Member:
    """The language the member reads pages, replies and notifications in (None: the brand's)."""
    from core.i18n import LOCALES

    if locale is not None and locale not in LOCALES:
        raise ValidationFailed(fields={"locale": ["Must be one of: zh-Hant, zh-Hans, en."]})
    with transaction():
        member = get_member(member_id)
        member.locale = locale
        return member
