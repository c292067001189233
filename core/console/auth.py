"""Who is signed in to the console, through the server-side sign-in sessions of ``core.auth.sessions``.

The browser's cookie holds only a session id; signing out, or revoking the
operator, ends the session row, and a copy of the cookie is worth nothing after.
"""
from __future__ import annotations

import hmac

from flask import g

from core.auth import sessions
from core.auth.models import Operator
from core.auth.services import Principal, authenticate
from core.extensions import db


def sign_in_with_token(name: str, token: str) -> Operator | None:
    """Check an operator's name and API token; start a console session when they match."""
    principal = authenticate(token)
    if principal is None or not principal.is_operator() or not hmac.compare_digest(principal.name, name):
        return None
    sessions.start_session("operator", principal.id)
    g.pop("console_operator", None)
    return db.session.get(Operator, principal.id)


def current_operator() -> Operator | None:
    """The signed-in operator; None when nobody is, or their session ended, expired or was revoked."""
    if "console_operator" in g:
        return g.console_operator
    operator_id = sessions.current_subject("operator")
    operator = db.session.get(Operator, operator_id) if operator_id else None
    g.console_operator = operator
    if operator is not None:
        # The API's permission checks and idempotency keys see the console's operator.
        g.principal = Principal("operator", operator.id, operator.role, operator.name)
    return operator


def sign_out() -> None:
    sessions.end_session()
    g.pop("console_operator", None)
