"""member week tables

Revision ID: member_week_0001
Revises:
Create Date: 2026-11-29 10:00:00
"""
from alembic import op
import sqlalchemy as sa

import core.database

revision = "member_week_0001"
down_revision = None
branch_labels = ("member_week",)
depends_on = "core_0001"


def upgrade():
    op.create_table(
        "member_week_promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("starts_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_member_week_promotions_ends_after_start")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_week_promotions")),
    )
    op.create_index(op.f("ix_member_week_promotions_starts_at"), "member_week_promotions", ["starts_at"])
    op.create_table(
        "member_week_weeks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("starts_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("announce_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("points_multiplier", sa.Numeric(4, 2), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("for_everyone", sa.Boolean(), nullable=False),
        sa.Column("holdout_percent", sa.Integer(), nullable=False),
        sa.Column("holdout_seed", sa.String(length=32), nullable=False),
        sa.Column("keyword", sa.String(length=40), nullable=True),
        sa.Column("promotion_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("snapshot_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("audience_size", sa.Integer(), nullable=True),
        sa.Column("held_out_count", sa.Integer(), nullable=True),
        sa.Column("notified_count", sa.Integer(), nullable=False),
        sa.Column("announced_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_count", sa.Integer(), nullable=False),
        sa.Column("reminded_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('scheduled', 'announced', 'running', 'ended', 'cancelled')",
                           name=op.f("ck_member_week_weeks_status_known")),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_member_week_weeks_ends_after_start")),
        sa.CheckConstraint("announce_at <= starts_at", name=op.f("ck_member_week_weeks_announced_before_start")),
        sa.CheckConstraint("points_multiplier >= 1 AND points_multiplier <= 10",
                           name=op.f("ck_member_week_weeks_multiplier_range")),
        sa.CheckConstraint("holdout_percent >= 0 AND holdout_percent <= 50",
                           name=op.f("ck_member_week_weeks_holdout_range")),
        sa.ForeignKeyConstraint(["promotion_id"], ["member_week_promotions.id"],
                                name=op.f("fk_member_week_weeks_promotion_id_member_week_promotions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_week_weeks")),
    )
    op.create_index(op.f("ix_member_week_weeks_announce_at"), "member_week_weeks", ["announce_at"])
    op.create_index("ix_member_week_weeks_window", "member_week_weeks", ["starts_at", "ends_at"])
    if op.get_bind().dialect.name == "postgresql":
        # The last line against two overlapping weeks, whatever the application does.
        op.execute("ALTER TABLE member_week_weeks ADD CONSTRAINT no_overlapping_weeks "
                   "EXCLUDE USING gist (tstzrange(starts_at, ends_at) WITH &&) WHERE (status <> 'cancelled')")
    op.create_table(
        "member_week_benefits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("coupon_template_id", sa.Integer(), nullable=True),
        sa.Column("stock", sa.Integer(), nullable=True),
        sa.Column("claimed", sa.Integer(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=True),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("points_cost", sa.BigInteger(), nullable=True),
        sa.CheckConstraint("kind IN ('coupon', 'points', 'mall_item')", name=op.f("ck_member_week_benefits_kind_known")),
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name=op.f("ck_member_week_benefits_stock_not_negative")),
        sa.CheckConstraint("kind <> 'coupon' OR coupon_template_id IS NOT NULL",
                           name=op.f("ck_member_week_benefits_coupon_has_template")),
        sa.CheckConstraint("kind <> 'points' OR points > 0", name=op.f("ck_member_week_benefits_points_positive")),
        sa.CheckConstraint("kind <> 'mall_item' OR (item_id IS NOT NULL AND points_cost > 0)",
                           name=op.f("ck_member_week_benefits_mall_item_priced")),
        sa.ForeignKeyConstraint(["week_id"], ["member_week_weeks.id"], ondelete="CASCADE",
                                name=op.f("fk_member_week_benefits_week_id_member_week_weeks")),
        sa.ForeignKeyConstraint(["coupon_template_id"], ["coupon_templates.id"],
                                name=op.f("fk_member_week_benefits_coupon_template_id_coupon_templates")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_week_benefits")),
    )
    op.create_index(op.f("ix_member_week_benefits_week_id"), "member_week_benefits", ["week_id"])
    op.create_table(
        "member_week_audience",
        sa.Column("week_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=10), nullable=False),
        sa.Column("held_out", sa.Boolean(), nullable=False),
        sa.Column("notified_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["week_id"], ["member_week_weeks.id"], ondelete="CASCADE",
                                name=op.f("fk_member_week_audience_week_id_member_week_weeks")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_member_week_audience_member_id_members")),
        sa.PrimaryKeyConstraint("week_id", "member_id", name=op.f("pk_member_week_audience")),
    )
    op.create_index("ix_member_week_audience_member", "member_week_audience", ["member_id"])
    op.create_index("ix_member_week_audience_to_notify", "member_week_audience",
                    ["week_id", "held_out", "notified_at", "member_id"])
    op.create_table(
        "member_week_claims",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week_id", sa.Integer(), nullable=False),
        sa.Column("benefit_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("coupon_id", sa.Integer(), nullable=True),
        sa.Column("points", sa.BigInteger(), nullable=True),
        sa.Column("created_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["week_id"], ["member_week_weeks.id"], ondelete="CASCADE",
                                name=op.f("fk_member_week_claims_week_id_member_week_weeks")),
        sa.ForeignKeyConstraint(["benefit_id"], ["member_week_benefits.id"], ondelete="CASCADE",
                                name=op.f("fk_member_week_claims_benefit_id_member_week_benefits")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"], name=op.f("fk_member_week_claims_member_id_members")),
        sa.ForeignKeyConstraint(["coupon_id"], ["coupons.id"], name=op.f("fk_member_week_claims_coupon_id_coupons")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_member_week_claims")),
        sa.UniqueConstraint("benefit_id", "member_id", name="one_claim_per_member"),
    )
    op.create_index(op.f("ix_member_week_claims_week_id"), "member_week_claims", ["week_id"])
    op.create_index(op.f("ix_member_week_claims_member_id"), "member_week_claims", ["member_id"])
    op.create_table(
        "member_week_engagements",
        sa.Column("week_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("first_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('claim', 'mall_redemption', 'keyword', 'page_visit')",
                           name=op.f("ck_member_week_engagements_kind_known")),
        sa.ForeignKeyConstraint(["week_id"], ["member_week_weeks.id"], ondelete="CASCADE",
                                name=op.f("fk_member_week_engagements_week_id_member_week_weeks")),
        sa.ForeignKeyConstraint(["member_id"], ["members.id"],
                                name=op.f("fk_member_week_engagements_member_id_members")),
        sa.PrimaryKeyConstraint("week_id", "member_id", "kind", name=op.f("pk_member_week_engagements")),
    )
    op.create_table(
        "member_week_reports",
        sa.Column("week_id", sa.Integer(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("computed_at", core.database.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["week_id"], ["member_week_weeks.id"], ondelete="CASCADE",
                                name=op.f("fk_member_week_reports_week_id_member_week_weeks")),
        sa.PrimaryKeyConstraint("week_id", name=op.f("pk_member_week_reports")),
    )


def downgrade():
    for table in ("member_week_reports", "member_week_engagements", "member_week_claims", "member_week_audience",
                  "member_week_benefits", "member_week_weeks", "member_week_promotions"):
        op.drop_table(table)
