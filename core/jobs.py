"""Background jobs: one ``enqueue`` for the whole platform.

With ``REDIS_URL`` set, jobs go to an rq queue and run in ``rq worker``
processes; without it they run inline, in the calling process, as soon as the
current transaction commits. Either way a job is looked up by name in the
registry the core and the plugins fill, runs inside an app context, and does
nothing if its plugin is disabled by the time it runs. Jobs may be retried (a
worker can die half-way), so every job is written to book nothing twice.

Worker:  ``memberday worker`` (or ``rq worker --with-scheduler --url $REDIS_URL memberday``: without
         the scheduler a retried job, or one whose worker died, is never run again)
Cron:    ``rq cron --url $REDIS_URL core.cron`` (or ``memberday cron --once``)
"""
from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any, Callable

from flask import current_app

from core.database import on_commit

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobSpec:
    name: str
    func: Callable
    plugin_id: str | None = None
    #: asked before each run; a plugin's job does nothing while it answers False
    is_on: Callable[[], bool] | None = None


class JobRegistry:
    def __init__(self) -> None:
        self.jobs: dict[str, JobSpec] = {}
        self.periodic: list = []

    def add(self, name: str, func: Callable, plugin_id: str | None = None,
            is_on: Callable[[], bool] | None = None) -> None:
        """Register a job; whoever registers a plugin's job says how to tell whether the plugin is on."""
        if name in self.jobs:
            raise ValueError(f"job {name!r} is registered twice")
        self.jobs[name] = JobSpec(name, func, plugin_id, is_on)


def job_timeout(seconds: int):
    """Let a job run up to ``seconds`` in a worker (rq stops a job after 180 seconds by default).

    For a job whose work grows with the data, such as an export of every member; such a job
    should also continue where a stopped run left off. Example::

        @job_timeout(6 * 3600)
        def build_export(export_id): ...
    """
    def mark(func: Callable) -> Callable:
        func.memberday_job_timeout = int(seconds)
        return func

    return mark


def registry() -> JobRegistry:
    return current_app.extensions["memberday_jobs"]


_redis_lock = threading.Lock()
_redis_clients: dict[str, Any] = {}


def redis_connection():
    """A shared Redis client for ``REDIS_URL`` (one per URL per process)."""
    from redis import Redis

    url = current_app.config["REDIS_URL"]
    with _redis_lock:
        client = _redis_clients.get(url)
        if client is None or client.connection_pool.pid != os.getpid():
            client = _redis_clients[url] = Redis.from_url(url)
        return client


def queue():
    from rq import Queue

    return Queue(current_app.config["RQ_QUEUE"], connection=redis_connection())


def enqueue(name: str, *args, **kwargs) -> None:
    """Run job ``name`` in the background once the current transaction commits."""
    if name not in registry().jobs:
        raise KeyError(f"no job named {name!r}")
    if current_app.config.get("REDIS_URL"):
        on_commit(lambda: _push(name, args, kwargs))
    else:
        on_commit(lambda: _run_inline(name, args, kwargs))


def _push(name: str, args: tuple, kwargs: dict) -> None:
    from rq import Retry

    timeout = getattr(registry().jobs[name].func, "memberday_job_timeout", None)  # None: rq's default
    queue().enqueue(perform, name, list(args), kwargs, retry=Retry(max=3, interval=[5, 30, 120]),
                    description=name, job_timeout=timeout)


def _run_inline(name: str, args: tuple, kwargs: dict) -> None:
    try:
        run(name, *args, **kwargs)
    except Exception:  # an inline job fails like a worker job: logged, not raised into the caller
        log.exception("inline job %s failed", name)
        from core.extensions import db

        db.session.rollback()


def run(name: str, *args, **kwargs) -> Any:
    """Run a registered job now, in this app context, unless its plugin is off."""
    spec = registry().jobs.get(name)
    if spec is None:
        raise KeyError(f"no job named {name!r}")
    if spec.is_on is not None and not spec.is_on():
        log.info("job %s skipped: plugin %s is disabled", name, spec.plugin_id)
        return None
    return spec.func(*args, **kwargs)


_worker_app = None


def perform(name: str, args: list, kwargs: dict) -> Any:
    """Entry point of an rq job: builds the app once per worker process and runs the job."""
    global _worker_app
    if _worker_app is None:
        from core import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        try:
            return run(name, *args, **kwargs)
        finally:
            from core.database import end_session

            end_session()
