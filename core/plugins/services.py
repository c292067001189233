"""Switching plugins on and off, their settings, failure counting and the audit log."""
from __future__ import annotations

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import select, update

from core.database import transaction, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.extensions import db
from core.plugins.host import current_host
from core.plugins.models import PluginAudit, PluginHostVersion, PluginState

SECRET_MASK = "********"


def _bump_version() -> None:
    updated = db.session.execute(
        update(PluginHostVersion).where(PluginHostVersion.id == 1).values(version=PluginHostVersion.version + 1))
    if not updated.rowcount:
        db.session.add(PluginHostVersion(id=1, version=1))
    db.session.flush()


def _state_row(plugin_id: str) -> PluginState:
    """The plugin's state row under a lock, created with its defaults when missing."""
    row = db.session.scalar(select(PluginState).where(PluginState.plugin_id == plugin_id).with_for_update()
                            .execution_options(populate_existing=True))
    if row is None:
        record = current_host().records[plugin_id]
        row = PluginState(plugin_id=plugin_id, enabled=record.info.enabled_by_default, settings={},
                          consecutive_failures=0, failures_total=0)
        db.session.add(row)
        db.session.flush()
    return row


def _audit(plugin_id: str, actor: str, action: str, details: dict) -> None:
    db.session.add(PluginAudit(plugin_id=plugin_id, actor=actor, action=action, details=details))


def get_record(plugin_id: str):
    record = current_host().records.get(plugin_id)
    if record is None:
        raise NotFound(f"No plugin {plugin_id!r} is installed.")
    return record


def set_enabled(plugin_id: str, enabled: bool, actor: str) -> None:
    """Switch a plugin on or off; refuses to break a dependency either way."""
    host = current_host()
    record = get_record(plugin_id)
    if not record.usable:
        raise Conflict(f"Plugin {plugin_id} is {record.status}: {record.error}", code="plugin_unusable")
    state = host.state()
    if enabled:
        missing = [dep for dep in record.info.depends_on if dep not in state.enabled]
        if missing:
            raise Conflict(f"Plugin {plugin_id} needs {', '.join(missing)} switched on first.",
                           code="dependency_disabled", extra={"dependencies": missing})
    else:
        needed_by = [other.id for other in host.usable()
                     if plugin_id in other.info.depends_on and other.id in state.enabled]
        if needed_by:
            raise Conflict(f"Plugin {plugin_id} is needed by {', '.join(needed_by)}; switch those off first.",
                           code="required_by", extra={"required_by": needed_by})
    with transaction():
        row = _state_row(plugin_id)
        if row.enabled != enabled:
            row.enabled = enabled
            row.updated_at = utcnow()
            if enabled:
                row.consecutive_failures = 0
                row.disabled_reason = None
            _audit(plugin_id, actor, "enable" if enabled else "disable", {})
            _bump_version()
    host.forget_state()


def public_settings(record, settings: dict) -> dict:
    """Settings as shown to operators: secret fields masked, never their value."""
    schema_class = record.info.settings_schema if record.info else None
    if schema_class is None:
        return dict(settings)
    schema = schema_class()
    shown = schema.dump(settings)
    for name, field in schema.fields.items():
        if field.metadata.get("secret"):
            shown[name] = SECRET_MASK if settings.get(name) else None
    return shown


def update_settings(plugin_id: str, changes: dict, actor: str) -> dict:
    """Validate and save settings (a partial update); returns what operators may see."""
    record = get_record(plugin_id)
    if not record.usable:
        raise Conflict(f"Plugin {plugin_id} is {record.status}: {record.error}", code="plugin_unusable")
    if not isinstance(changes, dict):
        raise ValidationFailed("settings must be an object", fields={"settings": ["must be an object"]})
    schema_class = record.info.settings_schema
    with transaction():
        row = _state_row(plugin_id)
        merged = dict(row.settings or {})
        for key, value in changes.items():
            if value == SECRET_MASK:  # the masked value sent back unchanged keeps the secret
                continue
            merged[key] = value
        if schema_class is not None:
            try:
                loaded = schema_class().load(merged)
            except ValidationError as err:
                raise ValidationFailed("The settings are not valid.", fields=err.messages) from None
            merged = schema_class().dump(loaded)
            secret_names = [n for n, f in schema_class().fields.items() if f.metadata.get("secret")]
            for name in secret_names:  # dump may leave out load_only secrets: keep what was given
                if name in loaded:
                    merged[name] = loaded[name]
        row.settings = merged
        row.updated_at = utcnow()
        _audit(plugin_id, actor, "settings", {"changed": sorted(changes)})
        _bump_version()
    current_host().forget_state()
    return public_settings(record, current_host().settings(plugin_id))


def count_failure(plugin_id: str, hookname: str, exc: Exception) -> None:
    """Count a hook failure; at the limit, switch the plugin off and tell the operators."""
    from core.notifications.services import notify_operators

    limit = current_app.config["PLUGIN_MAX_CONSECUTIVE_FAILURES"]
    with transaction():
        row = _state_row(plugin_id)
        row.consecutive_failures += 1
        row.failures_total += 1
        if row.enabled and row.consecutive_failures >= limit:
            row.enabled = False
            row.disabled_reason = f"{row.consecutive_failures} failures in a row; last in {hookname}: {exc!r}"[:300]
            _audit(plugin_id, "system", "disable", {"reason": row.disabled_reason})
            notify_operators(f"Plugin {plugin_id} was switched off",
                             f"It failed {row.consecutive_failures} times in a row. Last error in {hookname}: "
                             f"{exc!r}. Fix it, then switch it on again.")
        _bump_version()


def reset_failures(plugin_id: str) -> None:
    with transaction():
        changed = db.session.execute(
            update(PluginState).where(PluginState.plugin_id == plugin_id, PluginState.consecutive_failures > 0)
            .values(consecutive_failures=0))
        if changed.rowcount:
            _bump_version()


def audit_log(plugin_id: str | None = None):
    query = select(PluginAudit).order_by(PluginAudit.id.desc())
    if plugin_id:
        query = query.where(PluginAudit.plugin_id == plugin_id)
    return query


def describe(record) -> dict:
    """One plugin as the API and the CLI list it."""
    host = current_host()
    state = host.state()
    info = record.info
    row = db.session.get(PluginState, record.id)
    return {
        "id": record.id,
        "name": info.name if info else record.id,
        "description": info.description if info else "",
        "version": record.version,
        "distribution": record.distribution,
        "status": record.status,
        "error": record.error,
        "enabled": record.id in state.enabled,
        "enabled_by_default": info.enabled_by_default if info else False,
        "depends_on": list(info.depends_on) if info else [],
        "requires_core": info.requires_core if info else None,
        "hooks": record.hooks,
        "settings": public_settings(record, state.settings.get(record.id, {})) if record.usable else {},
        "consecutive_failures": row.consecutive_failures if row else 0,
        "failures_total": row.failures_total if row else 0,
        "disabled_reason": row.disabled_reason if row else None,
    }
