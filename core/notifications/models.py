"""The notification outbox: one row per message, delivered by a channel job."""
import sqlalchemy as sa

from core.database import ClosedSet, UTCDateTime, one_of, utcnow
from core.extensions import db


class Audience(ClosedSet):
    MEMBER = "member"        # one member's inbox
    OPERATORS = "operators"  # every operator's


class NotificationStatus(ClosedSet):
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"


class Notification(db.Model):
    __tablename__ = "notifications"
    # Each inbox (a member's, the operators') pages newest first along one of these.
    __table_args__ = (sa.Index("ix_notifications_member_id", "member_id", "id"),
                      sa.Index("ix_notifications_operators", "id", postgresql_where=sa.text("audience = 'operators'"),
                               sqlite_where=sa.text("audience = 'operators'")),
                      one_of("audience", Audience), one_of("status", NotificationStatus))

    id = sa.Column(sa.Integer, primary_key=True)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"))
    audience = sa.Column(sa.String(10), nullable=False, default="member")
    title = sa.Column(sa.String(200), nullable=False)
    body = sa.Column(sa.Text, nullable=False, default="")
    channel = sa.Column(sa.String(40))
    status = sa.Column(sa.String(10), nullable=False, default="queued")
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = sa.Column(UTCDateTime)
    read_at = sa.Column(UTCDateTime)
