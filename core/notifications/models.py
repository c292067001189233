"""The notification outbox: one row per message, delivered by a channel job."""
import sqlalchemy as sa

from core.database import UTCDateTime, utcnow
from core.extensions import db


class Notification(db.Model):
    __tablename__ = "notifications"
    # Each inbox (a member's, the operators') pages newest first along one of these.
    __table_args__ = (sa.Index("ix_notifications_member_id", "member_id", "id"),
                      sa.Index("ix_notifications_operators", "id", postgresql_where=sa.text("audience = 'operators'"),
                               sqlite_where=sa.text("audience = 'operators'")))

    id = sa.Column(sa.Integer, primary_key=True)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"))
    audience = sa.Column(sa.String(10), nullable=False, default="member")  # member / operators
    title = sa.Column(sa.String(200), nullable=False)
    body = sa.Column(sa.Text, nullable=False, default="")
    channel = sa.Column(sa.String(40))
    status = sa.Column(sa.String(10), nullable=False, default="queued")  # queued / sent / failed
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    sent_at = sa.Column(UTCDateTime)
    read_at = sa.Column(UTCDateTime)
