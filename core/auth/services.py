"""Tokens and who is calling: operators by role, members reaching only their own data.

Tokens are random, shown once, and stored as a SHA-256 digest: a stolen
database gives no working token. They are looked up by digest and compared in
constant time. A token can be rotated (a new one replaces it at once), revoked
(no token at all) and can carry an expiry. Operators may also have a password
for the console, stored as a scrypt hash (Werkzeug).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, g, has_request_context, request
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

from core.auth.models import ROLES, Operator
from core.database import transaction, utcnow
from core.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from core.extensions import db
from core.i18n import _

OPERATOR_PREFIX = "op_"
MEMBER_PREFIX = "mb_"


def new_token(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Principal:
    kind: str  # "operator" or "member"
    id: int
    role: str | None = None  # operators only
    name: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.id}"

    def is_operator(self, *roles: str) -> bool:
        return self.kind == "operator" and (not roles or self.role in roles)


PASSWORD_MIN_LENGTH = 10
PASSWORD_MAX_LENGTH = 1024
# Checked when a name is unknown, so a wrong name costs as long as a wrong password.
_NO_SUCH_OPERATOR = generate_password_hash("no such operator")


def token_expiry(expires_in_days: float | None, setting: str, now: datetime | None = None) -> datetime | None:
    """When a token issued now expires: the days asked for, else the setting's; None: never."""
    days = expires_in_days if expires_in_days is not None else current_app.config.get(setting)
    if days is None:
        return None
    if not 0 < float(days) <= 3650:
        raise ValidationFailed(_("A token lasts between 1 day and 10 years."),
                               fields={"expires_in_days": ["must be between 1 and 3650"]})
    return (now or utcnow()) + timedelta(days=float(days))


def _check_password(password: str | None) -> str:
    if not isinstance(password, str) or not PASSWORD_MIN_LENGTH <= len(password) <= PASSWORD_MAX_LENGTH:
        raise ValidationFailed(_("A password has %(min)s to %(max)s characters.", min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH),
                               fields={"password": ["too short or too long"]})
    return password


def create_operator(name: str, role: str, *, password: str | None = None,
                    expires_in_days: float | None = None) -> tuple[Operator, str]:
    """Create an operator and return it with its token (shown only this once)."""
    if role not in ROLES:
        raise ValidationFailed(_("The role must be one of: %(roles)s.", roles=", ".join(ROLES)), fields={"role": ["unknown role"]})
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed(_("A name has 1 to 100 characters."), fields={"name": ["invalid"]})
    password_hash = generate_password_hash(_check_password(password)) if password is not None else None
    token = new_token(OPERATOR_PREFIX)
    with transaction():
        if db.session.scalar(select(Operator.id).where(Operator.name == name)):
            raise Conflict(_("An operator named %(name)s exists.", name=name), code="operator_exists")
        operator = Operator(name=name, role=role, token_hash=hash_token(token), password_hash=password_hash,
                            token_expires_at=token_expiry(expires_in_days, "OPERATOR_TOKEN_DAYS"))
        db.session.add(operator)
    return operator, token


def list_operators() -> list[Operator]:
    return list(db.session.scalars(select(Operator).order_by(Operator.name)))


def _operator_for_update(name: str) -> Operator:
    operator = db.session.scalar(select(Operator).where(Operator.name == name).with_for_update())
    if operator is None:
        raise NotFound(_("No operator is named %(name)s.", name=name))
    return operator


def rotate_operator_token(name: str, *, expires_in_days: float | None = None,
                          now: datetime | None = None) -> tuple[Operator, str]:
    """Give an operator a new token; the old one stops working at once. Reinstates a revoked operator."""
    token = new_token(OPERATOR_PREFIX)
    with transaction():
        operator = _operator_for_update(name)
        operator.token_hash = hash_token(token)
        operator.token_expires_at = token_expiry(expires_in_days, "OPERATOR_TOKEN_DAYS", now)
        operator.revoked_at = None
    return operator, token


def revoke_operator(name: str, *, now: datetime | None = None) -> Operator:
    """Take an operator's access away: the token, password sign-in and every console session end."""
    from core.auth.sessions import end_all_sessions

    now = now or utcnow()
    with transaction():
        operator = _operator_for_update(name)
        operator.token_hash = None
        operator.token_expires_at = None
        operator.revoked_at = operator.revoked_at or now
        end_all_sessions("operator", operator.id, now=now)
    return operator


def set_operator_password(name: str, password: str, *, now: datetime | None = None) -> Operator:
    """Set (or replace) the password an operator signs in to the console with.

    Every console session the operator holds ends with the old password: a browser
    signed in by whoever knew it is signed out (the console signs the browser that
    changed it in again).
    """
    from core.auth.sessions import end_all_sessions

    password_hash = generate_password_hash(_check_password(password))
    with transaction():
        operator = _operator_for_update(name)
        operator.password_hash = password_hash
        end_all_sessions("operator", operator.id, now=now)
    return operator


def revoke_operator_token(name: str) -> Operator:
    """Withdraw an operator's API token (integrations using it get 401); their password sign-in stays."""
    with transaction():
        operator = _operator_for_update(name)
        operator.token_hash = None
        operator.token_expires_at = None
    return operator


