"""Transactions, after-commit work and column types shared by every model.

Services wrap their writes in ``with transaction():``. Blocks nest: only the
outermost one commits, so an HTTP view (or the idempotency layer) can make a
service call and its own bookkeeping one atomic unit. Work that must only
happen once the data is committed -- event hooks, enqueued jobs -- is registered
with ``on_commit`` and runs after the outermost commit, never after a rollback.
"""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from core.extensions import db

_DEPTH = "memberday_tx_depth"
_AFTER = "memberday_after_commit"


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware.

    PostgreSQL keeps ``timestamptz``; SQLite keeps a naive UTC value.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


@contextmanager
def transaction() -> Iterator[sa.orm.Session]:
    """Run the block in one transaction; nested blocks join the outermost one."""
    session = db.session()
    depth = session.info.get(_DEPTH, 0)
    if depth:
        session.info[_DEPTH] = depth + 1
        try:
            yield session
        finally:
            session.info[_DEPTH] = depth
        return

    session.info[_DEPTH] = 1
    session.info[_AFTER] = []
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        session.info[_AFTER] = []
        raise
    finally:
        session.info[_DEPTH] = 0
    callbacks, session.info[_AFTER] = session.info[_AFTER], []
    for callback in callbacks:
        callback()


def in_transaction() -> bool:
    return bool(db.session().info.get(_DEPTH))


def on_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` after the current transaction commits (at once if none is open)."""
    session = db.session()
    if session.info.get(_DEPTH):
        session.info[_AFTER].append(callback)
    else:
        callback()
