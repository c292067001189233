"""Share-link clicks, written in batches rather than one insert and commit per visit.

A visit appends its click to this process's buffer and is answered at once; a background
thread writes what gathered every ``REFERRAL_CLICK_FLUSH_SECONDS`` (0.5 by default) in one
transaction: one multi-row INSERT, and one upsert per rollup table with the clicks counted
per referrer and day (``rollup``). Whoever reads the counts -- a member's stats, the funnel --
flushes first, so what the process has taken is counted exactly, once.

What a crash can lose: the clicks of the last flush interval of the process that died
(``kill -9``, the machine going down). A worker that stops normally (gunicorn's graceful
shutdown, a restart) writes its buffer on the way out. A flush that fails (the database is
away) keeps the clicks and tries again at the next interval; past ``MAX_PENDING`` clicks
waiting, the oldest are dropped and logged, so an outage cannot exhaust the memory.

``REFERRAL_CLICK_FLUSH_SECONDS = 0`` writes each click in the visit's own transaction.
"""
from __future__ import annotations

import atexit
import logging
import os
import threading

from flask import current_app

log = logging.getLogger(__name__)

MAX_PENDING = 100_000
_EXTENSION = "referral_click_buffer"
_creating = threading.Lock()


class ClickBuffer:
    def __init__(self, app, interval: float) -> None:
        self.app, self.interval = app, interval
        self._pending: list[dict] = []
        self._lock = threading.Lock()  # guards _pending
        self._flushing = threading.Lock()  # one flush at a time, so the order of clicks holds
        self._pid = None
        self._at_exit = False
        self._wake = threading.Event()

    def add(self, click: dict) -> None:
        with self._lock:
            self._pending.append(click)
            if len(self._pending) > MAX_PENDING:
                dropped = len(self._pending) - MAX_PENDING
                del self._pending[:dropped]
                log.error("referral clicks could not be written for a while: %d dropped", dropped)
        if self._pid != os.getpid():  # the first click of this process (gunicorn forks after import)
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
        threading.Thread(target=self._run, name="referral-click-writer", daemon=True).start()
        if not self._at_exit:
            self._at_exit = True
            atexit.register(self.flush_in_app)

    IDLE_ROUNDS = 120  # a writer with nothing to write for this many intervals stops (the next click starts one)

    def _run(self) -> None:
        idle = 0
        while True:
            self._wake.wait(self.interval)
            idle = 0 if self.flush_in_app() else idle + 1
            if idle >= self.IDLE_ROUNDS:
                with self._lock:
                    if not self._pending:
                        self._pid = None
                        return

    def flush_in_app(self) -> int:
        try:
            with self.app.app_context():
                return self.flush()
        except Exception:
            log.exception("referral clicks could not be written; trying again shortly")
            return 0

    def flush(self) -> int:
        """Write every click taken so far (in the caller's app context); how many were written."""
        from core.database import transaction
        from core.extensions import db
        from plugins.referral.models import ReferralClick

        with self._flushing:
            with self._lock:
                taken, self._pending = self._pending, []
            if not taken:
                return 0
            try:
                with transaction():
                    db.session.add_all([ReferralClick(**click) for click in taken])
            except BaseException:
                with self._lock:  # kept, in order, for the next try
                    self._pending[:0] = taken
                raise
            return len(taken)


def buffer() -> ClickBuffer | None:
    """This app's click buffer, or None when clicks are written one by one."""
    app = current_app._get_current_object()
    existing = app.extensions.get(_EXTENSION)
    if existing is None:
        with _creating:
            existing = app.extensions.get(_EXTENSION)
            if existing is None:
                interval = float(app.config.get("REFERRAL_CLICK_FLUSH_SECONDS", 0.5))
                existing = app.extensions[_EXTENSION] = ClickBuffer(app, interval) if interval > 0 else False
                if existing:  # written out by whoever needs every write done now (core.testing)
                    app.extensions.setdefault("memberday_pending_writes", []).append(existing.flush_in_app)
    return existing or None


def flush() -> int:
    """Write the clicks this process holds (readers of click counts call this first)."""
    pending = buffer()
    return pending.flush() if pending is not None else 0
