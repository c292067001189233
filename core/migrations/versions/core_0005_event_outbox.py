"""The event outbox: events written with the change they describe, and their delivery per plugin

Revision ID: core_0005
Revises: core_0004
Create Date: 2026-11-29 10:10:00
"""
import sqlalchemy as sa
from alembic import op

import core.database

revision = 'core_0005'
down_revision = 'core_0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_until', core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_attempt_at', core.database.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', core.database.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_at', core.database.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'done')", name=op.f('ck_events_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events'))
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_events_created_at'), ['created_at'], unique=False)
        batch_op.create_index('ix_events_member_status', ['member_id', 'status', 'id'], unique=False)
        batch_op.create_index('ix_events_pending', ['status', 'id'], unique=False)

    op.create_table('event_deliveries',
    sa.Column('event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('plugin_id', sa.String(length=64), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.String(length=300), nullable=True),
    sa.Column('updated_at', core.database.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('delivered', 'skipped', 'failed')", name=op.f('ck_event_deliveries_status')),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_event_deliveries_event_id_events'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('event_id', 'plugin_id', name=op.f('pk_event_deliveries'))
    )


def downgrade():
    op.drop_table('event_deliveries')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_pending')
        batch_op.drop_index('ix_events_member_status')
        batch_op.drop_index(batch_op.f('ix_events_created_at'))
    op.drop_table('events')
