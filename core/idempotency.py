"""Idempotency-Key for every POST that moves value.

A key belongs to its caller and to the endpoint it was sent to: the row stores
the SHA-256 of the whole key (so any key of 1-255 printable characters is
exact, however long) under ``(scope, endpoint, key_hash)``.

The first call with a key inserts the key row, runs the view and stores its
answer, all in one transaction; what the view left for the transaction's end
(``before_commit``) runs after the answer is stored, and a refusal there rolls
back the answer with the rest and is stored instead. A concurrent twin's insert waits on the unique
index until the first commits, then fails and replays the stored answer; if the
first rolled back, the twin goes ahead as the first. A business refusal (a 409
such as ``insufficient_points``) is stored too, so a retry gets the same answer.
The same key with another body is ``409 idempotency_key_reused``; the body is
compared as canonical JSON, so the same object with its keys in another order
is the same body.

What the view books is named after this request's effect (``effect_id()``),
never after the key text: once a key is purged, the same key books afresh.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from datetime import datetime, timedelta
from functools import wraps

import sqlalchemy as sa
from flask import current_app, g, make_response, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.auth.services import current_principal
from core.database import UTCDateTime, transaction, utcnow
from core.errors import AppError, Conflict, ValidationFailed, error_response
from core.extensions import db
from core.i18n import _

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyKey(db.Model):
    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("scope", "endpoint", "key_hash",
                                          name="uq_idempotency_keys_scope_endpoint_key"),)

    id = sa.Column(sa.Integer, primary_key=True)
    scope = sa.Column(sa.String(60), nullable=False)
    endpoint = sa.Column(sa.String(200), nullable=False)
    key_hash = sa.Column(sa.String(64), nullable=False)
    fingerprint = sa.Column(sa.String(64), nullable=False)
    status_code = sa.Column(sa.Integer)
    response_body = sa.Column(sa.Text)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow, index=True)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def _canonical_body() -> bytes:
    """The body as compared between retries: canonical JSON when it is JSON, else its bytes."""
    raw = request.get_data()
    if raw and request.is_json:
        try:
            return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False).encode()
        except ValueError:
            pass
    return raw


def _fingerprint() -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.path,
                 json.dumps(sorted(request.args.items(multi=True)), ensure_ascii=False)):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\0")
    digest.update(_canonical_body())
    return digest.hexdigest()


def _endpoint() -> str:
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    return f"{request.method} {rule}"[:200]


def effect_id() -> str:
    """A name for what this request books, unique to it.

    Under an Idempotency-Key it is the key row's id (a retry of the same key
    runs nothing, so it never books twice; a key used again after the purge
    gets a new row and a new name); without a key, a fresh random name.
    """
    row_id = g.get("_idempotency_row_id")
    return f"i{row_id}" if row_id else "r" + secrets.token_hex(12)


def valid_key(key: str) -> bool:
    return 1 <= len(key) <= MAX_KEY_LENGTH and key.isprintable() and bool(key.strip())


def idempotent(view):
    """Make a value-moving view safe to retry with an ``Idempotency-Key`` header."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return view(*args, **kwargs)
        if not valid_key(key):
            raise ValidationFailed(_("Idempotency-Key must be 1-%(max)s printable characters.", max=MAX_KEY_LENGTH),
                                   fields={HEADER: ["invalid"]})
        principal = current_principal()
        ident = (principal.key if principal else "anonymous", _endpoint(), hash_key(key))
        fingerprint = _fingerprint()
        try:
            with transaction():
                row = IdempotencyKey(scope=ident[0], endpoint=ident[1], key_hash=ident[2], fingerprint=fingerprint)
                db.session.add(row)
                db.session.flush()  # waits here behind a concurrent twin
                g._idempotency_row_id = row.id
                try:
                    response = make_response(view(*args, **kwargs))
                except AppError as error:
                    raise _Refused(error) from error
                row.status_code = response.status_code
                row.response_body = response.get_data(as_text=True)
            return response
        except _Refused as refused:
            return _remember_refusal(ident, fingerprint, refused.error)
        except AppError as error:
            # A refusal from the transaction's last step (``before_commit``: a hot row's
            # conditional update runs after the answer is stored): everything rolled back.
            return _remember_refusal(ident, fingerprint, error)
        except IntegrityError:
            db.session.rollback()
            replay = _replay(ident, fingerprint)
            if replay is None:
                raise
            return replay
        finally:
            g.pop("_idempotency_row_id", None)

    return wrapper


