"""Transactions, after-commit work and column types shared by every model.

Services wrap their writes in ``with transaction():``. Blocks nest: only the
outermost one commits, so an HTTP view (or the idempotency layer) can make a
service call and its own bookkeeping one atomic unit. A statement that takes a
hot row's lock can be left for the very end with ``before_commit``: it runs
after everything else the transaction writes (the caller's bookkeeping too),
right before the commit, so the lock is held for that statement and the commit
alone; a step that refuses rolls back the whole transaction. Work that must only
happen once the data is committed -- delivering events, enqueuing jobs -- is
registered with ``on_commit`` and runs after the outermost commit, never after a
rollback. Each such step runs on its own: one that raises is logged and the
others still run; the commit stands and the caller does not see the error
(whatever must not be lost is written in the transaction itself, e.g. as an
event row the relay delivers later).
"""
from __future__ import annotations

import enum
import logging
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from core.extensions import db

_DEPTH = "memberday_tx_depth"
_AFTER = "memberday_after_commit"
_LOCAL = "memberday_tx_local"
_LATER = "memberday_after_session"
_KEEP = "memberday_keep_loaded"
_LAST = "memberday_last_steps"

log = logging.getLogger(__name__)


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


class ClosedSet(str, enum.Enum):
    """The values a status-like column may take: stored as strings, compared as strings."""

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__

    @classmethod
    def values(cls) -> list[str]:
        return [member.value for member in cls]


def one_of(column: str, values: type[ClosedSet]) -> sa.CheckConstraint:
    """A CHECK constraint keeping ``column`` inside a closed set (named ``ck_<table>_<column>_known``)."""
    allowed = ", ".join(f"'{value}'" for value in values.values())
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=f"{column}_known")


@contextmanager
def transaction(*, keep_loaded: bool = False) -> Iterator[sa.orm.Session]:
    """Run the block in one transaction; nested blocks join the outermost one.

    ``keep_loaded``: the commit does not expire what the session holds, so reading an object
    after it (a response, an event's delivery) costs no reload. Safe where the block wrote
    or locked every object it hands back, so that what is in memory is what was committed.
    Any block of the transaction may ask; it holds for the outermost commit.
    """
    session = db.session()
    depth = session.info.get(_DEPTH, 0)
    if depth:
        session.info[_DEPTH] = depth + 1
        if keep_loaded:
            session.info[_KEEP] = True
        try:
            yield session
        finally:
            session.info[_DEPTH] = depth
        return

    if session.info.get(_READS_ONLY) and session.in_transaction():
        raise RuntimeError("this request said it only reads (reads_only()); it cannot open a transaction()")
    session.info[_DEPTH] = 1
    session.info[_AFTER] = []
    session.info[_LOCAL] = {}
    session.info[_KEEP] = keep_loaded
    session.info[_LAST] = []
    try:
        yield session
        _run_last_steps(session)
        if session.info.get(_KEEP):
            session.expire_on_commit = False
        session.commit()
    except BaseException:
        session.rollback()
        session.info[_AFTER] = []
        raise
    finally:
        session.info[_LAST] = []
        session.expire_on_commit = True
        session.info[_DEPTH] = 0
        session.info[_LOCAL] = {}
        session.info[_KEEP] = False
    callbacks, session.info[_AFTER] = session.info[_AFTER], []
    callbacks += session.info.pop(_LATER, [])
    run_after_commit(callbacks)


def _run_last_steps(session) -> None:
    steps = session.info[_LAST]
    if not steps:
        return
    session.flush()  # everything the block wrote goes first
    while steps:
        steps.pop(0)()


def before_commit(step: Callable[[], None]) -> None:
    """Run ``step`` as the current transaction's last work, right before it commits.

    For the statement that locks a row every concurrent request wants (a hot item's stock): the
    steps run once the outermost block is done and all it wrote is flushed -- including what an
    enclosing layer writes after the service returns, such as an idempotency key's stored answer
    -- so that row stays locked only for the step and the commit. Steps run in the order given,
    inside the transaction (a ``transaction()`` block in one joins it); one that raises rolls back
    everything and its error reaches the caller of the outermost block. Whatever the block hands
    back must not depend on what a step does (it was made before the step ran).
    """
    session = db.session()
    if not session.info.get(_DEPTH):
        raise RuntimeError("before_commit() needs an open transaction()")
    session.info[_LAST].append(step)


def run_after_commit(callbacks) -> None:
    """Run after-commit steps each on its own: a failure is logged, never raised into the caller."""
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("an after-commit step failed: %r", callback)
            try:
                db.session.rollback()
            except Exception:
                log.exception("could not roll back after a failed after-commit step")


_READS_ONLY = "memberday_reads_only"


