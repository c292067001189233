"""What operators do with plugins: switch them on and off, change their settings, read the audit log.

The rows themselves are kept by ``core.plugins.state``, which the host also counts failures through.
"""
from __future__ import annotations

from marshmallow import ValidationError
from sqlalchemy import select

from core.database import transaction, utcnow
from core.errors import Conflict, NotFound, ValidationFailed
from core.extensions import db
from core.i18n import _
from core.messaging import keywords
from core.plugins import state as plugin_state
from core.plugins.host import current_host
from core.plugins.models import PluginAudit, PluginState

SECRET_MASK = "********"


def _state_row(plugin_id: str):
    return plugin_state.state_row(plugin_id, current_host().records[plugin_id].info.enabled_by_default)


def get_record(plugin_id: str):
    record = current_host().records.get(plugin_id)
    if record is None:
        raise NotFound(_("No plugin %(id)s is installed.", id=plugin_id))
    return record


def set_enabled(plugin_id: str, enabled: bool, actor: str) -> None:
    """Switch a plugin on or off; refuses to break a dependency either way."""
    host = current_host()
    record = get_record(plugin_id)
    if not record.usable:
        raise Conflict(_("Plugin %(id)s cannot be used (%(status)s): %(error)s", id=plugin_id, status=record.status, error=record.error), code="plugin_unusable")
    state = host.state()
    if enabled:
        missing = [dep for dep in record.info.depends_on if dep not in state.enabled]
        if missing:
            raise Conflict(_("Plugin %(id)s needs %(others)s switched on first.", id=plugin_id, others=", ".join(missing)),
                           code="dependency_disabled", extra={"dependencies": missing})
        if plugin_id not in state.enabled:
            clashes = keywords.clashes_on_enable(plugin_id)
            if clashes:
                raise clashes[0]
    else:
        needed_by = [other.id for other in host.usable()
                     if plugin_id in other.info.depends_on and other.id in state.enabled]
        if needed_by:
            raise Conflict(_("Plugin %(id)s is needed by %(others)s; switch those off first.", id=plugin_id, others=", ".join(needed_by)),
                           code="required_by", extra={"required_by": needed_by})
    with transaction():
        row = _state_row(plugin_id)
        if row.enabled != enabled:
            row.enabled = enabled
            row.updated_at = utcnow()
            if enabled:
                row.consecutive_failures = 0
                row.disabled_reason = None
            plugin_state.audit(plugin_id, actor, "enable" if enabled else "disable", {})
            plugin_state.bump_version()
    host.forget_state()


def public_settings(record, settings: dict) -> dict:
    """Settings as shown to operators: secret fields masked, never their value."""
    from core.plugins.host import thawed

    settings = thawed(settings)
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
        raise Conflict(_("Plugin %(id)s cannot be used (%(status)s): %(error)s", id=plugin_id, status=record.status, error=record.error), code="plugin_unusable")
    if not isinstance(changes, dict):
        raise ValidationFailed(_("The settings must be an object."), fields={"settings": ["must be an object"]})
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
                raise ValidationFailed(_("The settings are not valid."), fields=err.messages) from None
            merged = schema_class().dump(loaded)
            secret_names = [n for n, f in schema_class().fields.items() if f.metadata.get("secret")]
            for name in secret_names:  # dump may leave out load_only secrets: keep what was given
                if name in loaded:
                    merged[name] = loaded[name]
        row.settings = merged
        row.updated_at = utcnow()
        plugin_state.audit(plugin_id, actor, "settings", {"changed": sorted(changes)})
        plugin_state.bump_version()
    current_host().forget_state()
    return public_settings(record, current_host().settings(plugin_id))


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
        "keywords": [word["keyword"] for word in keywords.held_by(record.id)] if record.usable else [],
        "keyword_clashes": [clash.message for clash in keywords.clashes_on_enable(record.id)]
        if record.usable else [],
    }
