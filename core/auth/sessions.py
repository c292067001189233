"""Server-side sessions for members' pages and the operators' console.

The Flask cookie carries only a random session id per kind ("member",
"operator"); the ``sign_in_sessions`` table keeps its SHA-256 digest, when it
expires and when it ended. Sign-out ends the row, so a copy of the cookie taken
before sign-out is worth nothing, and revoking a member or an operator ends every
session they hold.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from flask import current_app, g, session
from sqlalchemy import select, update

from core.auth.models import SESSION_KINDS, SignInSession
from core.database import transaction, utcnow
from core.extensions import db

_COOKIE_KEYS = {kind: f"sid_{kind}" for kind in SESSION_KINDS}


def _digest(session_id: str) -> str:
    from core.auth.services import hash_token

    return hash_token(session_id)


def _check_kind(kind: str) -> str:
    if kind not in SESSION_KINDS:
        raise ValueError(f"unknown session kind {kind!r}")
    return _COOKIE_KEYS[kind]


def _lifetime() -> timedelta | None:
    days = current_app.config.get("SESSION_LIFETIME_DAYS")
    return timedelta(days=float(days)) if days else None


def start_session(kind: str, subject_id: int, *, now: datetime | None = None) -> None:
    """Sign ``subject_id`` in as ``kind`` in this browser, under a new session id.

    The browser's previous session of that kind ends, and the CSRF token is
    renewed with the id, so nothing planted before sign-in survives it.
    """
    key = _check_kind(kind)
    now = now or utcnow()
    lifetime = _lifetime()
    session_id = secrets.token_urlsafe(32)
    with transaction():
        _end_rows([session.get(key)], now)
        db.session.add(SignInSession(kind=kind, subject_id=subject_id, id_hash=_digest(session_id),
                                     created_at=now, expires_at=now + lifetime if lifetime else None))
    session.pop("csrf_token", None)
    session[key] = session_id
    session.permanent = True
    g.pop("memberday_subjects", None)


def session_holds(kind: str) -> bool:
    """Whether this browser's session cookie names a session of ``kind`` (live or not: unchecked)."""
    return session.get(_check_kind(kind)) is not None


def current_subject(kind: str, *, now: datetime | None = None) -> int | None:
    """The id of the member or operator signed in as ``kind``; None when absent, ended or expired."""
    key = _check_kind(kind)
    cache = g.setdefault("memberday_subjects", {})
    if kind in cache and now is None:
        return cache[kind]
    session_id = session.get(key)
    subject = None
    if isinstance(session_id, str) and 0 < len(session_id) <= 100:
        now = now or utcnow()
        subject = db.session.scalar(
            select(SignInSession.subject_id).where(
                SignInSession.id_hash == _digest(session_id), SignInSession.kind == kind,
                SignInSession.ended_at.is_(None),
                (SignInSession.expires_at.is_(None)) | (SignInSession.expires_at > now)))
    cache[kind] = subject
    return subject


def end_session(*, now: datetime | None = None) -> None:
    """Sign this browser out: every session it holds ends server-side and the cookie is emptied."""
    with transaction():
        _end_rows([session.get(key) for key in _COOKIE_KEYS.values()], now or utcnow())
    session.clear()
    g.pop("memberday_subjects", None)


def end_all_sessions(kind: str, subject_id: int, *, now: datetime | None = None) -> int:
    """End every session of one member or operator (revocation); returns how many were open."""
    _check_kind(kind)
    with transaction():
        result = db.session.execute(
            update(SignInSession)
            .where(SignInSession.kind == kind, SignInSession.subject_id == subject_id,
                   SignInSession.ended_at.is_(None))
            .values(ended_at=now or utcnow()))
    g.pop("memberday_subjects", None)
    return result.rowcount


def _end_rows(session_ids, now: datetime) -> None:
    digests = [_digest(sid) for sid in session_ids if isinstance(sid, str) and 0 < len(sid) <= 100]
    if digests:
        db.session.execute(update(SignInSession)
                           .where(SignInSession.id_hash.in_(digests), SignInSession.ended_at.is_(None))
                           .values(ended_at=now))