def reads_only() -> None:
    """This request only reads: run its statements without the transaction around them.

    On PostgreSQL each statement then runs on its own (autocommit), so the request pays for its
    statements and not for a ``BEGIN`` before them and a ``ROLLBACK`` after -- two round trips
    of a read that takes one. Under READ COMMITTED every statement sees its own snapshot either
    way, so a read sees nothing it would not have seen inside a transaction. Call it before the
    request's first statement; a ``transaction()`` later in the same request is refused, since
    its writes would not be atomic. Elsewhere (SQLite, a session already in use): nothing changes.
    """
    session = db.session()
    if session.in_transaction() or db.engine.dialect.name != "postgresql":
        return
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    session.info[_READS_ONLY] = True


def driver_rows(statement: str, parameters: dict) -> list[tuple]:
    """The rows of a read-only ``statement`` (the driver's SQL, ``%(name)s`` parameters), run as a
    prepared statement on a driver connection: for a hot read, without SQLAlchemy's compile and
    result layers around it (PostgreSQL only).

    Outside a transaction the statement runs on its own (autocommit) on a connection taken straight
    from the pool and handed back at once: no ``BEGIN`` or ``ROLLBACK`` around it, and no ORM
    session. Inside one it runs on the session's connection, in that transaction.

    A driver error is handled as SQLAlchemy handles its own: a connection PostgreSQL closed
    replaces the pool's connections and reaches the client as a 503, as everywhere else.
    """
    session = db.session()
    if session.in_transaction():
        connection = session.connection()
        try:
            return connection.connection.driver_connection.execute(statement, parameters, prepare=True).fetchall()
        except connection.dialect.loaded_dbapi.Error as error:
            connection._handle_dbapi_exception(error, statement, parameters, None, None)
            raise
    engine = db.engine
    pooled = engine.raw_connection()
    driver = pooled.driver_connection
    try:
        driver.autocommit = True
        return driver.execute(statement, parameters, prepare=True).fetchall()
    except engine.dialect.loaded_dbapi.Error as error:
        gone = engine.dialect.is_disconnect(error, pooled, None)
        if gone:
            pooled.invalidate(error)
            engine.dispose()  # its siblings died with it (a restart): the next request gets new ones
        raise sa.exc.DBAPIError.instance(statement, parameters, error, engine.dialect.loaded_dbapi.Error,
                                         connection_invalidated=gone, dialect=engine.dialect) from error
    finally:
        if not driver.closed:
            driver.autocommit = False  # as the pool hands connections out
        pooled.close()


def in_transaction() -> bool:
    return bool(db.session().info.get(_DEPTH))


def on_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` after the current transaction commits (at once if none is open)."""
    session = db.session()
    if session.info.get(_DEPTH):
        session.info[_AFTER].append(callback)
    else:
        run_after_commit([callback])


def when_caller_is_done(callback: Callable[[], None]) -> None:
    """Run ``callback`` once the transaction the caller has open is over, never inside it.

    In a ``transaction()`` block: after its commit. In a transaction SQLAlchemy began on its
    own (a first query outside any block): after the next commit of a block, or when the
    session ends (``end_session``) -- so it neither commits nor rolls back the caller's work.
    With nothing open: at once.
    """
    session = db.session()
    if session.info.get(_DEPTH):
        session.info[_AFTER].append(callback)
    elif session.in_transaction():
        session.info.setdefault(_LATER, []).append(callback)
    else:
        run_after_commit([callback])


def end_session() -> None:
    """End the app context's session; then run what waited for the caller's transaction to end."""
    session = db.session()
    waiting = session.info.pop(_LATER, [])
    session.info.pop(_READS_ONLY, None)
    db.session.remove()
    run_after_commit(waiting)
    if waiting:
        db.session.remove()


def advisory_lock(*names: str) -> None:
    """Hold transaction-scoped locks on these names until the current transaction ends.

    For rules that check across rows no single row lock covers (e.g. "one reward per
    device"): everyone who checks takes the same named lock first. Taken in sorted order, so
    two callers never wait on each other crosswise. PostgreSQL only: SQLite already lets one
    writer in at a time.
    """
    if not in_transaction():
        raise RuntimeError("advisory_lock() needs an open transaction()")
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        db.session.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name})


@contextmanager
def run_alone(name: str) -> Iterator[bool]:
    """Hold a lock named ``name`` for a whole job run, across its transactions; yields whether we got it.

    The lock lives on a connection of its own and is released when the block ends -- or when
    the process dies, since PostgreSQL drops a dead connection's locks: a run that was killed
    never blocks the retry. SQLite runs jobs one at a time in-process: always True.
    """
    engine = db.engine
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as connection:
        key = {"name": name}
        got = connection.execute(sa.text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))"), key).scalar()
        connection.commit()
        try:
            yield bool(got)
        finally:
            if got:
                connection.execute(sa.text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))"), key)
                connection.commit()


def transaction_local() -> dict:
    """A dict that lives as long as the current outermost transaction (empty again after it ends)."""
    session = db.session()
    if not session.info.get(_DEPTH):
        raise RuntimeError("transaction_local() needs an open transaction()")
    return session.info[_LOCAL]
