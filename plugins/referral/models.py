"""Referral tables: each member's code, the clicks and scans of share links,
the referrals themselves, and bulk QR exports."""
from __future__ import annotations

import sqlalchemy as sa

from core.database import UTCDateTime, utcnow
from core.extensions import db

STATUSES = ("pending", "held", "rewarded", "rejected", "reversed")
COUNTED = ("pending", "held", "rewarded", "reversed")  # every referral that was not refused
QUALIFIED = ("held", "rewarded")
CLICK_SOURCES = ("link", "qr")
EXPORT_STATUSES = ("queued", "running", "done", "failed")


class ReferralCode(db.Model):
    """A member's one share code (created the first time it is needed)."""

    __tablename__ = "referral_codes"

    id = sa.Column(sa.Integer, primary_key=True)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False, unique=True)
    code = sa.Column(sa.String(16), nullable=False, unique=True)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


class ReferralClick(db.Model):
    """One visit of a share link: followed as a link or scanned from its QR code.

    The client's address is kept only as a keyed hash, enough to count distinct
    visitors without being able to tell who they were.
    """

    __tablename__ = "referral_clicks"
    __table_args__ = (sa.Index("ix_referral_clicks_referrer_created", "referrer_id", "created_at"),)

    id = sa.Column(sa.Integer, primary_key=True)
    referrer_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False)
    source = sa.Column(sa.String(8), nullable=False, default="link")
    user_agent = sa.Column(sa.String(300), nullable=False, default="")
    client_hash = sa.Column(sa.String(64), nullable=False, default="")
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow, index=True)


class Referral(db.Model):
    """A friend who joined through a member's code, from sign-up to reward.

    ``pending`` (joined, not yet qualified) → ``held`` (qualified; rewards booked
    as pending points until ``hold_until``) → ``rewarded``. ``rejected`` never
    moved value; ``reversed`` had its held (or, with clawback, released) rewards
    taken back. ``reason`` says why a referral was rejected or reversed.
    """

    __tablename__ = "referral_referrals"
    __table_args__ = (
        sa.Index("ix_referral_referrals_referrer_created", "referrer_id", "created_at"),
        sa.Index("ix_referral_referrals_status_hold", "status", "hold_until"),
        sa.Index("ix_referral_referrals_referrer_id", "referrer_id", "id"),  # a referrer's list, newest first
        # The rollup finds a referrer's earliest standing referral of a day along this one.
        sa.Index("ix_referral_referrals_referrer_qualified", "referrer_id", "qualified_at"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    referrer_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False)
    # One referral per referee, ever: the unique index is what makes "already referred" hold under races.
    referee_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False, unique=True)
    code = sa.Column(sa.String(16), nullable=False)
    channel = sa.Column(sa.String(20), nullable=False, default="")
    status = sa.Column(sa.String(10), nullable=False, default="pending")
    reason = sa.Column(sa.String(40))
    device_id = sa.Column(sa.String(128), index=True)
    phone = sa.Column(sa.String(32), index=True)
    qualifying_order = sa.Column(sa.String(100), index=True)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    qualified_at = sa.Column(UTCDateTime, index=True)
    hold_until = sa.Column(UTCDateTime)
    rewarded_at = sa.Column(UTCDateTime)
    reversed_at = sa.Column(UTCDateTime)


class ReferralQrExport(db.Model):
    """A bulk export of QR images (a ZIP for posters), produced by a job."""

    __tablename__ = "referral_qr_exports"

    id = sa.Column(sa.Integer, primary_key=True)
    member_ids = sa.Column(sa.JSON)  # None: every member
    image_format = sa.Column(sa.String(8), nullable=False, default="png")
    status = sa.Column(sa.String(10), nullable=False, default="queued")
    total = sa.Column(sa.Integer, nullable=False, default=0)
    done = sa.Column(sa.Integer, nullable=False, default=0)
    # The checkpoint of a running export: its finished segment files, the last member in them,
    # and how many members they hold. A restarted run continues from here.
    segments = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    resume_after = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    done_before = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    filename = sa.Column(sa.String(200))
    error = sa.Column(sa.String(300))
    requested_by = sa.Column(sa.String(60), nullable=False, default="")
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    finished_at = sa.Column(UTCDateTime)


class ReferralDaily(db.Model):
    """One referrer's count of one metric on one brand-local day (kept by ``plugins.referral.rollup``)."""

    __tablename__ = "referral_daily"
    # The leaderboard of a period reads one metric from a day on, for every referrer.
    __table_args__ = (sa.Index("ix_referral_daily_metric_day", "metric", "day", "referrer_id"),)

    referrer_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), primary_key=True)
    day = sa.Column(sa.Date, primary_key=True)
    metric = sa.Column(sa.String(60), primary_key=True)
    count = sa.Column(sa.BigInteger, nullable=False, default=0)
    first_at = sa.Column(UTCDateTime)  # "standing": when the day's earliest standing referral qualified


class ReferralDailyTotal(db.Model):
    """The whole programme's count of one metric on one day, in a few shards (see the rollup)."""

    __tablename__ = "referral_daily_totals"

    day = sa.Column(sa.Date, primary_key=True)
    metric = sa.Column(sa.String(60), primary_key=True)
    shard = sa.Column(sa.SmallInteger, primary_key=True)
    count = sa.Column(sa.BigInteger, nullable=False, default=0)
