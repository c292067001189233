"""Offline events: the event, its keywords, registrations, check-ins and the scans at the door.

The event row is the single place a seat is rationed: a sign-up, a cancellation
and a capacity change take its row lock, and ``confirmed_count`` can never pass
``capacity`` (a CHECK constraint is the last line). Waitlisted registrations
keep their arrival number (``waitlist_seq``); a member's place is the number of
waitlisted registrations ahead of them plus one, so places never have gaps.

A registration has at most one live check-in (a partial unique index); every
scan at the door is kept with its nonce and the answer it got, so a scanner that
retries with the same nonce is answered with the first answer.
"""
import hashlib

import sqlalchemy as sa

from core.database import UTCDateTime, utcnow
from core.extensions import db
from plugins.offline_events import PLUGIN

EVENT_STATUSES = ("open", "cancelled")
REGISTRATION_STATUSES = ("confirmed", "waitlisted", "cancelled", "checked_in")
SEATED = ("confirmed", "checked_in")  # the statuses that hold a seat
CHECKIN_RESULTS = ("ok", "already_redeemed", "canceled", "waitlisted", "wrong_event", "not_open", "invalid")
KEYWORD_KINDS = ("signup", "coupon")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class OfflineEvent(db.Model):
    __tablename__ = PLUGIN.table("events")
    __table_args__ = (
        sa.CheckConstraint(_one_of("status", EVENT_STATUSES), name="status_known"),
        sa.CheckConstraint("capacity >= 0", name="capacity_not_negative"),
        sa.CheckConstraint("confirmed_count >= 0 AND confirmed_count <= capacity", name="seats_within_capacity"),
        sa.CheckConstraint("attendance_points >= 0", name="attendance_points_not_negative"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    title = sa.Column(sa.String(120), nullable=False)
    venue = sa.Column(sa.String(200), nullable=False, default="")
    description = sa.Column(sa.String(2000), nullable=False, default="")
    starts_at = sa.Column(UTCDateTime, nullable=False)
    ends_at = sa.Column(UTCDateTime, nullable=False)
    capacity = sa.Column(sa.Integer, nullable=False)
    signup_opens_at = sa.Column(UTCDateTime)
    signup_closes_at = sa.Column(UTCDateTime)
    checkin_opens_at = sa.Column(UTCDateTime)
    checkin_closes_at = sa.Column(UTCDateTime)
    signup_keyword = sa.Column(sa.String(40))
    coupon_keyword = sa.Column(sa.String(40))
    coupon_template_id = sa.Column(sa.Integer, sa.ForeignKey("coupon_templates.id"))
    attendance_points = sa.Column(sa.BigInteger, nullable=False, default=0)
    attendance_coupon_template_id = sa.Column(sa.Integer, sa.ForeignKey("coupon_templates.id"))
    audience = sa.Column(sa.JSON, nullable=False, default=dict)
    status = sa.Column(sa.String(10), nullable=False, default="open")
    confirmed_count = sa.Column(sa.Integer, nullable=False, default=0)
    waitlist_counter = sa.Column(sa.Integer, nullable=False, default=0)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    cancelled_at = sa.Column(UTCDateTime)

    @property
    def seats_left(self) -> int:
        return max(0, self.capacity - self.confirmed_count)


class EventKeyword(db.Model):
    """Who holds a keyword: one row per keyword, so two open events can never share one.

    The row outlives its event; an event that is cancelled or over gives the
    keyword up to the next event that asks for it (under the row's lock).
    """

    __tablename__ = PLUGIN.table("keywords")
    __table_args__ = (sa.CheckConstraint(_one_of("kind", KEYWORD_KINDS), name="kind_known"),)

    keyword = sa.Column(sa.String(40), primary_key=True)
    event_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("events") + ".id"), nullable=False, index=True)
    kind = sa.Column(sa.String(10), nullable=False)


class Registration(db.Model):
    __tablename__ = PLUGIN.table("registrations")
    __table_args__ = (
        sa.UniqueConstraint("event_id", "member_id", name="uq_offline_events_registrations_one_per_member"),
        sa.CheckConstraint(_one_of("status", REGISTRATION_STATUSES), name="status_known"),
        sa.Index("ix_offline_events_registrations_waitlist", "event_id", "status", "waitlist_seq"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    event_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("events") + ".id"), nullable=False)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True)
    status = sa.Column(sa.String(12), nullable=False)
    # The QR code carries only this: 128 random bits, compared by exact match.
    ticket_code = sa.Column(sa.String(40), nullable=False, unique=True)
    waitlist_seq = sa.Column(sa.Integer)
    channel = sa.Column(sa.String(20), nullable=False, default="api")
    checkins_made = sa.Column(sa.Integer, nullable=False, default=0)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    confirmed_at = sa.Column(UTCDateTime)
    cancelled_at = sa.Column(UTCDateTime)
    checked_in_at = sa.Column(UTCDateTime)

    event = db.relationship(OfflineEvent, lazy="joined")
    member = db.relationship("Member", lazy="joined")

    @property
    def ticket_hash(self) -> str:
        return ticket_hash(self.ticket_code)


def ticket_hash(code: str) -> str:
    """What the offline list carries instead of the code: a scanner hashes what it reads and compares."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


class CheckIn(db.Model):
    """A registration let in at the door, and what that granted; a revert undoes it once."""

    __tablename__ = PLUGIN.table("checkins")
    __table_args__ = (
        # The last line against a ticket let in twice: one live check-in per registration.
        sa.Index("uq_offline_events_checkins_live", "registration_id", unique=True,
                 postgresql_where=sa.text("reverted_at IS NULL"), sqlite_where=sa.text("reverted_at IS NULL")),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    registration_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("registrations") + ".id"), nullable=False)
    event_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("events") + ".id"), nullable=False, index=True)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False)
    nonce = sa.Column(sa.String(100), nullable=False)
    ledger_source = sa.Column(sa.String(120))
    points_granted = sa.Column(sa.BigInteger, nullable=False, default=0)
    coupon_id = sa.Column(sa.Integer, sa.ForeignKey("coupons.id"))
    offline = sa.Column(sa.Boolean, nullable=False, default=False)
    scanned_at = sa.Column(UTCDateTime, nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    created_by = sa.Column(sa.String(60))
    reverted_at = sa.Column(UTCDateTime)
    reverted_by = sa.Column(sa.String(60))
    points_reversed = sa.Column(sa.BigInteger)
    coupon_voided = sa.Column(sa.Boolean)

    registration = db.relationship(Registration, lazy="joined")


class Scan(db.Model):
    """Every answer given at the door, by nonce: a retried scan is answered from here."""

    __tablename__ = PLUGIN.table("scans")
    __table_args__ = (sa.CheckConstraint(_one_of("result", CHECKIN_RESULTS), name="result_known"),)

    id = sa.Column(sa.Integer, primary_key=True)
    nonce = sa.Column(sa.String(100), nullable=False, unique=True)
    fingerprint = sa.Column(sa.String(64), nullable=False)
    event_id = sa.Column(sa.Integer, index=True)  # as the scanner sent it: not a foreign key
    registration_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("registrations") + ".id"), index=True)
    checkin_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("checkins") + ".id"))
    result = sa.Column(sa.String(20), nullable=False, default="invalid")
    answer = sa.Column(sa.JSON)
    offline = sa.Column(sa.Boolean, nullable=False, default=False)
    scanned_at = sa.Column(UTCDateTime, nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    created_by = sa.Column(sa.String(60))
