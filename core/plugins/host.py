"""The plugin host: discovers plugins, knows which are on, and calls their hooks.

Plugins are registered once per process, enabled or not. Whether a plugin is on
is a database flag. Each process keeps the flags and settings in memory and is
told when they change (``core.plugins.push``: PostgreSQL ``NOTIFY``, or at once
inside the process that made the change); only then does a request re-read the
version row, and the flags and settings when it moved. A periodic check
(``PLUGIN_STATE_CHECK_SECONDS``) is the safety net for a lost notification, and
while a process is not listening it checks on every request, as before. A switch
made through any process takes effect in every web and worker process without a
restart. Settings handed to plugins are read-only.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Any, Iterable

import pluggy
from blinker import Namespace
from flask import current_app, g, has_app_context, has_request_context
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from sqlalchemy import select

from core.database import in_transaction, when_caller_is_done
from core.extensions import db
from core.plugins import PluginInfo, PluginRecord, PluginStatus, hookspecs
from core.plugins import state as plugin_state
from core.plugins.models import PluginHostVersion, PluginState
from core.version import __version__ as core_version

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "memberday.plugins"

_signals = Namespace()
#: Sent (by the host, with ``plugin_id``, ``reason`` and ``failures``) inside the transaction
#: that switches a plugin off after failures in a row; the app connects the operators' notice.
plugin_switched_off = _signals.signal("memberday-plugin-switched-off")

# PostgreSQL's "try again" errors: serialization_failure and deadlock_detected. They are
# the database's, not the plugin's: the call is retried, and never counted towards switch-off.
TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})
TRANSIENT_ATTEMPTS = 3


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` (or the database error inside SQLAlchemy's) is a deadlock or serialization failure."""
    for _ in range(10):  # the error, the DBAPI error SQLAlchemy wraps, what caused it, ...
        if exc is None:
            return False
        if getattr(exc, "sqlstate", None) in TRANSIENT_SQLSTATES:
            return True
        exc = getattr(exc, "orig", None) or exc.__cause__
    return False


