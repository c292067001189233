"""The event outbox: write an event with the change, deliver it to each plugin at least once.

``record`` (called through ``core.plugins.host.emit``) adds an event row to the
caller's transaction, so the event exists exactly when the change does. The
process that wrote it holds a claim on it and delivers it right after the
commit (``deliver_inline``), which keeps the usual path fast. Whatever that
did not finish -- the process died, a handler raised, an earlier event of the
same member was still open -- the relay (``relay``, a periodic job, also run by
``memberday cron --once``) takes over once the claim has run out.

Delivery, per event and per plugin that implements the hook:

* the plugin is on: its handler runs (outside any transaction of ours: it
  commits its own work) and the delivery is recorded ``delivered``; if it
  raises, ``failed`` and the event is retried later, with back-off, up to
  ``EVENT_MAX_ATTEMPTS`` times, to the plugins that have not had it yet;
* the plugin is off: ``skipped`` -- it never gets this event, even when it is
  switched on again (rules that move value re-check the state they depend on).

Events of one member are delivered in the order they were written: an event
waits while an earlier one of the same member is still open. A handler may see
an event twice (a process may die after the handler committed and before the
delivery was recorded), so handlers must be idempotent.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from core.database import on_commit, transaction, transaction_local, utcnow
from core.events.models import Event, EventDelivery
from core.extensions import db

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class _Open:
    """What a deliverer needs of an event, read once (not an ORM object a rollback could expire)."""

    id: int
    name: str
    member_id: int | None
    payload: dict
    attempts: int

    @classmethod
    def of(cls, event: Event) -> "_Open":
        return cls(event.id, event.name, event.member_id, dict(event.payload or {}), event.attempts)


# ------------------------------------------------------------------ writing


def _encode(value):
    """An argument as stored: a mapped object by its class and primary key, anything else as JSON."""
    mapper = getattr(type(value), "__mapper__", None)
    if mapper is not None:
        return {"$model": type(value).__name__, "id": mapper.primary_key_from_instance(value)[0]}
    return value


def _decode(value):
    if isinstance(value, dict) and "$model" in value:
        model = db.Model.registry._class_registry.get(value["$model"])
        return db.session.get(model, value["id"], populate_existing=True) if model is not None else None
    return value


def record(hookname: str, arguments: dict) -> Event | None:
    """Write an event in the current transaction; it is delivered after the commit.

    Nothing is written when no installed plugin implements the hook.
    """
    from core.plugins.host import current_host

    if not current_host().implementers(hookname):
        return None
    member = arguments.get("member")
    now = utcnow()
    with transaction():
        local = transaction_local()
        if "events" not in local:
            written = local["events"] = []
            _after_commit_deliver(written)
        event = Event(name=hookname, member_id=getattr(member, "id", None),
                      payload={name: _encode(value) for name, value in arguments.items()},
                      status="pending", attempts=0, created_at=now,
                      claimed_until=now + timedelta(seconds=current_app.config["EVENT_CLAIM_SECONDS"]))
        db.session.add(event)
        db.session.flush()  # its id orders it among the member's events
        local["events"].append(event.id)
        return event


def _after_commit_deliver(event_ids: list[int]) -> None:
    """Have the events of this transaction delivered once it commits (``event_ids`` fills as it goes).

    With a queue (``REDIS_URL``) by a worker, so plugins' reactions stay out of the request that
    wrote the events (the shop's order report answers once the order and its points commit);
    in the embedded default, by this process right after the commit. Either way the writer's
    claim covers the delivery, and the relay takes over what it does not finish.
    """
    if current_app.config.get("REDIS_URL"):
        from core.jobs import enqueue

        enqueue("core.deliver_events", event_ids)
    else:
        on_commit(lambda: deliver_inline(event_ids))


# ------------------------------------------------------------------ delivering


def deliver_inline(event_ids: list[int]) -> None:
    """Deliver the events this process just committed (it holds their claims). Never raises."""
    if not event_ids:
        return
    try:
        events = [_Open.of(event) for event in db.session.scalars(
            select(Event).where(Event.id.in_(event_ids)).order_by(Event.id)
            .execution_options(populate_existing=True))]
        for event in events:
            _deliver_safely(event, utcnow(), fresh=True)
    except Exception:
        db.session.rollback()
        log.exception("inline delivery of events %s failed; the relay will deliver them", event_ids)


def relay(now: datetime | None = None, batch: int = 200) -> dict:
    """The periodic safety net: deliver every open event whose claim has run out. Safe to run twice at once."""
    now = now or utcnow()
    finished = 0
    while True:
        events = _claim(now, batch)
        if not events:
            return {"events": finished}
        for event in events:
            finished += _deliver_safely(event, now)


def _claim(now: datetime, batch: int) -> list[_Open]:
    with transaction():
        events = db.session.scalars(
            select(Event)
            .where(Event.status == "pending",
                   or_(Event.claimed_until.is_(None), Event.claimed_until <= now),
                   or_(Event.next_attempt_at.is_(None), Event.next_attempt_at <= now))
            .order_by(Event.id).limit(batch)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)).all()
        until = now + timedelta(seconds=current_app.config["EVENT_CLAIM_SECONDS"])
        for event in events:
            event.claimed_until = until
        return [_Open.of(event) for event in events]


def _deliver_safely(event: _Open, now: datetime, fresh: bool = False) -> bool:
    try:
        return _deliver(event, now, fresh)
    except Exception:
        db.session.rollback()
        log.exception("event %s could not be delivered; the relay will try again", event.id)
        return False


def _waiting(event: _Open) -> set[str]:
    """Plugins that must first get an earlier event of the same member (order per member and plugin)."""
    from core.plugins.host import current_host

    if event.member_id is None:
        return set()
    earlier = db.session.execute(select(Event.id, Event.name).where(
        Event.member_id == event.member_id, Event.status == "pending", Event.id < event.id)).all()
    if not earlier:
        return set()
    settled = set(db.session.execute(select(EventDelivery.event_id, EventDelivery.plugin_id).where(
        EventDelivery.event_id.in_([row.id for row in earlier]),
        EventDelivery.status.in_(("delivered", "skipped")))).all())
    host = current_host()
    return {plugin_id for row in earlier for plugin_id in host.implementers(row.name)
            if (row.id, plugin_id) not in settled}


def _deliver(event: _Open, now: datetime, fresh: bool = False) -> bool:
    """One attempt at one event for every plugin that has not had it; True when it is done."""
    from core.plugins.host import current_host

    host = current_host()
    if not fresh:  # a later try (the relay, a retry): the flags as they are now
        host.forget_state()
    settled = set()
    if not fresh:
        settled = set(db.session.scalars(select(EventDelivery.plugin_id).where(
            EventDelivery.event_id == event.id, EventDelivery.status.in_(("delivered", "skipped")))))
    waiting = _waiting(event) & host.state().enabled
    arguments = {key: _decode(value) for key, value in event.payload.items()}
    arguments["event_id"] = event.id
    outcomes = host.deliver_event(event.name, arguments, skip=settled | waiting)

    failed = any(outcome == "failed" for _, outcome, _ in outcomes)
    attempts = event.attempts + (1 if outcomes else 0)
    gave_up = failed and attempts >= current_app.config["EVENT_MAX_ATTEMPTS"]
    done = gave_up or not (failed or waiting)
    with transaction():
        for plugin_id, outcome, error in outcomes:
            _record_delivery(event.id, plugin_id, outcome, error)
        values = {"attempts": attempts, "claimed_until": None}
        if done:
            values.update(status="done", done_at=utcnow(), next_attempt_at=None)
        else:
            delay = current_app.config["EVENT_RETRY_SECONDS"] * 2 ** max(attempts - 1, 0) if failed else \
                current_app.config["EVENT_RETRY_SECONDS"]
            values["next_attempt_at"] = now + timedelta(seconds=min(delay, 3600))
        db.session.execute(update(Event).where(Event.id == event.id, Event.status == "pending").values(**values))
    if gave_up:
        log.error("event %s (%s) gave up after %s attempts", event.id, event.name, attempts)
    return done


def _record_delivery(event_id: int, plugin_id: str, outcome: str, error: Exception | None) -> None:
    row = db.session.get(EventDelivery, (event_id, plugin_id), with_for_update=True)
    message = f"{error.__class__.__name__}: {error}"[:300] if error is not None else None
    if row is None:
        db.session.add(EventDelivery(event_id=event_id, plugin_id=plugin_id, status=outcome,
                                     attempts=0 if outcome == "skipped" else 1, last_error=message,
                                     updated_at=utcnow()))
        return
    if row.status == "delivered":
        return
    row.status = outcome
    row.attempts += 0 if outcome == "skipped" else 1
    row.last_error = message or row.last_error
    row.updated_at = utcnow()


# ------------------------------------------------------------------ keeping


def purge_done(now: datetime | None = None) -> int:
    """Forget delivered events older than ``EVENT_RETENTION_DAYS`` (a periodic job; safe twice at once)."""
    cutoff = (now or utcnow()) - timedelta(days=current_app.config["EVENT_RETENTION_DAYS"])
    with transaction():
        old = select(Event.id).where(Event.status == "done", Event.created_at < cutoff)
        db.session.execute(EventDelivery.__table__.delete().where(EventDelivery.event_id.in_(old)))
        return db.session.execute(Event.__table__.delete().where(Event.status == "done",
                                                                 Event.created_at < cutoff)).rowcount


def open_events() -> dict:
    """How many events wait (for ``/healthz`` details and operators)."""
    pending = db.session.scalar(select(db.func.count(Event.id)).where(Event.status == "pending")) or 0
    failed = db.session.scalar(select(db.func.count()).select_from(EventDelivery)
                               .where(EventDelivery.status == "failed")) or 0
    return {"pending": pending, "failed_deliveries": failed}
