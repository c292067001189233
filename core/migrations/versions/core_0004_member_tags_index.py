"""A GIN index on members' tags, for audiences that target tags on PostgreSQL

Revision ID: core_0004
Revises: core_0003
Create Date: 2026-11-29 09:50:00
"""
from alembic import op

revision = 'core_0004'
down_revision = 'core_0003'
branch_labels = None
depends_on = None


def upgrade():
    # The expression must read exactly as core.members.audience writes it, CAST(tags AS JSONB),
    # for @> (all of) and ?| (any of, none of) to use the index. SQLite reads tags with json_each.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE INDEX ix_members_tags ON members USING gin ((CAST(tags AS JSONB)))')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP INDEX ix_members_tags')
