"""The points ledger (entries, lots, allocations) and coupons.

Every credit is a ``PointsLot`` with what remains of it and when it expires. A
spend draws from lots soonest-expiry-first and records an ``PointsAllocation``
per lot, so reversing the spend gives back exactly those points. Each
``PointsEntry`` is one booked effect with a unique ``source``; its ``points`` is
the change to the spendable balance and ``pending_points`` the change to the
held balance, so the member row always equals the sum of the entries.
"""
import sqlalchemy as sa

from core.database import ClosedSet, UTCDateTime, one_of, utcnow
from core.extensions import db

class Channel(ClosedSet):
    """Where a coupon may be used; a redemption records ``online`` or ``offline``."""

    ONLINE = "online"
    OFFLINE = "offline"
    ANY = "any"


CHANNELS = tuple(Channel.values())


class LotStatus(ClosedSet):
    PENDING = "pending"    # held: not spendable yet
    ACTIVE = "active"
    EXPIRED = "expired"
    REVERSED = "reversed"


class EntryKind(ClosedSet):
    CREDIT = "credit"
    HOLD = "hold"
    RELEASE = "release"
    DEBIT = "debit"
    REVERSAL = "reversal"
    EXPIRY = "expiry"


class CouponStatus(ClosedSet):
    ISSUED = "issued"
    REDEEMED = "redeemed"
    EXPIRED = "expired"
    VOID = "void"


class PointsLot(db.Model):
    __tablename__ = "points_lots"
    __table_args__ = (
        sa.CheckConstraint("remaining >= 0", name="remaining_not_negative"),
        sa.CheckConstraint("remaining <= points", name="remaining_within_points"),
        one_of("status", LotStatus),
        # A member's lots that can still be spent or expire (the lots a spend or the expiry job reads by
        # member); an expired or reversed lot leaves it, so expiring a lot writes one index entry fewer.
        sa.Index("ix_points_lots_spendable", "member_id", "expires_at",
                 postgresql_where=sa.text("status = 'active'"), sqlite_where=sa.text("status = 'active'")),
        # The expiry job walks only due lots, in expiry order, from where its last batch ended.
        sa.Index("ix_points_lots_status_expires", "status", "expires_at", "id"),
        # A spend reads a member's spendable lots in spending order and stops when it has enough.
        sa.Index("ix_points_lots_spending_order", "member_id", "expires_at", "id",
                 postgresql_where=sa.text("status = 'active' AND remaining > 0"),
                 sqlite_where=sa.text("status = 'active' AND remaining > 0")),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False)
    source = sa.Column(sa.String(160), nullable=False, unique=True)
    points = sa.Column(sa.BigInteger, nullable=False)
    remaining = sa.Column(sa.BigInteger, nullable=False)
    status = sa.Column(sa.String(10), nullable=False)
    expires_at = sa.Column(UTCDateTime)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


class PointsEntry(db.Model):
    __tablename__ = "points_entries"
    # A member's history pages newest first: the index serves the filter and the order.
    __table_args__ = (sa.Index("ix_points_entries_member_id", "member_id", "id"), one_of("kind", EntryKind))

    id = sa.Column(sa.Integer, primary_key=True)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False)
    kind = sa.Column(sa.String(10), nullable=False)
    points = sa.Column(sa.BigInteger, nullable=False, default=0)
    pending_points = sa.Column(sa.BigInteger, nullable=False, default=0)
    reason = sa.Column(sa.String(200), nullable=False)
    source = sa.Column(sa.String(180), nullable=False, unique=True)
    lot_id = sa.Column(sa.Integer, sa.ForeignKey("points_lots.id"))
    expires_at = sa.Column(UTCDateTime)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


class PointsAllocation(db.Model):
    __tablename__ = "points_allocations"

    id = sa.Column(sa.Integer, primary_key=True)
    entry_id = sa.Column(sa.Integer, sa.ForeignKey("points_entries.id"), nullable=False, index=True)
    lot_id = sa.Column(sa.Integer, sa.ForeignKey("points_lots.id"), nullable=False, index=True)
    points = sa.Column(sa.BigInteger, nullable=False)


class CouponTemplate(db.Model):
    __tablename__ = "coupon_templates"
    __table_args__ = (one_of("channel", Channel),)

    id = sa.Column(sa.Integer, primary_key=True)
    title = sa.Column(sa.String(120), nullable=False)
    description = sa.Column(sa.String(500), nullable=False, default="")
    value = sa.Column(sa.Numeric(12, 2), nullable=False, default=0)
    channel = sa.Column(sa.String(10), nullable=False, default="any")
    valid_days = sa.Column(sa.Integer)
    valid_until = sa.Column(UTCDateTime)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


class Coupon(db.Model):
    __tablename__ = "coupons"
    __table_args__ = (sa.Index("ix_coupons_member_id", "member_id", "id"), one_of("status", CouponStatus),
                      one_of("redeemed_channel", Channel),
                      # The expiry job's one UPDATE finds the issued coupons past their date along this.
                      sa.Index("ix_coupons_status_expires", "status", "expires_at"))

    id = sa.Column(sa.Integer, primary_key=True)
    code = sa.Column(sa.String(32), nullable=False, unique=True)
    template_id = sa.Column(sa.Integer, sa.ForeignKey("coupon_templates.id"), nullable=False)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False)
    status = sa.Column(sa.String(10), nullable=False, default="issued")
    source = sa.Column(sa.String(160), unique=True)
    issued_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = sa.Column(UTCDateTime)
    redeemed_at = sa.Column(UTCDateTime)
    redeemed_by = sa.Column(sa.String(60))
    redeemed_channel = sa.Column(sa.String(10))

    template = db.relationship(CouponTemplate, lazy="selectin")
