"""Who is signed in to the console, and which console pages each role reaches.

Admins and operators reach every page; staff reach only the scanner. A page
that changes the platform's set-up (plugins, operators) asks for admins on top.
"""
from __future__ import annotations

import hmac

from flask import g, session
from sqlalchemy import select

from core.auth.models import Operator
from core.auth.services import Principal, authenticate, hash_token
from core.extensions import db

_SESSION_KEY = "console_operator"


def sign_in_with_token(name: str, token: str) -> Operator | None:
    """Check an operator's name and API token; start a console session when they match."""
    principal = authenticate(token)
    if principal is None or not principal.is_operator() or not hmac.compare_digest(principal.name, name):
        return None
    session.clear()
    session[_SESSION_KEY] = {"id": principal.id, "token": hash_token(token)}
    session.permanent = True
    return db.session.get(Operator, principal.id)


def current_operator() -> Operator | None:
    """The signed-in operator; None when nobody is, or when the token they signed in with was revoked."""
    if "console_operator" in g:
        return g.console_operator
    data = session.get(_SESSION_KEY) or {}
    operator = None
    if isinstance(data, dict) and data.get("id") and data.get("token"):
        operator = db.session.scalar(select(Operator).where(Operator.id == data["id"]))
        if operator is not None and not hmac.compare_digest(operator.token_hash, str(data["token"])):
            operator = None
    g.console_operator = operator
    if operator is not None:
        # The API's permission checks and idempotency keys see the console's operator.
        g.principal = Principal("operator", operator.id, operator.role, operator.name)
    return operator


def sign_out() -> None:
    session.pop(_SESSION_KEY, None)
    g.pop("console_operator", None)
