"""Tokens that can be revoked, rotated and expire; operators' console passwords

Revision ID: core_0007
Revises: core_0006
Create Date: 2026-11-29 10:20:00
"""
from alembic import op
import sqlalchemy as sa

import core.database


revision = 'core_0007'
down_revision = 'core_0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.alter_column('token_hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.add_column(sa.Column('token_expires_at', core.database.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('password_hash', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('revoked_at', core.database.UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('token_expires_at', core.database.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('members', schema=None) as batch_op:
        batch_op.drop_column('token_expires_at')
    op.execute("DELETE FROM operators WHERE token_hash IS NULL")
    with op.batch_alter_table('operators', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
        batch_op.drop_column('password_hash')
        batch_op.drop_column('token_expires_at')
        batch_op.alter_column('token_hash', existing_type=sa.String(length=64), nullable=False)
