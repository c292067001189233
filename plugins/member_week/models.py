"""Member weeks, the promotions they are placed around, their benefits, the audience snapshot,
claims, engagement and the stored report.

The snapshot row is where a member's part in a week is decided once: taken at
the announcement, with the member's stage at that moment and whether the seeded
hash holds them out. The multiplier, claims, pages and the report all read it.
Its ``notified_at`` and ``reminded_at`` are what make the announcement and the
reminder resumable: a batch marks its rows in the same transaction that writes
the notifications, so a crash loses both or neither.
"""
import sqlalchemy as sa

from core.database import UTCDateTime, utcnow
from core.extensions import db
from plugins.member_week import PLUGIN

WEEK_STATUSES = ("scheduled", "announced", "running", "ended", "cancelled")
BENEFIT_KINDS = ("coupon", "points", "mall_item")
ENGAGEMENT_KINDS = ("claim", "mall_redemption", "keyword", "page_visit")


def _one_of(column: str, values: tuple) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class Promotion(db.Model):
    """A big promotion on the brand's calendar (a member week is placed around it)."""

    __tablename__ = PLUGIN.table("promotions")
    __table_args__ = (sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),)

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(120), nullable=False)
    starts_at = sa.Column(UTCDateTime, nullable=False, index=True)
    ends_at = sa.Column(UTCDateTime, nullable=False)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


class MemberWeek(db.Model):
    __tablename__ = PLUGIN.table("weeks")
    __table_args__ = (
        sa.CheckConstraint(_one_of("status", WEEK_STATUSES), name="status_known"),
        sa.CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        sa.CheckConstraint("announce_at <= starts_at", name="announced_before_start"),
        sa.CheckConstraint("points_multiplier >= 1 AND points_multiplier <= 10", name="multiplier_range"),
        sa.CheckConstraint("holdout_percent >= 0 AND holdout_percent <= 50", name="holdout_range"),
        sa.Index("ix_member_week_weeks_window", "starts_at", "ends_at"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(120), nullable=False)
    starts_at = sa.Column(UTCDateTime, nullable=False)
    ends_at = sa.Column(UTCDateTime, nullable=False)
    announce_at = sa.Column(UTCDateTime, nullable=False, index=True)
    points_multiplier = sa.Column(sa.Numeric(4, 2), nullable=False, default=1)
    audience = sa.Column(sa.JSON, nullable=False, default=dict)
    for_everyone = sa.Column(sa.Boolean, nullable=False, default=True)  # the audience has no rule at all
    holdout_percent = sa.Column(sa.Integer, nullable=False, default=10)
    # The holdout is a hash of this seed and the member id: reproducible and auditable.
    holdout_seed = sa.Column(sa.String(32), nullable=False)
    keyword = sa.Column(sa.String(40))
    promotion_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("promotions") + ".id"))
    status = sa.Column(sa.String(10), nullable=False, default="scheduled")
    snapshot_at = sa.Column(UTCDateTime)
    audience_size = sa.Column(sa.Integer)
    held_out_count = sa.Column(sa.Integer)
    notified_count = sa.Column(sa.Integer, nullable=False, default=0)
    announced_at = sa.Column(UTCDateTime)       # every participant notified
    reminded_count = sa.Column(sa.Integer, nullable=False, default=0)
    reminded_at = sa.Column(UTCDateTime)        # every participant reminded
    cancelled_at = sa.Column(UTCDateTime)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    updated_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)

    promotion = db.relationship(Promotion, lazy="joined")
    benefits = db.relationship("Benefit", order_by="Benefit.id", lazy="selectin", back_populates="week")

    @property
    def participants_count(self) -> int | None:
        if self.audience_size is None:
            return None
        return self.audience_size - (self.held_out_count or 0)


class Benefit(db.Model):
    """What a week gives: a coupon (optionally from a limited stock), points, or a mall item at a week price."""

    __tablename__ = PLUGIN.table("benefits")
    __table_args__ = (
        sa.CheckConstraint(_one_of("kind", BENEFIT_KINDS), name="kind_known"),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("kind <> 'coupon' OR coupon_template_id IS NOT NULL", name="coupon_has_template"),
        sa.CheckConstraint("kind <> 'points' OR points > 0", name="points_positive"),
        sa.CheckConstraint("kind <> 'mall_item' OR (item_id IS NOT NULL AND points_cost > 0)",
                           name="mall_item_priced"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    week_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("weeks") + ".id", ondelete="CASCADE"), nullable=False,
                        index=True)
    title = sa.Column(sa.String(120), nullable=False)
    kind = sa.Column(sa.String(10), nullable=False)
    coupon_template_id = sa.Column(sa.Integer, sa.ForeignKey("coupon_templates.id"))
    stock = sa.Column(sa.Integer)               # units left; None: unlimited
    claimed = sa.Column(sa.Integer, nullable=False, default=0)
    points = sa.Column(sa.BigInteger)
    item_id = sa.Column(sa.Integer)             # a points mall item (the mall is another plugin)
    points_cost = sa.Column(sa.BigInteger)

    week = db.relationship(MemberWeek, back_populates="benefits")


class AudienceMember(db.Model):
    """One member of a week's audience, frozen at the announcement."""

    __tablename__ = PLUGIN.table("audience")
    __table_args__ = (
        sa.Index("ix_member_week_audience_member", "member_id"),
        sa.Index("ix_member_week_audience_to_notify", "week_id", "held_out", "notified_at", "member_id"),
    )

    week_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("weeks") + ".id", ondelete="CASCADE"), primary_key=True)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), primary_key=True)
    stage = sa.Column(sa.String(10), nullable=False)
    held_out = sa.Column(sa.Boolean, nullable=False)
    notified_at = sa.Column(UTCDateTime)
    reminded_at = sa.Column(UTCDateTime)


class Claim(db.Model):
    __tablename__ = PLUGIN.table("claims")
    __table_args__ = (sa.UniqueConstraint("benefit_id", "member_id", name="one_claim_per_member"),)

    id = sa.Column(sa.Integer, primary_key=True)
    week_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("weeks") + ".id", ondelete="CASCADE"), nullable=False,
                        index=True)
    benefit_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("benefits") + ".id", ondelete="CASCADE"),
                           nullable=False)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True)
    coupon_id = sa.Column(sa.Integer, sa.ForeignKey("coupons.id"))
    points = sa.Column(sa.BigInteger)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)

    benefit = db.relationship(Benefit, lazy="joined")


class Engagement(db.Model):
    """The first time, inside the window, a participant did one kind of thing the week counts."""

    __tablename__ = PLUGIN.table("engagements")
    __table_args__ = (sa.CheckConstraint(_one_of("kind", ENGAGEMENT_KINDS), name="kind_known"),)

    week_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("weeks") + ".id", ondelete="CASCADE"), primary_key=True)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), primary_key=True)
    kind = sa.Column(sa.String(20), primary_key=True)
    first_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


class Report(db.Model):
    """A week's report as last computed (by the periodic job or on an operator's request)."""

    __tablename__ = PLUGIN.table("reports")

    week_id = sa.Column(sa.Integer, sa.ForeignKey(PLUGIN.table("weeks") + ".id", ondelete="CASCADE"), primary_key=True)
    figures = sa.Column(sa.JSON, nullable=False)
    computed_at = sa.Column(UTCDateTime, nullable=False)
