"""A plugin's rarely-changing rows kept in each process, dropped everywhere when they change.

A hook called on a hot path (an order's points multiplier, say) should not read the same
few rows from the database on every call. ``ProcessMemo`` keeps what its loader returned
for as long as the plugins' state version stays the same; ``ProcessMemo.changed()``,
called in the transaction that writes those rows, moves that version when it commits, so
every process drops its copy the way it learns of a plugin switched on or off: pushed
within a second on PostgreSQL, at the commit in the embedded default, and at worst at the
next safety-net check (``PLUGIN_STATE_CHECK_SECONDS``).

Keep what a memo holds small and keep the decisions that move value in the database: a
memo is for finding out cheaply that there is nothing to do (no week running now), not for
deciding who gets what.

Example::

    from core.plugins.memo import ProcessMemo

    running_offers = ProcessMemo(lambda: tuple(db.session.execute(select(Offer.id, Offer.ends_at))))

    def create_offer(data):
        with transaction():
            db.session.add(Offer(**data))
            running_offers.changed()

    def offers_now(now):
        return [row for row in running_offers.get() if row.ends_at > now]
"""
from __future__ import annotations

import threading
import weakref
from typing import Callable, Generic, TypeVar

T = TypeVar("T")


class ProcessMemo(Generic[T]):
    """What ``load()`` returned, per app, until the plugins' state version moves."""

    def __init__(self, load: Callable[[], T]) -> None:
        self._load = load
        self._lock = threading.Lock()
        # Each app's plugin host -> (state version, value); an app that is gone takes its copy along.
        self._kept: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()

    def get(self) -> T:
        from core.plugins.host import current_host

        host = current_host()
        # The version this request sees, read before loading: a change that commits while the
        # rows are read is kept under the older version, and so loaded again next time.
        version = host.state().version
        kept = self._kept.get(host)
        if kept is not None and kept[0] == version:
            return kept[1]
        value = self._load()
        with self._lock:
            self._kept[host] = (version, value)
        return value

    @staticmethod
    def changed() -> None:
        """The rows behind a memo are being changed in this transaction: every process reloads after it commits."""
        from core.database import on_commit
        from core.plugins.host import current_host
        from core.plugins.state import bump_version

        bump_version()
        # This request (or app context) memoised the version it started with: let it see the new one.
        on_commit(current_host().forget_state)

    def forget(self) -> None:
        """Drop this process's copies (tests that rebuild a database under the same engine)."""
        with self._lock:
            self._kept.clear()
