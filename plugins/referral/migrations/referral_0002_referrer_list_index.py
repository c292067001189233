"""A referrer's referrals page newest first along (referrer_id, id)

Revision ID: referral_0002
Revises: referral_0001
Create Date: 2026-11-29 10:50:00
"""
from alembic import op

revision = 'referral_0002'
down_revision = 'referral_0001'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_referral_referrals_referrer_id', 'referral_referrals', ['referrer_id', 'id'])


def downgrade():
    op.drop_index('ix_referral_referrals_referrer_id', 'referral_referrals')