def frozen(value):
    """A read-only view of settings: mappings as ``MappingProxyType``, lists as tuples, all the way down."""
    if isinstance(value, dict):
        return MappingProxyType({key: frozen(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(frozen(item) for item in value)
    if isinstance(value, set):
        return frozenset(value)
    return value


def thawed(value):
    """Plain, JSON-ready data again from ``frozen`` settings: dicts and lists, all the way down."""
    if isinstance(value, (dict, MappingProxyType)):
        return {key: thawed(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [thawed(item) for item in value]
    return value


@dataclass(frozen=True)
class RuntimeState:
    version: int = -1
    enabled: frozenset = frozenset()
    settings: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)


_NO_SETTINGS = MappingProxyType({})


class PluginHost:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("memberday")
        self.pm.add_hookspecs(hookspecs)
        # Like pytest_addhooks: a historic call, so each plugin declares its hooks as it is registered.
        self.pm.hook.memberday_add_hookspecs.call_historic(kwargs={"pluginmanager": self.pm})
        self.records: dict[str, PluginRecord] = {}
        self._callers: dict[tuple[str, str], Any] = {}
        self.blueprint_owner: dict[str, str] = {}
        self._state = RuntimeState()
        self._lock = threading.Lock()
        # Set by the listener (another thread) or by a change made in this process; the next
        # request then re-reads the version row. A bare attribute write: atomic under the GIL.
        self._stale = True
        self._next_check = 0.0
        self._listener = None
        self._listening_to = None

    # ---------------------------------------------------------------- loading

    def discover(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every plugin installed under the entry-point group, each in isolation.

        Plugins that declare hooks of their own (``memberday_add_hookspecs``) are
        registered first, so the plugins implementing those hooks find them declared.
        """
        loaded = []
        for ep in sorted(entry_points(group=group), key=lambda ep: ep.name):
            dist = getattr(ep, "dist", None)
            record = PluginRecord(
                id=ep.name,
                distribution=dist.name if dist else None,
                version=dist.version if dist else "0",
            )
            if ep.name in self.records:
                log.error("plugin id %r is installed twice (%s); the second is skipped", ep.name, ep.value)
                continue
            self.records[ep.name] = record
            try:
                module = ep.load()
            except Exception as exc:  # any import failure must not take the app down
                self._mark_broken(record, f"import failed: {exc.__class__.__name__}: {exc}")
                continue
            loaded.append((module, record))
        declares_hooks = [(m, r) for m, r in loaded if self._implements(m, "memberday_add_hookspecs")]
        for module, record in declares_hooks + [pair for pair in loaded if pair not in declares_hooks]:
            self.add(module, record)

    @staticmethod
    def _implements(module: Any, hookname: str) -> bool:
        return getattr(getattr(module, hookname, None), "memberday_impl", None) is not None

    def add(self, module: Any, record: PluginRecord | None = None) -> PluginRecord:
        """Register a loaded plugin module after checking its metadata and core version."""
        info = getattr(module, "PLUGIN", None)
        record = record or PluginRecord(id=getattr(info, "id", repr(module)))
        self.records[record.id] = record
        record.module = module
        if not isinstance(info, PluginInfo) or info.id != record.id:
            self._mark_broken(record, "no valid PLUGIN metadata (a PluginInfo whose id is the entry-point name)")
            return record
        record.info = info
        try:
            if Version(core_version) not in SpecifierSet(info.requires_core):
                record.status = PluginStatus.INCOMPATIBLE
                record.error = f"needs core {info.requires_core}, this is {core_version}"
                return record
        except InvalidSpecifier:
            self._mark_broken(record, f"requires_core {info.requires_core!r} is not a version specifier")
            return record
        try:
            self.pm.register(module, name=record.id)
            self.pm.check_pending()
        except Exception as exc:
            if self.pm.is_registered(module):
                self.pm.unregister(module)
            self._mark_broken(record, f"invalid hooks: {exc}")
            return record
        wrappers = self._wrappers(record.id)
        if wrappers:
            self._mark_broken(record, "hook wrappers are not supported (" + ", ".join(wrappers) + "): the host "
                              "calls each plugin on its own, so a wrapper could only wrap, and replace, its own "
                              "plugin's answer; implement the hook as a plain function",
                              status=PluginStatus.REFUSED)
            return record
        record.hooks = sorted(
            impl_name for impl_name in dir(self.pm.hook)
            if impl_name.startswith("memberday_")
            and any(i.plugin_name == record.id for i in getattr(self.pm.hook, impl_name).get_hookimpls())
        )
        # The cached flags were computed without this plugin: reload them on next use.
        with self._lock:
            self._state = RuntimeState()
            self._callers.clear()
        self.forget_state()
        return record

    def _wrappers(self, plugin_id: str) -> list[str]:
        """The plugin's ``wrapper``/``hookwrapper`` implementations, as ``hook (option)``."""
        plugin = self.pm.get_plugin(plugin_id)
        found = []
        for caller in self.pm.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin_name == plugin_id and (impl.wrapper or impl.hookwrapper):
                    found.append(f"{caller.name} ({'wrapper' if impl.wrapper else 'hookwrapper'}=True)")
        return sorted(found)

    def _mark_broken(self, record: PluginRecord, error: str, status: PluginStatus = PluginStatus.BROKEN) -> None:
        log.error("plugin %s is %s: %s", record.id, status, error)
        record.status, record.error = status, error
        if record.module is not None and self.pm.is_registered(record.module):
            self.pm.unregister(record.module)
        with self._lock:
            self._callers.clear()

    def usable(self) -> list[PluginRecord]:
        return [record for record in self.records.values() if record.usable]

    def setup(self, hookname: str, **kwargs) -> list[tuple[str, Any]]:
        """Call a setup hook on every usable plugin; a plugin that raises is marked broken."""
        results = []
        for plugin_id, caller in self._callers_of(hookname, kwargs):
            record = self.records[plugin_id]
            try:
                answers = caller(**kwargs)
            except Exception as exc:
                log.exception("plugin %s failed in %s", record.id, hookname)
                self._mark_broken(record, f"{hookname} failed: {exc.__class__.__name__}: {exc}")
                continue
            results.extend((plugin_id, answer) for answer in answers)
        return results

    # ---------------------------------------------------------------- runtime state

    def state(self) -> RuntimeState:
        """The on/off flags and settings, re-read only when told they changed (or by the safety net)."""
        if has_app_context() and "_memberday_plugin_state" in g:
            return g._memberday_plugin_state
        state = self._state
        if self._must_check() or state.version < 0:  # never loaded: every thread waits for a real answer
            self._stale = False  # cleared first: a notice arriving during the read marks it again
            version = db.session.scalar(select(PluginHostVersion.version).where(PluginHostVersion.id == 1)) or 0
            if version != state.version:
                state = self._load_state(version)
                with self._lock:
                    self._state = state
        if has_app_context():
            g._memberday_plugin_state = state
        return state

    def _must_check(self) -> bool:
        now = time.monotonic()
        if self._stale or now >= self._next_check:
            self._next_check = now + self._check_interval()
            return True
        return False

    def _check_interval(self) -> float:
        """Seconds until the safety-net check; 0 (every request) while no listener tells us of changes."""
        listener = self.listener()
        if listener is None or not listener.live or not has_app_context():
            return 0.0
        return float(current_app.config["PLUGIN_STATE_CHECK_SECONDS"])

    def listener(self):
        """This process's listener for the app's database (None on SQLite).

        Started by the first request a process serves: a web process lives on and listens. A
        job outside any request (an rq work-horse is forked per job) does not open one; it reads
        the version row when it starts (``forget_state``), as it always did.
        """
        if not has_app_context():
            return self._listener
        engine = db.engine
        key = (os.getpid(), id(engine))
        if self._listening_to != key:
            if not has_request_context():
                return None
            from core.plugins import push

            self._listener = push.register(self, engine)
            self._listening_to = key
        return self._listener

    def mark_stale(self) -> None:
        """Told that the flags or settings changed: the next request re-reads the version row."""
        self._stale = True

    def forget_state(self) -> None:
        """Drop this request's memo and re-check now (used right after this process changed the flags)."""
        self._stale = True
        if has_app_context():
            g.pop("_memberday_plugin_state", None)

    def _load_state(self, version: int) -> RuntimeState:
        rows = {row.plugin_id: row for row in db.session.scalars(select(PluginState))}
        wanted, settings, failures = set(), {}, {}
        for record in self.usable():
            row = rows.get(record.id)
            if (row.enabled if row is not None else record.info.enabled_by_default):
                wanted.add(record.id)
            settings[record.id] = frozen(self.effective_settings(record, row.settings if row else {}))
            failures[record.id] = row.consecutive_failures if row else 0
        # A plugin whose dependency is off is off too.
        enabled = set(wanted)
        changed = True
        while changed:
            changed = False
            for pid in list(enabled):
                if any(dep not in enabled for dep in self.records[pid].info.depends_on):
                    enabled.discard(pid)
                    changed = True
        return RuntimeState(version=version, enabled=frozenset(enabled), settings=settings, failures=failures)

    @staticmethod
    def effective_settings(record: PluginRecord, stored: dict) -> dict:
        schema_class = record.info.settings_schema if record.info else None
        if schema_class is None:
            return dict(stored or {})
        try:
            return schema_class().load(stored or {})
        except Exception:
            log.error("stored settings of %s no longer validate; using defaults", record.id)
            return schema_class().load({})

    def is_enabled(self, plugin_id: str) -> bool:
        return plugin_id in self.state().enabled

    def settings(self, plugin_id: str) -> MappingProxyType:
        """The plugin's settings, read-only (a plugin that writes to them gets a ``TypeError``)."""
        return self.state().settings.get(plugin_id, _NO_SETTINGS)

    # ---------------------------------------------------------------- hook calls

    def _callers_of(self, hookname: str, kwargs: dict, only: Iterable[str] | None = None,
                    firstresult: bool = False) -> list[tuple[str, Any]]:
        """Per plugin, in pluggy's call order, a pluggy hook caller that calls only that plugin.

        Dispatching each plugin through pluggy's own ``subset_hook_caller`` keeps
        pluggy's contract (argument passing, ``tryfirst``/``trylast`` order,
        ``firstresult``) while the host isolates one plugin's failure from the
        others'. Wrappers are refused at registration, so none is ever called.
        """
        hook = getattr(self.pm.hook, hookname)
        if hook.spec is None:
            raise LookupError(f"{hookname} is not a declared hook")
        declared = bool(hook.spec.opts.get("firstresult"))
        if declared != firstresult:
            raise TypeError(f"{hookname} is {'' if declared else 'not '}a firstresult hook: call it with "
                            f"{'first_result' if declared else 'call_each'}")
        missing = [name for name in hook.spec.argnames if name not in kwargs]
        if missing:  # the caller's mistake: never counted against a plugin
            raise TypeError(f"{hookname} needs the argument(s) {', '.join(missing)}")
        wanted = None if only is None else set(only)
        order: list[str] = []
        for impl in reversed(hook.get_hookimpls()):  # pluggy calls the last of this list first
            if impl.plugin_name not in order and (wanted is None or impl.plugin_name in wanted):
                order.append(impl.plugin_name)
        return [(plugin_id, self._caller(hookname, plugin_id)) for plugin_id in order]

    def _caller(self, hookname: str, plugin_id: str):
        key = (hookname, plugin_id)
        caller = self._callers.get(key)
        if caller is None:
            others = [plugin for name, plugin in self.pm.list_name_plugin() if name != plugin_id]
            caller = self.pm.subset_hook_caller(hookname, remove_plugins=others)
            with self._lock:
                self._callers[key] = caller
        return caller

    def call_each(self, hookname: str, **kwargs) -> list[tuple[str, Any]]:
        """Call a hook on every enabled plugin, each isolated; return (plugin id, result) pairs."""
        results = []
        for plugin_id, caller in self._callers_of(hookname, kwargs, self.state().enabled):
            try:
                answers = self._call(caller, kwargs)
            except Exception as exc:
                self.record_failure(plugin_id, hookname, exc)
                continue
            self.record_success(plugin_id)
            results.extend((plugin_id, answer) for answer in answers)
        return results

    def first_result(self, hookname: str, *, only_plugins: Iterable[str] | None = None,
                     **kwargs) -> tuple[str, Any] | tuple[None, None]:
        """A ``firstresult`` hook: ask enabled plugins in pluggy's order; the first non-None answer wins.

        As in pluggy, no plugin after the one that answered is called. Unlike
        pluggy, a plugin that raises is counted as a failure and the next is asked.
        ``only_plugins`` narrows the plugins asked (those of them that are on).
        """
        enabled = self.state().enabled
        if only_plugins is not None:
            enabled = [plugin_id for plugin_id in only_plugins if plugin_id in enabled]
        for plugin_id, caller in self._callers_of(hookname, kwargs, enabled, firstresult=True):
            try:
                result = self._call(caller, kwargs)
            except Exception as exc:
                self.record_failure(plugin_id, hookname, exc)
                continue
            self.record_success(plugin_id)
            if result is not None:
                return plugin_id, result
        return None, None

    def implementers(self, hookname: str) -> list[str]:
        """The registered plugins that implement a hook (on or off)."""
        hook = getattr(self.pm.hook, hookname, None)
        return [] if hook is None else list(dict.fromkeys(impl.plugin_name for impl in hook.get_hookimpls()))

    def deliver_event(self, hookname: str, kwargs: dict, skip=()) -> list[tuple[str, str, Exception | None]]:
        """Hand one event to each plugin implementing it: ``(plugin id, outcome, error)`` per plugin.

        The outcome is ``delivered``, ``skipped`` (the plugin is off) or ``failed`` (it raised;
        what it left uncommitted was rolled back and the failure counted).
        """
        enabled = self.state().enabled
        outcomes = []
        for plugin_id, caller in self._callers_of(hookname, kwargs):
            if plugin_id in skip:
                continue
            if plugin_id not in enabled:
                outcomes.append((plugin_id, "skipped", None))
                continue
            try:
                self._call(caller, kwargs)
            except Exception as exc:
                self.record_failure(plugin_id, hookname, exc)
                outcomes.append((plugin_id, "failed", exc))
                continue
            self.record_success(plugin_id)
            outcomes.append((plugin_id, "delivered", None))
        return outcomes

    @classmethod
    def _call(cls, caller, kwargs):
        """Call one plugin's hook, again (up to ``TRANSIENT_ATTEMPTS`` times) after a deadlock or
        serialization failure, each try in a savepoint or transaction of its own."""
        for attempt in range(1, TRANSIENT_ATTEMPTS + 1):
            try:
                return cls._call_once(caller, kwargs)
            except Exception as exc:
                if attempt == TRANSIENT_ATTEMPTS or not is_transient(exc):
                    raise
                log.warning("hook %s met a transient database error (try %d of %d), trying again: %s",
                            caller.name, attempt, TRANSIENT_ATTEMPTS, exc)
                time.sleep(0.05 * attempt)

    @staticmethod
    def _call_once(caller, kwargs):
        """Call one plugin's hook; whatever it does wrong never spoils the caller's work.

        With a transaction open -- begun by ``transaction()`` or by SQLAlchemy on a first
        query -- the call runs in a savepoint, rolled back if it raises. A plugin that commits
        on its own (``transaction()`` outside any of ours) ends that savepoint with the
        transaction; what it begins after that is its own. With no transaction open, anything
        it began and left uncommitted when it raised is its own, and is rolled back.
        """
        session = db.session()
        if not session.in_transaction():
            try:
                return caller(**kwargs)
            except Exception:
                session.rollback()
                raise
        savepoint = session.begin_nested()
        try:
            result = caller(**kwargs)
        except Exception:
            if not _closed(savepoint):
                savepoint.rollback()
            elif not in_transaction():
                session.rollback()  # it committed the caller's reads itself: what is open now is its own
            raise
        if savepoint.is_active:
            savepoint.commit()
        elif not _closed(savepoint):
            savepoint.rollback()  # it swallowed a failed flush: nothing of it stays
        return result

    def emit(self, hookname: str, **kwargs) -> None:
        """Write an event in the current transaction; plugins get it once that commits (``core.events``)."""
        from core.events.services import record

        record(hookname, kwargs)

    # ---------------------------------------------------------------- failures

    def record_failure(self, plugin_id: str, hookname: str, exc: Exception) -> None:
        """Log and count a hook failure, once the caller's transaction is over (never inside it).

        A deadlock or serialization failure that outlasted the retries is logged, not counted:
        it says the database was busy, not that the plugin is broken.
        """
        if is_transient(exc):
            log.warning("plugin %s met a transient database error in %s, not counted: %s", plugin_id, hookname, exc)
            return
        log.error("plugin %s raised in %s: %s", plugin_id, hookname, exc, exc_info=exc)

        record = self.records[plugin_id]

        def switched_off(reason: str, failures: int) -> None:
            plugin_switched_off.send(self, plugin_id=plugin_id, reason=reason, failures=failures)

        def count():
            try:
                plugin_state.count_failure(plugin_id, hookname, exc,
                                           limit=current_app.config["PLUGIN_MAX_CONSECUTIVE_FAILURES"],
                                           enabled_by_default=record.info.enabled_by_default,
                                           on_switched_off=switched_off)
            except Exception:
                db.session.rollback()
                log.exception("could not record the failure of plugin %s", plugin_id)
            self.forget_state()

        when_caller_is_done(count)

    def record_success(self, plugin_id: str) -> None:
        if self.state().failures.get(plugin_id):
            def reset():
                plugin_state.reset_failures(plugin_id)
                self.forget_state()

            when_caller_is_done(reset)


def _closed(transaction) -> bool:
    """Whether a SessionTransaction has ended (committed or rolled back, by anyone)."""
    return transaction._transaction_is_closed()


def current_host() -> PluginHost:
    return current_app.extensions["memberday_plugins"]


def emit(hookname: str, **kwargs) -> None:
    """Shorthand for ``current_host().emit``: write an event, delivered to plugins after the commit."""
    current_host().emit(hookname, **kwargs)


def plugin_settings(plugin_id: str) -> dict:
    return current_host().settings(plugin_id)
