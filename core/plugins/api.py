"""Plugin endpoints: list, switch on/off, settings, audit."""
from flask_smorest import Blueprint

from core.auth.services import ADMIN, MANAGERS, require_operator
from core.errors import ValidationFailed, errors
from core.i18n import _
from core.plugins import services
from core.plugins.host import current_host
from core.plugins.schemas import PluginAuditSchema, PluginListSchema, PluginSchema, PluginUpdateSchema
from core.schemas import PageArgs, page_of, shared

blp = Blueprint("plugins", __name__, url_prefix="/api/v1/plugins", description="Installed plugins.")


@blp.route("", methods=["GET"])
@errors("forbidden")
@blp.response(200, PluginListSchema)
def list_plugins():
    """Every installed plugin with its version, status, hooks and settings (secrets masked)."""
    require_operator(*MANAGERS)
    return {"items": [services.describe(record) for record in current_host().records.values()]}


@blp.route("/<string:plugin_id>", methods=["GET"])
@errors("forbidden")
@blp.response(200, PluginSchema)
def get_plugin(plugin_id):
    require_operator(*MANAGERS)
    return services.describe(services.get_record(plugin_id))


@blp.route("/<string:plugin_id>", methods=["PATCH"])
@errors("forbidden", "plugin_unusable", "dependency_disabled", "required_by", "keyword_taken")
@blp.arguments(PluginUpdateSchema)
@blp.response(200, PluginSchema)
def update_plugin(data, plugin_id):
    """Switch a plugin on or off and/or change its settings (admins). Takes effect at once everywhere."""
    principal = require_operator(*ADMIN)
    record = services.get_record(plugin_id)
    if not data:
        raise ValidationFailed(_("Give enabled and/or settings."), fields={"enabled": ["enabled or settings required"]})
    actor = f"operator:{principal.id}:{principal.name}"
    if "settings" in data:
        services.update_settings(plugin_id, data["settings"], actor)
    if "enabled" in data:
        services.set_enabled(plugin_id, data["enabled"], actor)
    return services.describe(record)


@blp.route("/<string:plugin_id>/audit", methods=["GET"])
@errors("forbidden")
@blp.arguments(PageArgs, location="query")
@blp.response(200)
def plugin_audit(args, plugin_id):
    """Who changed this plugin, when, and what."""
    require_operator(*MANAGERS)
    services.get_record(plugin_id)
    return page_of(services.audit_log(plugin_id), args, shared(PluginAuditSchema).dump)
