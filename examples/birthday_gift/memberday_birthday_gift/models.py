"""Birthdays members give us, and the gift each got in a given year."""
import sqlalchemy as sa

from core.database import UTCDateTime, utcnow
from core.extensions import db

from . import PLUGIN


class Birthday(db.Model):
    """A member's birthday: month and day only (the year is none of our business)."""

    __tablename__ = PLUGIN.table("birthdays")

    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), primary_key=True)
    month = sa.Column(sa.SmallInteger, nullable=False, index=True)
    day = sa.Column(sa.SmallInteger, nullable=False)
    set_by = sa.Column(sa.String(20), nullable=False)  # member / operator / webhook
    updated_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


class BirthdayGift(db.Model):
    """The gift of one year; the unique (member, year) pair is what makes it once a year."""

    __tablename__ = PLUGIN.table("gifts")
    __table_args__ = (sa.UniqueConstraint("member_id", "year", name="uq_birthday_gift_gifts_member_year"),)

    id = sa.Column(sa.Integer, primary_key=True)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False)
    year = sa.Column(sa.SmallInteger, nullable=False)
    points = sa.Column(sa.Integer, nullable=False, default=0)
    coupon_id = sa.Column(sa.Integer, sa.ForeignKey("coupons.id"))
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
