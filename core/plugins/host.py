"""The plugin host: discovers plugins, knows which are on, and calls their hooks.

Plugins are registered once per process, enabled or not. Whether a plugin is on
is a database flag: each request (or job) first compares one version number
with the one this process saw last and reloads the flags and settings only
when it changed, so a switch made through any process takes effect in every
web and worker process on its next request, without a restart.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Iterable

import pluggy
from flask import current_app, g, has_app_context
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version
from sqlalchemy import select

from core.database import in_transaction, on_commit
from core.extensions import db
from core.plugins import PluginInfo, PluginRecord, hookspecs
from core.plugins.models import PluginHostVersion, PluginState
from core.version import __version__ as core_version

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "memberday.plugins"


@dataclass(frozen=True)
class RuntimeState:
    version: int = -1
    enabled: frozenset = frozenset()
    settings: dict = field(default_factory=dict)
    failures: dict = field(default_factory=dict)


class PluginHost:
    def __init__(self) -> None:
        self.pm = pluggy.PluginManager("memberday")
        self.pm.add_hookspecs(hookspecs)
        self.records: dict[str, PluginRecord] = {}
        self.blueprint_owner: dict[str, str] = {}
        self._state = RuntimeState()
        self._lock = threading.Lock()

    # ---------------------------------------------------------------- loading

    def discover(self, group: str = ENTRY_POINT_GROUP) -> None:
        """Load every plugin installed under the entry-point group, each in isolation."""
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
            self.add(module, record)

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
                record.status = "incompatible"
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
        record.hooks = sorted(
            impl_name for impl_name in dir(self.pm.hook)
            if impl_name.startswith("memberday_")
            and any(i.plugin_name == record.id for i in getattr(self.pm.hook, impl_name).get_hookimpls())
        )
        # The cached flags were computed without this plugin: reload them on next use.
        with self._lock:
            self._state = RuntimeState()
        self.forget_state()
        return record

    def _mark_broken(self, record: PluginRecord, error: str) -> None:
        log.error("plugin %s is broken: %s", record.id, error)
        record.status, record.error = "broken", error
        if record.module is not None and self.pm.is_registered(record.module):
            self.pm.unregister(record.module)

    def usable(self) -> list[PluginRecord]:
        return [record for record in self.records.values() if record.usable]

    def setup(self, hookname: str, **kwargs) -> list[tuple[str, Any]]:
        """Call a setup hook on every usable plugin; a plugin that raises is marked broken."""
        results = []
        for impl in self._impls(hookname):
            record = self.records[impl.plugin_name]
            try:
                result = impl.function(*[kwargs[name] for name in impl.argnames])
            except Exception as exc:
                log.exception("plugin %s failed in %s", record.id, hookname)
                self._mark_broken(record, f"{hookname} failed: {exc.__class__.__name__}: {exc}")
                continue
            if result is not None:
                results.append((record.id, result))
        return results

    # ---------------------------------------------------------------- runtime state

    def state(self) -> RuntimeState:
        """The on/off flags and settings, reloaded when the version row moved."""
        if has_app_context() and "_memberday_plugin_state" in g:
            return g._memberday_plugin_state
        version = db.session.scalar(select(PluginHostVersion.version).where(PluginHostVersion.id == 1)) or 0
        state = self._state
        if version != state.version:
            state = self._load_state(version)
            with self._lock:
                self._state = state
        if has_app_context():
            g._memberday_plugin_state = state
        return state

    def forget_state(self) -> None:
        """Drop this request's memo (used right after this process changed the flags)."""
        if has_app_context():
            g.pop("_memberday_plugin_state", None)

    def _load_state(self, version: int) -> RuntimeState:
        rows = {row.plugin_id: row for row in db.session.scalars(select(PluginState))}
        wanted, settings, failures = set(), {}, {}
        for record in self.usable():
            row = rows.get(record.id)
            if (row.enabled if row is not None else record.info.enabled_by_default):
                wanted.add(record.id)
            settings[record.id] = self.effective_settings(record, row.settings if row else {})
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

    def settings(self, plugin_id: str) -> dict:
        return self.state().settings.get(plugin_id, {})

    # ---------------------------------------------------------------- hook calls

    def _impls(self, hookname: str, only: Iterable[str] | None = None):
        hook = getattr(self.pm.hook, hookname)
        impls = list(reversed(hook.get_hookimpls()))  # pluggy's own order: last registered first
        if only is not None:
            only = set(only)
            impls = [impl for impl in impls if impl.plugin_name in only]
        return impls

    def call_each(self, hookname: str, **kwargs) -> list[tuple[str, Any]]:
        """Call a hook on every enabled plugin, each isolated; return (plugin id, result) pairs."""
        results = []
        for impl in self._impls(hookname, self.state().enabled):
            try:
                result = self._call(impl, kwargs)
            except Exception as exc:
                self.record_failure(impl.plugin_name, hookname, exc)
                continue
            self.record_success(impl.plugin_name)
            if result is not None:
                results.append((impl.plugin_name, result))
        return results

    def first_result(self, hookname: str, **kwargs) -> tuple[str, Any] | tuple[None, None]:
        """Ask enabled plugins in turn; the first non-None answer wins."""
        for impl in self._impls(hookname, self.state().enabled):
            try:
                result = self._call(impl, kwargs)
            except Exception as exc:
                self.record_failure(impl.plugin_name, hookname, exc)
                continue
            self.record_success(impl.plugin_name)
            if result is not None:
                return impl.plugin_name, result
        return None, None

    @staticmethod
    def _call(impl, kwargs):
        args = [kwargs[name] for name in impl.argnames]
        if in_transaction():
            # Inside a caller's transaction a failing plugin must not spoil the caller's work.
            with db.session.begin_nested():
                return impl.function(*args)
        return impl.function(*args)

    def emit(self, hookname: str, **kwargs) -> None:
        """Dispatch an event hook once the current transaction has committed."""
        on_commit(lambda: self.call_each(hookname, **kwargs))

    # ---------------------------------------------------------------- failures

    def record_failure(self, plugin_id: str, hookname: str, exc: Exception) -> None:
        from core.plugins import services

        log.error("plugin %s raised in %s: %s", plugin_id, hookname, exc, exc_info=exc)

        def count():
            try:
                services.count_failure(plugin_id, hookname, exc)
            except Exception:
                db.session.rollback()
                log.exception("could not record the failure of plugin %s", plugin_id)
            self.forget_state()

        if in_transaction():
            on_commit(count)
        else:
            db.session.rollback()  # whatever the plugin left half-done is not ours to commit
            count()

    def record_success(self, plugin_id: str) -> None:
        if self.state().failures.get(plugin_id):
            from core.plugins import services

            def reset():
                services.reset_failures(plugin_id)
                self.forget_state()

            on_commit(reset)


def current_host() -> PluginHost:
    return current_app.extensions["memberday_plugins"]


def emit(hookname: str, **kwargs) -> None:
    """Shorthand for ``current_host().emit``: an event hook after commit."""
    current_host().emit(hookname, **kwargs)


def plugin_settings(plugin_id: str) -> dict:
    return current_host().settings(plugin_id)
