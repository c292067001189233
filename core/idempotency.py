"""Idempotency-Key for every POST that moves value.

The first call with a key inserts the key row, runs the view and stores its
answer, all in one transaction. A concurrent twin's insert waits on the unique
index until the first commits, then fails and replays the stored answer; if the
first rolled back, the twin goes ahead as the first. A business refusal (a 409
such as ``insufficient_points``) is stored too, so a retry gets the same answer.
The same key with another body is ``409 idempotency_key_reused``.
"""
from __future__ import annotations

import hashlib
from datetime import timedelta
from functools import wraps

import sqlalchemy as sa
from flask import current_app, make_response, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.auth.services import current_principal
from core.database import UTCDateTime, transaction, utcnow
from core.errors import AppError, Conflict, ValidationFailed, error_response
from core.extensions import db

HEADER = "Idempotency-Key"


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),)

    id = sa.Column(sa.Integer, primary_key=True)
    scope = sa.Column(sa.String(60), nullable=False)
    key = sa.Column(sa.String(200), nullable=False)
    fingerprint = sa.Column(sa.String(64), nullable=False)
    status_code = sa.Column(sa.Integer)
    response_body = sa.Column(sa.Text)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow, index=True)


def _fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update(request.method.encode())
    digest.update(request.path.encode())
    digest.update(b"\0")
    digest.update(request.get_data())
    return digest.hexdigest()


def idempotent(view):
    """Make a value-moving view safe to retry with an ``Idempotency-Key`` header."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not key.strip() or len(key) > 200 or not key.isprintable():
            raise ValidationFailed("Idempotency-Key must be 1-200 printable characters.",
                                   fields={HEADER: ["invalid"]})
        principal = current_principal()
        scope = principal.key if principal else "anonymous"
        fingerprint = _fingerprint()
        try:
            with transaction():
                row = IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint)
                db.session.add(row)
                db.session.flush()  # waits here behind a concurrent twin
                try:
                    response = make_response(view(*args, **kwargs))
                except AppError as error:
                    raise _Refused(error) from error
                row.status_code = response.status_code
                row.response_body = response.get_data(as_text=True)
            return response
        except _Refused as refused:
            return _remember_refusal(scope, key, fingerprint, refused.error)
        except IntegrityError:
            db.session.rollback()
            replay = _replay(scope, key, fingerprint)
            if replay is None:
                raise
            return replay

    return wrapper


class _Refused(Exception):
    def __init__(self, error: AppError):
        super().__init__(error.message)
        self.error = error


def _remember_refusal(scope: str, key: str, fingerprint: str, error: AppError):
    response = error_response(error)
    if error.status >= 500 or error.status in (401, 403):
        return response  # not a final answer: the caller may fix its credentials and retry
    try:
        with transaction():
            db.session.add(IdempotencyKey(scope=scope, key=key, fingerprint=fingerprint,
                                          status_code=response.status_code,
                                          response_body=response.get_data(as_text=True)))
    except IntegrityError:
        db.session.rollback()
        return _replay(scope, key, fingerprint) or response
    return response


def _replay(scope: str, key: str, fingerprint: str):
    row = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
                            .execution_options(populate_existing=True))
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise Conflict("This Idempotency-Key was used for a different request.", code="idempotency_key_reused")
    response = current_app.response_class(row.response_body, status=row.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def purge_old_keys() -> int:
    """Forget keys older than ``IDEMPOTENCY_KEY_TTL_HOURS`` (a periodic job)."""
    cutoff = utcnow() - timedelta(hours=current_app.config["IDEMPOTENCY_KEY_TTL_HOURS"])
    with transaction():
        return db.session.execute(
            IdempotencyKey.__table__.delete().where(IdempotencyKey.created_at < cutoff)).rowcount
