"""Who is signed in to the console, through the server-side sign-in sessions of ``core.auth.sessions``.

Operators sign in with their name and password (scrypt hashes, checked by
``verify_operator_password``). The browser's cookie holds only a session id;
signing out, revoking the operator or changing their password ends the session
row, and a copy of the cookie is worth nothing after.
"""
from __future__ import annotations

from flask import g, session

from core.auth import sessions
from core.auth.models import Operator
from core.auth.services import Principal, verify_operator_password
from core.extensions import db

# The console's language choice lives in the browser's session, next to the session id.
LOCALE_KEY = "console_locale"


def sign_in_with_password(name: str, password: str) -> Operator | None:
    """Check an operator's name and password; start a console session when they match.

    A wrong password, an unknown name, an operator without a password and a revoked
    one all give None, after the same scrypt work.
    """
    principal = verify_operator_password(name, password)
    if principal is None:
        return None
    start_for(principal.id)
    return db.session.get(Operator, principal.id)


def start_for(operator_id: int) -> None:
    """A new console session for this browser (the language chosen before is kept)."""
    locale = session.get(LOCALE_KEY)
    sessions.start_session("operator", operator_id)
    if locale:
        session[LOCALE_KEY] = locale
    g.pop("console_operator", None)


def current_operator() -> Operator | None:
    """The signed-in operator; None when nobody is, or their session ended, expired or was revoked."""
    if "console_operator" in g:
        return g.console_operator
    operator_id = sessions.current_subject("operator")
    operator = db.session.get(Operator, operator_id) if operator_id else None
    if operator is not None and operator.revoked_at is not None:
        operator = None
    g.console_operator = operator
    if operator is not None:
        # The API's permission checks and idempotency keys see the console's operator.
        g.principal = Principal("operator", operator.id, operator.role, operator.name)
    return operator


def sign_out() -> None:
    locale = session.get(LOCALE_KEY)
    sessions.end_session()
    if locale:
        session[LOCALE_KEY] = locale
    g.pop("console_operator", None)
