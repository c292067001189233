"""Plugin state changes pushed to every process: PostgreSQL ``LISTEN``/``NOTIFY``.

Whoever changes a plugin's flags or settings bumps the version row and, in the same
transaction, sends ``NOTIFY memberday_plugins`` (``core.plugins.state.bump_version``).
PostgreSQL delivers a notification only once that transaction commits, to every
connection listening on the channel in the same database. Each process keeps one such
connection per database, in a daemon thread of its own; a notification marks every
plugin host of the process on that database stale, and the next request re-reads the
version row (one statement) and, when it moved, the flags and settings.

The connection is the process's own, outside the app's pool: it is opened lazily, on
the first request of the process (so after gunicorn forks), and never used for anything
else. While it is down (PostgreSQL restarted, a network cut) the thread reconnects every
second and marks the hosts stale once it listens again, since it may have missed a
notification; meanwhile the hosts fall back to reading the version row on every request.

SQLite has no ``NOTIFY``: one process is the embedded default, and a change made in the
process is applied to every host in it when the change commits (``mark_local``).
"""
from __future__ import annotations

import logging
import os
import threading
import time
import weakref

log = logging.getLogger(__name__)

CHANNEL = "memberday_plugins"

_registry_lock = threading.Lock()
_listeners: dict[tuple[int, str], "Listener"] = {}
_local_hosts: "weakref.WeakSet" = weakref.WeakSet()


def mark_local() -> None:
    """A change committed in this process: every host of the process re-reads the version row."""
    for host in list(_local_hosts):
        host.mark_stale()


def register(host, engine) -> "Listener | None":
    """Keep ``host`` told of changes on ``engine``'s database; the listener (None on SQLite)."""
    _local_hosts.add(host)
    if engine.dialect.name != "postgresql":
        return None
    key = (os.getpid(), engine.url.render_as_string(hide_password=False))
    with _registry_lock:
        listener = _listeners.get(key)
        if listener is None or listener._stop.is_set():
            listener = _listeners[key] = Listener(engine)
        listener.hosts.add(host)
    listener.start()
    return listener


class Listener:
    """One ``LISTEN`` connection of this process to one database, served by a daemon thread."""

    RECONNECT_SECONDS = 1.0
    WAKE_SECONDS = 5.0  # how often the thread looks whether its process still wants it

    def __init__(self, engine) -> None:
        dialect = engine.dialect
        self._cargs, self._cparams = dialect.create_connect_args(engine.url)
        self._connect = dialect.loaded_dbapi.connect
        self.hosts: "weakref.WeakSet" = weakref.WeakSet()
        self.live = False
        self.notifications = 0
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._stop = threading.Event()

    def start(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="memberday-plugin-listener", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _retire(self) -> bool:
        with _registry_lock:
            if self.hosts:
                return False
            self._stop.set()
            for key, listener in list(_listeners.items()):
                if listener is self:
                    del _listeners[key]
        return True

    def _mark(self) -> None:
        for host in list(self.hosts):
            host.mark_stale()

    def _run(self) -> None:
        while not self._stop.is_set():
            connection = None
            try:
                params = dict(self._cparams, autocommit=True)
                params.setdefault("application_name", "memberday-plugin-listener")
                params.setdefault("connect_timeout", 5)
                connection = self._connect(*self._cargs, **params)
                connection.execute(f"LISTEN {CHANNEL}")
                self.live = True
                self._mark()  # anything sent while we were not listening is caught here
                while not self._stop.is_set():
                    if not self.hosts and self._retire():  # every app of this process on it is gone
                        break
                    for _ in connection.notifies(timeout=self.WAKE_SECONDS):
                        self.notifications += 1
                        self._mark()
            except Exception as exc:  # the database went away: listen again once it is back
                if not self._stop.is_set():  # said once per outage, not once per second
                    (log.warning if self.live else log.debug)(
                        "plugin state listener is not connected (%s); checking on every request until it is", exc)
            finally:
                self.live = False
                self._mark()
                if connection is not None:
                    try:
                        connection.close()
                    except Exception:
                        pass
            self._stop.wait(self.RECONNECT_SECONDS)


def wait_until_live(listener: "Listener | None", timeout: float = 10.0) -> bool:
    """Wait for a listener to be listening (tests and start-up checks); True at once without one."""
    if listener is None:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if listener.live:
            return True
        time.sleep(0.02)
    return listener.live
