"""member locale: the language a member chose for pages, replies and notifications

Revision ID: core_0010
Revises: core_0009
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0010'
down_revision = 'core_0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("members") as batch:
        batch.add_column(sa.Column("locale", sa.String(16), nullable=True))


def downgrade():
    with op.batch_alter_table("members") as batch:
        batch.drop_column("locale")
