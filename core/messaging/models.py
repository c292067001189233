"""Inbound messages from a channel, kept so that a repeated delivery is answered once."""
import sqlalchemy as sa

from core.database import UTCDateTime, utcnow
from core.extensions import db


class InboundMessage(db.Model):
    __tablename__ = "inbound_messages"
    __table_args__ = (sa.UniqueConstraint("channel", "message_id", name="uq_inbound_messages_channel_message"),)

    id = sa.Column(sa.Integer, primary_key=True)
    channel = sa.Column(sa.String(20), nullable=False)
    message_id = sa.Column(sa.String(128), nullable=False)
    sender = sa.Column(sa.String(128), nullable=False)
    text = sa.Column(sa.Text, nullable=False)
    reply = sa.Column(sa.Text)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"))
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
