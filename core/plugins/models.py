"""Runtime plugin state kept in the database: on/off, settings, failures, audit."""
import sqlalchemy as sa

from core.database import ClosedSet, UTCDateTime, one_of, utcnow
from core.extensions import db


class PluginState(db.Model):
    __tablename__ = "plugin_states"

    plugin_id = sa.Column(sa.String(64), primary_key=True)
    enabled = sa.Column(sa.Boolean, nullable=False)
    settings = sa.Column(sa.JSON, nullable=False, default=dict)
    consecutive_failures = sa.Column(sa.Integer, nullable=False, default=0)
    failures_total = sa.Column(sa.Integer, nullable=False, default=0)
    disabled_reason = sa.Column(sa.String(300))
    updated_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


class PluginHostVersion(db.Model):
    """One row whose number goes up on every plugin change; processes compare it per request."""

    __tablename__ = "plugin_host_version"

    id = sa.Column(sa.Integer, primary_key=True)
    version = sa.Column(sa.BigInteger, nullable=False, default=0)


class AuditAction(ClosedSet):
    ENABLE = "enable"
    DISABLE = "disable"
    SETTINGS = "settings"


class PluginAudit(db.Model):
    __tablename__ = "plugin_audit"
    __table_args__ = (one_of("action", AuditAction),)

    id = sa.Column(sa.Integer, primary_key=True)
    plugin_id = sa.Column(sa.String(64), nullable=False, index=True)
    actor = sa.Column(sa.String(100), nullable=False)
    action = sa.Column(sa.String(40), nullable=False)
    details = sa.Column(sa.JSON, nullable=False, default=dict)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
