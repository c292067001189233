"""Member search by name fragment through trigrams; indexes in the order each list pages

Revision ID: core_0006
Revises: core_0005
Create Date: 2026-11-29 10:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0006'
down_revision = 'core_0005'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        # pg_trgm is a trusted extension (PostgreSQL 13+): the database owner may create it.
        op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
        op.execute('CREATE INDEX ix_members_name_trgm ON members USING gin (name gin_trgm_ops)')
    # A member's ledger, coupons and inbox page newest first: (member_id, id) serves both the
    # filter and the order, where an index on member_id alone sorts all of the member's rows.
    with op.batch_alter_table('points_entries') as batch_op:
        batch_op.drop_index('ix_points_entries_member_id')
        batch_op.create_index('ix_points_entries_member_id', ['member_id', 'id'])
    with op.batch_alter_table('coupons') as batch_op:
        batch_op.drop_index('ix_coupons_member_id')
        batch_op.create_index('ix_coupons_member_id', ['member_id', 'id'])
    with op.batch_alter_table('notifications') as batch_op:
        batch_op.drop_index('ix_notifications_member_id')
        batch_op.create_index('ix_notifications_member_id', ['member_id', 'id'])
        batch_op.create_index('ix_notifications_operators', ['id'], postgresql_where=sa.text("audience = 'operators'"),
                              sqlite_where=sa.text("audience = 'operators'"))


def downgrade():
    with op.batch_alter_table('notifications') as batch_op:
        batch_op.drop_index('ix_notifications_operators')
        batch_op.drop_index('ix_notifications_member_id')
        batch_op.create_index('ix_notifications_member_id', ['member_id'])
    with op.batch_alter_table('coupons') as batch_op:
        batch_op.drop_index('ix_coupons_member_id')
        batch_op.create_index('ix_coupons_member_id', ['member_id'])
    with op.batch_alter_table('points_entries') as batch_op:
        batch_op.drop_index('ix_points_entries_member_id')
        batch_op.create_index('ix_points_entries_member_id', ['member_id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX ix_members_name_trgm')
