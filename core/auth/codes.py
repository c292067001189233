"""One-time sign-in codes sent to a member's phone.

A code is 6 digits, lives ``ONE_TIME_CODE_MINUTES`` (10) minutes, allows
``ONE_TIME_CODE_ATTEMPTS`` (5) wrong tries and then is locked, and works once.
Only the newest code of a phone counts: sending a new one ends the ones before.
The database keeps an HMAC of the phone and the code under ``SECRET_KEY`` (six
digits alone would be found by brute force from a stolen table); a try is
compared in constant time under a row lock, so two tries at once count twice.

Delivery goes through the ``memberday_send_one_time_code`` hook, where a brand
plugs in its SMS provider. When no plugin delivers the code, the development
channel writes it to the ``memberday.one_time_codes`` log (the test fixture
``one_time_code`` reads it there); production writes only that nothing
delivered it, never the code.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select, update

from core.auth.models import OneTimeCode
from core.database import transaction, utcnow
from core.errors import AppError
from core.extensions import db
from core.i18n import _

log = logging.getLogger("memberday.one_time_codes")

DIGITS = 6


class CodeRefused(AppError):
    """The code cannot sign in: ``code`` says why (``code_wrong``, ``code_expired``, ``code_locked``, ``code_missing``)."""

    status = 401
    code = "code_wrong"


def _minutes() -> int:
    return int(current_app.config.get("ONE_TIME_CODE_MINUTES", 10))


def max_attempts() -> int:
    return int(current_app.config.get("ONE_TIME_CODE_ATTEMPTS", 5))


def _digest(phone: str, code: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode("utf-8")
    return hmac.new(key, f"{phone}\0{code}".encode("utf-8"), hashlib.sha256).hexdigest()


def new_code() -> str:
    return f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"


def send_code(phone: str, *, locale: str | None = None, now: datetime | None = None) -> str:
    """Make a new code for ``phone`` (already normalised, E.164), deliver it; returns the channel's name."""
    now = now or utcnow()
    code = new_code()
    with transaction():
        db.session.execute(update(OneTimeCode)
                           .where(OneTimeCode.phone == phone, OneTimeCode.used_at.is_(None))
                           .values(used_at=now))
        db.session.add(OneTimeCode(phone=phone, code_hash=_digest(phone, code), attempts=0, created_at=now,
                                   expires_at=now + timedelta(minutes=_minutes())))
    return deliver(phone, code, locale)


def deliver(phone: str, code: str, locale: str | None) -> str:
    """Hand the code to the first plugin that delivers it; else the development log."""
    from core.plugins.host import current_host

    # Sent in the request, not a job: the code never waits in a queue in clear text.
    _, channel = current_host().first_result("memberday_send_one_time_code", phone=phone, code=code,
                                             locale=locale)
    if channel:
        return str(channel)
    if current_app.config.get("ONE_TIME_CODES_TO_LOG", True):
        # A warning, so a bare `memberday run` shows it: development has no other way to get the code.
        log.warning("one-time code for %s: %s", mask(phone), code, extra={"phone": phone, "code": code})
        return "log"
    log.warning("no channel delivered the one-time code for %s", mask(phone))
    return "none"


def mask(phone: str) -> str:
    """``+886912345678`` → ``+88691****678``: enough to tell phones apart in a log, not to dial."""
    return phone[:-7] + "****" + phone[-3:] if len(phone) > 8 else "****"


def check_code(phone: str, code: str, *, now: datetime | None = None) -> None:
    """Use the newest code of ``phone``; raise ``CodeRefused`` when it is wrong, old, locked or absent.

    A wrong try is counted (and committed) before the refusal is raised.
    """
    now = now or utcnow()
    code = (code or "").strip()
    refusal = None
    with transaction():
        row = db.session.scalar(select(OneTimeCode).where(OneTimeCode.phone == phone)
                                .order_by(OneTimeCode.id.desc()).limit(1).with_for_update())
        if row is None or (row.used_at is not None and row.attempts < max_attempts()):
            refusal = CodeRefused(_("Ask for a new code."), code="code_missing")
        elif row.attempts >= max_attempts():
            refusal = CodeRefused(_("Too many wrong tries: ask for a new code."), code="code_locked")
        elif row.expires_at <= now:
            refusal = CodeRefused(_("This code has expired: ask for a new one."), code="code_expired")
        elif not hmac.compare_digest(row.code_hash, _digest(phone, code)):
            row.attempts += 1
            refusal = CodeRefused(_("That code is not right."), code="code_wrong",
                                  extra={"tries_left": max_attempts() - row.attempts})
        else:
            row.used_at = now
    if refusal is not None:
        raise refusal
