"""Events written in the same transaction as the change they describe, and their delivery per plugin."""
import sqlalchemy as sa

from core.database import UTCDateTime, utcnow
from core.extensions import db

EVENT_STATUSES = ("pending", "done")
DELIVERY_STATUSES = ("delivered", "skipped", "failed")


class Event(db.Model):
    """One event (an event hook's name and its arguments, objects kept by id).

    ``pending`` until every plugin that implements the hook has it delivered or
    skipped (or failed ``EVENT_MAX_ATTEMPTS`` times), then ``done``. A deliverer
    holds it by ``claimed_until``; one that died lets the claim run out and the
    relay takes the event over.
    """

    __tablename__ = "events"
    __table_args__ = (
        sa.CheckConstraint("status IN ('pending', 'done')", name="status"),
        sa.Index("ix_events_pending", "status", "id"),
        sa.Index("ix_events_member_status", "member_id", "status", "id"),
    )

    id = sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True)
    name = sa.Column(sa.String(64), nullable=False)
    member_id = sa.Column(sa.Integer)
    payload = sa.Column(sa.JSON, nullable=False, default=dict)
    status = sa.Column(sa.String(10), nullable=False, default="pending")
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    claimed_until = sa.Column(UTCDateTime)
    next_attempt_at = sa.Column(UTCDateTime)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    done_at = sa.Column(UTCDateTime)


class EventDelivery(db.Model):
    """What became of one event for one plugin: delivered, skipped (it was off) or failed (retried)."""

    __tablename__ = "event_deliveries"
    __table_args__ = (
        sa.CheckConstraint("status IN ('delivered', 'skipped', 'failed')", name="status"),
    )

    event_id = sa.Column(sa.BigInteger().with_variant(sa.Integer, "sqlite"),
                         sa.ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    plugin_id = sa.Column(sa.String(64), primary_key=True)
    status = sa.Column(sa.String(10), nullable=False)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    last_error = sa.Column(sa.String(300))
    updated_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
