"""The mall's catalogue, its pools of third-party voucher codes, and redemptions.

An item's ``stock`` (None: unlimited) and ``codes_left`` (for an item with a
voucher pool) are counters taken with one conditional UPDATE per redemption,
so the item row is the single place where a scarce item is rationed. The code
rows themselves say which code went to which redemption; a code is handed out
once and a voided code stays void.
"""
import sqlalchemy as sa

from core.database import UTCDateTime, utcnow
from core.extensions import db
from plugins.points_mall import PLUGIN

REDEMPTION_STATUSES = ("completed", "cancelled")
CODE_STATUSES = ("available", "assigned", "void")


class MallItem(db.Model):
    __tablename__ = PLUGIN.table("items")
    __table_args__ = (
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("codes_left >= 0", name="codes_left_not_negative"),
        sa.CheckConstraint("points_cost > 0", name="points_cost_positive"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(120), nullable=False)
    description = sa.Column(sa.String(2000), nullable=False, default="")
    image_url = sa.Column(sa.String(500))
    points_cost = sa.Column(sa.BigInteger, nullable=False)
    stock = sa.Column(sa.Integer)
    per_member_limit = sa.Column(sa.Integer)
    min_tier = sa.Column(sa.String(20))
    starts_at = sa.Column(UTCDateTime)
    ends_at = sa.Column(UTCDateTime)
    exclusive = sa.Column(sa.Boolean, nullable=False, default=False)
    active = sa.Column(sa.Boolean, nullable=False, default=True)
    voucher_pool = sa.Column(sa.Boolean, nullable=False, default=False)
    codes_left = sa.Column(sa.Integer, nullable=False, default=0)
    sold = sa.Column(sa.Integer, nullable=False, default=0)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)

    @property
    def available(self) -> int | None:
        """Units that can still be taken; None when nothing bounds it."""
        bounds = [value for value in (self.stock, self.codes_left if self.voucher_pool else None)
                  if value is not None]
        return min(bounds) if bounds else None


class VoucherCode(db.Model):
    __tablename__ = PLUGIN.table("codes")
    __table_args__ = (sa.Index("ix_points_mall_codes_next", "item_id", "status", "id"),)

    id = sa.Column(sa.Integer, primary_key=True)
    item_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("items") + ".id"), nullable=False)
    # Unique across every pool: the same third-party code must never reach two members.
    code = sa.Column(sa.String(100), nullable=False, unique=True)
    status = sa.Column(sa.String(10), nullable=False, default="available")
    redemption_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("redemptions") + ".id"), index=True)
    imported_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    assigned_at = sa.Column(UTCDateTime)
    voided_at = sa.Column(UTCDateTime)


class Redemption(db.Model):
    __tablename__ = PLUGIN.table("redemptions")
    __table_args__ = (sa.Index("ix_points_mall_redemptions_member_item", "member_id", "item_id", "status"),
                      # A member's redemptions page newest first along this one.
                      sa.Index("ix_points_mall_redemptions_member_id", "member_id", "id"))

    id = sa.Column(sa.Integer, primary_key=True)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False)
    item_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("items") + ".id"), nullable=False, index=True)
    quantity = sa.Column(sa.Integer, nullable=False)
    unit_cost = sa.Column(sa.BigInteger, nullable=False)
    points_spent = sa.Column(sa.BigInteger, nullable=False)
    offer_label = sa.Column(sa.String(120))
    status = sa.Column(sa.String(10), nullable=False, default="completed")
    created_by = sa.Column(sa.String(60))
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    cancelled_at = sa.Column(UTCDateTime)
    cancelled_by = sa.Column(sa.String(60))

    item = db.relationship(MallItem, lazy="joined")
    codes = db.relationship(VoucherCode, order_by=VoucherCode.id, lazy="selectin",
                            primaryjoin="VoucherCode.redemption_id == Redemption.id", viewonly=True)

    @property
    def ledger_source(self) -> str:
        return PLUGIN.source("redemption", self.id)
