"""keyword claims: one holder per keyword across every plugin and campaign

Revision ID: core_0014
Revises: core_0010
"""
import sqlalchemy as sa
from alembic import op

from core.database import UTCDateTime

revision = 'core_0014'
down_revision = 'core_0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "keyword_claims",
        sa.Column("keyword", sa.String(40), primary_key=True),
        sa.Column("plugin_id", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_keyword_claims_holder", "keyword_claims", ["plugin_id", "owner"])


def downgrade():
    op.drop_index("ix_keyword_claims_holder", table_name="keyword_claims")
    op.drop_table("keyword_claims")