def verify_operator_password(name: str, password: str) -> Principal | None:
    """The operator a console sign-in names, when the password is theirs and they are not revoked."""
    if not isinstance(name, str) or not isinstance(password, str) or len(password) > PASSWORD_MAX_LENGTH:
        return None
    operator = db.session.scalar(select(Operator).where(Operator.name == name.strip()[:100]))
    stored = operator.password_hash if operator is not None and operator.password_hash else None
    matches = check_password_hash(stored or _NO_SUCH_OPERATOR, password)
    if not (matches and stored and operator.revoked_at is None):
        return None
    return Principal("operator", operator.id, operator.role, operator.name)


def rotate_member_token(member_id: int, *, expires_in_days: float | None = None,
                        now: datetime | None = None) -> tuple[str, datetime | None]:
    """Give a member a new token (the old one stops working); returns it with its expiry."""
    from core.members.models import Member

    token = new_token(MEMBER_PREFIX)
    with transaction():
        member = db.session.get(Member, member_id, with_for_update=True)
        if member is None:
            raise NotFound(_("Member %(id)s does not exist.", id=member_id))
        member.token_hash = hash_token(token)
        member.token_expires_at = token_expiry(expires_in_days, "MEMBER_TOKEN_DAYS", now)
    return token, member.token_expires_at


def revoke_member_token(member_id: int, *, now: datetime | None = None) -> None:
    """Revoke a member's token and end their signed-in sessions; they sign in again to get access."""
    from core.auth.sessions import end_all_sessions
    from core.members.models import Member

    with transaction():
        member = db.session.get(Member, member_id, with_for_update=True)
        if member is None:
            raise NotFound(_("Member %(id)s does not exist.", id=member_id))
        member.token_hash = None
        member.token_expires_at = None
        end_all_sessions("member", member_id, now=now)


def authenticate(token: str) -> Principal | None:
    """The principal a bearer token belongs to, or None."""
    from core.members.models import Member

    if not token or len(token) > 200:
        return None
    digest = hash_token(token)
    now = utcnow()
    if token.startswith(OPERATOR_PREFIX):
        operator = db.session.scalar(select(Operator).where(Operator.token_hash == digest))
        if operator and hmac.compare_digest(operator.token_hash, digest) and operator.revoked_at is None \
                and _not_expired(operator.token_expires_at, now):
            return Principal("operator", operator.id, operator.role, operator.name)
    elif token.startswith(MEMBER_PREFIX):
        member = db.session.scalar(select(Member).where(Member.token_hash == digest))
        if member and hmac.compare_digest(member.token_hash, digest) and _not_expired(member.token_expires_at, now):
            if has_request_context():
                # Held for the request: the session's identity map is weak, and the view reads this
                # member again (its points, its redemption) -- from memory, not with a second SELECT.
                g.principal_member = member
            return Principal("member", member.id, None, member.name)
    return None


def member_token_digest() -> str | None:
    """The digest of the member token this request carries, for a read that checks the token in the
    same statement that reads its data (see :func:`accept_member_token`); None when the request carries
    no member token or its principal is already known."""
    if "principal" in g:
        return None
    token = _bearer_token()
    if token is None or not token.startswith(MEMBER_PREFIX) or len(token) > 200:
        return None
    return hash_token(token)


def accept_member_token(member_id: int, name: str, stored_hash: str | None, expires_at: datetime | None,
                        digest: str) -> bool:
    """Whether ``digest`` (from :func:`member_token_digest`) is the live token of the member whose row
    was read with it; if so, that member is the request's principal, as :func:`authenticate` would
    have found. When it is not, nothing is decided: the caller takes the ordinary path, which answers
    401 or 403 as it always does."""
    if stored_hash is None or not hmac.compare_digest(stored_hash, digest) \
            or not _not_expired(expires_at, utcnow()):
        return False
    g.principal = Principal("member", member_id, None, name)
    return True


def _not_expired(expires_at: datetime | None, now: datetime) -> bool:
    return expires_at is None or expires_at > now


def _bearer_token() -> str | None:
    """The token of this request's ``Authorization: Bearer ...`` header, or None."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def current_principal() -> Principal | None:
    if "principal" not in g:
        token = _bearer_token()
        g.principal = authenticate(token) if token is not None else None
    return g.principal


def require_principal() -> Principal:
    principal = current_principal()
    if principal is None:
        raise Unauthorized()
    return principal


def require_operator(*roles: str) -> Principal:
    """The calling operator, who must hold one of ``roles`` (any role when none given)."""
    principal = require_principal()
    if not principal.is_operator(*roles):
        raise Forbidden()
    return principal


def require_self_or_operator(member_id: int, *roles: str) -> Principal:
    """A member may reach only their own data; operators of ``roles`` (default: admins and
    operators, never staff -- see docs/operators.md) reach anyone's."""
    principal = require_principal()
    if principal.kind == "member":
        if principal.id != member_id:
            raise Forbidden(_("A member token reaches only that member's own data."))
        return principal
    if not principal.is_operator(*(roles or MANAGERS)):
        raise Forbidden()
    return principal


# Role sets used by the views. Staff work the till and the door: they reach coupons by code
# (title, channel, status, expiry) and tickets, never members' contact details, ledgers or
# voucher codes. docs/operators.md has the table; tests/core/test_roles.py tests each cell.
ADMIN = ("admin",)
MANAGERS = ("admin", "operator")
STAFF = ("admin", "operator", "staff")
