"""Server-side sign-in sessions for members and operators

Revision ID: core_0003
Revises: core_0002
Create Date: 2026-11-29 10:00:00
"""
from alembic import op
import sqlalchemy as sa

import core.database


revision = 'core_0003'
down_revision = 'core_0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'sign_in_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=10), nullable=False),
        sa.Column('subject_id', sa.Integer(), nullable=False),
        sa.Column('id_hash', sa.String(length=64), nullable=False),
        sa.Column('created_at', core.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', core.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column('ended_at', core.database.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('member', 'operator')", name=op.f('ck_sign_in_sessions_kind_known')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_sessions')),
        sa.UniqueConstraint('id_hash', name=op.f('uq_sign_in_sessions_id_hash')),
    )
    op.create_index('ix_sign_in_sessions_subject', 'sign_in_sessions', ['kind', 'subject_id'], unique=False)


def downgrade():
    op.drop_index('ix_sign_in_sessions_subject', table_name='sign_in_sessions')
    op.drop_table('sign_in_sessions')
