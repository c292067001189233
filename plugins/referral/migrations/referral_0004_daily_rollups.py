"""Daily rollups of clicks and referrals for the funnel, members' stats and the leaderboard

Revision ID: referral_0004
Revises: referral_0003
Create Date: 2026-11-29 11:00:00
"""
import sqlalchemy as sa
from alembic import op

import core.database

revision = 'referral_0004'
down_revision = 'referral_0003'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'referral_daily',
        sa.Column('referrer_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('metric', sa.String(length=60), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.Column('first_at', core.database.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['referrer_id'], ['members.id'], name=op.f('fk_referral_daily_referrer_id_members')),
        sa.PrimaryKeyConstraint('referrer_id', 'day', 'metric', name=op.f('pk_referral_daily')))
    op.create_index('ix_referral_daily_metric_day', 'referral_daily', ['metric', 'day', 'referrer_id'])
    op.create_table(
        'referral_daily_totals',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('metric', sa.String(length=60), nullable=False),
        sa.Column('shard', sa.SmallInteger(), nullable=False),
        sa.Column('count', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('day', 'metric', 'shard', name=op.f('pk_referral_daily_totals')))
    # The earliest standing referral of a referrer's day is looked up by (referrer_id, qualified_at).
    op.create_index('ix_referral_referrals_referrer_qualified', 'referral_referrals', ['referrer_id', 'qualified_at'])
    # Count what is already there, with the same rule the writes use from now on.
    from plugins.referral import rollup

    rollup.rebuild(op.get_bind())


def downgrade():
    op.drop_index('ix_referral_referrals_referrer_qualified', 'referral_referrals')
    op.drop_table('referral_daily_totals')
    op.drop_index('ix_referral_daily_metric_day', 'referral_daily')
    op.drop_table('referral_daily')
