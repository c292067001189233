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


class KeywordClaim(db.Model):
    """Who answers a keyword a campaign claimed (an event's 報名, a week's word).

    One row per keyword (its normalised form), so two holders can never share
    one; the row changes hands only when its holder released it or its
    ``until`` has passed. Keywords a plugin declares on its ``PluginInfo`` are
    not stored: they are held while the plugin is on.
    """

    __tablename__ = "keyword_claims"
    __table_args__ = (sa.Index("ix_keyword_claims_holder", "plugin_id", "owner"),)

    keyword = sa.Column(sa.String(40), primary_key=True)
    plugin_id = sa.Column(sa.String(64), nullable=False)
    owner = sa.Column(sa.String(64), nullable=False)  # the plugin's own name for the holder: "event:12"
    until = sa.Column(UTCDateTime)  # None: held until released
    claimed_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
