"""Tokens and who is calling: operators by role, members reaching only their own data.

Tokens are random, shown once, and stored as a SHA-256 digest: a stolen
database gives no working token. They are looked up by digest and compared in
constant time.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from flask import g, request
from sqlalchemy import select

from core.auth.models import ROLES, Operator
from core.database import transaction
from core.errors import Conflict, Forbidden, Unauthorized, ValidationFailed
from core.extensions import db

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


def create_operator(name: str, role: str) -> tuple[Operator, str]:
    """Create an operator and return it with its token (shown only this once)."""
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", fields={"role": ["unknown role"]})
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationFailed("name must be 1-100 characters", fields={"name": ["invalid"]})
    token = new_token(OPERATOR_PREFIX)
    with transaction():
        if db.session.scalar(select(Operator.id).where(Operator.name == name)):
            raise Conflict(f"an operator named {name!r} exists", code="operator_exists")
        operator = Operator(name=name, role=role, token_hash=hash_token(token))
        db.session.add(operator)
    return operator, token


def authenticate(token: str) -> Principal | None:
    """The principal a bearer token belongs to, or None."""
    from core.members.models import Member

    if not token or len(token) > 200:
        return None
    digest = hash_token(token)
    if token.startswith(OPERATOR_PREFIX):
        operator = db.session.scalar(select(Operator).where(Operator.token_hash == digest))
        if operator and hmac.compare_digest(operator.token_hash, digest):
            return Principal("operator", operator.id, operator.role, operator.name)
    elif token.startswith(MEMBER_PREFIX):
        member = db.session.scalar(select(Member).where(Member.token_hash == digest))
        if member and hmac.compare_digest(member.token_hash, digest):
            return Principal("member", member.id, None, member.name)
    return None


def current_principal() -> Principal | None:
    if "principal" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        g.principal = authenticate(token.strip()) if scheme.lower() == "bearer" else None
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
    """A member may reach only their own data; operators (of ``roles``) reach anyone's."""
    principal = require_principal()
    if principal.kind == "member":
        if principal.id != member_id:
            raise Forbidden("A member token reaches only that member's own data.")
        return principal
    if not principal.is_operator(*roles):
        raise Forbidden()
    return principal


# Role sets used by the views.
ADMIN = ("admin",)
MANAGERS = ("admin", "operator")
STAFF = ("admin", "operator", "staff")
