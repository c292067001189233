"""Plugin state in the database: on/off flags, settings rows, failure counts, the audit log.

This module depends only on the models: the host counts failures through it, the
operator-facing services switch plugins and save settings through it, and neither
notifications nor jobs are imported from here. Switching a plugin off after failures
is reported to the caller (``on_switched_off``); the host turns that into its
``plugin_switched_off`` signal, and the app wires the operators' notification to it.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import select, text, update

from core.database import on_commit, transaction
from core.extensions import db
from core.plugins.models import PluginAudit, PluginHostVersion, PluginState


def bump_version() -> None:
    """Tell every process to reload the flags and settings, once this transaction commits.

    The version row moves (what every process compares when it checks); on PostgreSQL a
    ``NOTIFY`` in the same transaction reaches every listening process at the commit, and
    this process's own hosts are marked at the commit too (``core.plugins.push``).
    """
    from core.plugins import push

    updated = db.session.execute(
        update(PluginHostVersion).where(PluginHostVersion.id == 1).values(version=PluginHostVersion.version + 1))
    if not updated.rowcount:
        db.session.add(PluginHostVersion(id=1, version=1))
    db.session.flush()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": push.CHANNEL})
    on_commit(push.mark_local)


def state_row(plugin_id: str, enabled_by_default: bool) -> PluginState:
    """The plugin's state row under a lock, created with its defaults when missing."""
    row = db.session.scalar(select(PluginState).where(PluginState.plugin_id == plugin_id).with_for_update()
                            .execution_options(populate_existing=True))
    if row is None:
        row = PluginState(plugin_id=plugin_id, enabled=enabled_by_default, settings={},
                          consecutive_failures=0, failures_total=0)
        db.session.add(row)
        db.session.flush()
    return row


def audit(plugin_id: str, actor: str, action: str, details: dict) -> None:
    db.session.add(PluginAudit(plugin_id=plugin_id, actor=actor, action=action, details=details))


def count_failure(plugin_id: str, hookname: str, exc: Exception, *, limit: int, enabled_by_default: bool,
                  on_switched_off: Callable[[str, int], None] | None = None) -> bool:
    """Count a hook failure; at ``limit`` in a row switch the plugin off. Returns whether it was.

    ``on_switched_off(reason, failures)`` runs inside the same transaction, so what it
    writes (the operators' notification) commits with the switch-off or not at all.
    """
    with transaction():
        row = state_row(plugin_id, enabled_by_default)
        row.consecutive_failures += 1
        row.failures_total += 1
        switched_off = row.enabled and row.consecutive_failures >= limit
        if switched_off:
            row.enabled = False
            row.disabled_reason = f"{row.consecutive_failures} failures in a row; last in {hookname}: {exc!r}"[:300]
            audit(plugin_id, "system", "disable", {"reason": row.disabled_reason})
            if on_switched_off is not None:
                on_switched_off(row.disabled_reason, row.consecutive_failures)
        bump_version()
    return switched_off


def reset_failures(plugin_id: str) -> None:
    """A call succeeded: the run of failures is over."""
    with transaction():
        changed = db.session.execute(
            update(PluginState).where(PluginState.plugin_id == plugin_id, PluginState.consecutive_failures > 0)
            .values(consecutive_failures=0))
        if changed.rowcount:
            bump_version()
