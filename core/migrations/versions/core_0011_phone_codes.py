"""one-time sign-in codes sent to members' phones

Revision ID: core_0011
Revises: core_0014
"""
import sqlalchemy as sa
from alembic import op

import core.database

revision = 'core_0011'
down_revision = 'core_0014'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'one_time_codes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('phone', sa.String(length=32), nullable=False),
        sa.Column('code_hash', sa.String(length=64), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', core.database.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint('attempts >= 0', name=op.f('ck_one_time_codes_attempts_not_negative')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_one_time_codes')),
    )
    op.create_index('ix_one_time_codes_phone', 'one_time_codes', ['phone', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_one_time_codes_phone', table_name='one_time_codes')
    op.drop_table('one_time_codes')
