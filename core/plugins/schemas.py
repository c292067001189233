"""Plugin list and update payloads."""
from marshmallow import fields

from core.plugins import PluginStatus
from core.plugins.models import AuditAction
from core.schemas import BaseSchema, Id, OneOf, When


class PluginSchema(BaseSchema):
    id = fields.String()
    name = fields.String()
    description = fields.String()
    version = fields.String()
    distribution = fields.String(allow_none=True)
    status = fields.Enum(PluginStatus, by_value=True, metadata={
        "description": "ok: usable; broken: failed to load or to set up; incompatible: needs another core; "
                       "refused: uses hook wrappers, which the host does not call"})
    error = fields.String(allow_none=True)
    enabled = fields.Boolean()
    enabled_by_default = fields.Boolean()
    depends_on = fields.List(fields.String())
    requires_core = fields.String(allow_none=True)
    hooks = fields.List(fields.String())
    settings = fields.Dict()
    consecutive_failures = fields.Integer()
    failures_total = fields.Integer()
    disabled_reason = fields.String(allow_none=True)
    keywords = fields.List(fields.String(), metadata={
        "description": "keywords the plugin answers: declared ones and its campaigns' live claims"})
    keyword_clashes = fields.List(fields.String(), metadata={
        "description": "why switching it on would be refused with keyword_taken (empty: no clash)"})


class PluginListSchema(BaseSchema):
    items = fields.List(fields.Nested(PluginSchema))


class PluginUpdateSchema(BaseSchema):
    enabled = fields.Boolean()
    settings = fields.Dict(keys=fields.String())


class PluginAuditSchema(BaseSchema):
    id = Id()
    plugin_id = fields.String()
    actor = fields.String()
    action = OneOf(AuditAction)
    details = fields.Dict()
    created_at = When()
