"""points lots and coupons: indexes for the set-based expiry jobs and for spends that read only the lots they need

Revision ID: core_0012
Revises: core_0011
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0012'
down_revision = 'core_0011'
branch_labels = None
depends_on = None

SPENDABLE = "status = 'active' AND remaining > 0"


def upgrade():
    op.create_index("ix_points_lots_status_expires", "points_lots", ["status", "expires_at", "id"])
    op.create_index("ix_coupons_status_expires", "coupons", ["status", "expires_at"])
    op.create_index("ix_points_lots_spending_order", "points_lots", ["member_id", "expires_at", "id"],
                    postgresql_where=sa.text(SPENDABLE), sqlite_where=sa.text(SPENDABLE))


def downgrade():
    op.drop_index("ix_points_lots_spending_order", table_name="points_lots")
    op.drop_index("ix_points_lots_status_expires", table_name="points_lots")
    op.drop_index("ix_coupons_status_expires", table_name="coupons")
