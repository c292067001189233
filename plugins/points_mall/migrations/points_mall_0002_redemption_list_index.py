"""A member's redemptions page newest first along (member_id, id)

Revision ID: points_mall_0002
Revises: points_mall_0001
Create Date: 2026-11-29 10:50:00
"""
from alembic import op

revision = 'points_mall_0002'
down_revision = 'points_mall_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_points_mall_redemptions_member_id', 'points_mall_redemptions', ['member_id', 'id'])


def downgrade():
    op.drop_index('ix_points_mall_redemptions_member_id', 'points_mall_redemptions')