class _Refused(Exception):
    def __init__(self, error: AppError):
        super().__init__(error.message)
        self.error = error


def _remember_refusal(ident: tuple, fingerprint: str, error: AppError):
    response = error_response(error)
    if error.status >= 500 or error.status in (401, 403):
        return response  # not a final answer: the caller may fix its credentials and retry
    try:
        with transaction():
            db.session.add(IdempotencyKey(scope=ident[0], endpoint=ident[1], key_hash=ident[2],
                                          fingerprint=fingerprint, status_code=response.status_code,
                                          response_body=response.get_data(as_text=True)))
    except IntegrityError:
        db.session.rollback()
        return _replay(ident, fingerprint) or response
    return response


def _replay(ident: tuple, fingerprint: str):
    scope, endpoint, key_hash = ident
    row = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope == scope,
                                                         IdempotencyKey.endpoint == endpoint,
                                                         IdempotencyKey.key_hash == key_hash)
                            .execution_options(populate_existing=True))
    if row is None:
        return None
    if row.fingerprint != fingerprint:
        raise Conflict(_("This Idempotency-Key was used for a different request."), code="idempotency_key_reused")
    response = current_app.response_class(row.response_body, status=row.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


def purge_old_keys(now: datetime | None = None) -> int:
    """Forget keys older than ``IDEMPOTENCY_KEY_TTL_HOURS`` (a periodic job; safe to run twice at once)."""
    cutoff = (now or utcnow()) - timedelta(hours=current_app.config["IDEMPOTENCY_KEY_TTL_HOURS"])
    with transaction():
        return db.session.execute(
            IdempotencyKey.__table__.delete().where(IdempotencyKey.created_at < cutoff)).rowcount


def once(key: str, func, *, scope: str, endpoint: str, fingerprint: str) -> dict:
    """Run ``func()`` once for ``key``: a form's hidden Idempotency-Key, so a double tap books once.

    The same table and rules as ``@idempotent`` for pages that answer with a
    redirect: ``func`` returns a JSON-able dict (say, the redemption's id) that a
    repeat of the key gets back without running anything. A refusal is not kept,
    so the member may fix what was wrong and tap again.
    """
    if not valid_key(key or ""):
        raise ValidationFailed(_("The form has expired: open it again."), fields={"idempotency_key": ["invalid"]})
    ident = (scope[:60], endpoint[:200], hash_key(key))
    fingerprint = hashlib.sha256(fingerprint.encode("utf-8", "surrogatepass")).hexdigest()
    try:
        with transaction():
            row = IdempotencyKey(scope=ident[0], endpoint=ident[1], key_hash=ident[2], fingerprint=fingerprint)
            db.session.add(row)
            db.session.flush()  # waits here behind a concurrent twin
            result = func()
            row.status_code = 200
            row.response_body = json.dumps(result)
        return result
    except IntegrityError:
        db.session.rollback()
        row = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.scope == ident[0],
                                                             IdempotencyKey.endpoint == ident[1],
                                                             IdempotencyKey.key_hash == ident[2])
                                .execution_options(populate_existing=True))
        if row is None or row.response_body is None:
            raise
        if row.fingerprint != fingerprint:
            raise Conflict(_("This Idempotency-Key was used for a different request."), code="idempotency_key_reused")
        return json.loads(row.response_body)
