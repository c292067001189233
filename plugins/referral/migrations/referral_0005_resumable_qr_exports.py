"""QR exports keep a checkpoint (finished segments, the last member in them) so a restarted job continues

Revision ID: referral_0005
Revises: referral_0004
Create Date: 2026-11-29 13:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = 'referral_0005'
down_revision = 'referral_0004'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('referral_qr_exports') as batch:
        batch.add_column(sa.Column('segments', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('resume_after', sa.Integer(), nullable=False, server_default='0'))
        batch.add_column(sa.Column('done_before', sa.Integer(), nullable=False, server_default='0'))


def downgrade():
    with op.batch_alter_table('referral_qr_exports') as batch:
        batch.drop_column('done_before')
        batch.drop_column('resume_after')
        batch.drop_column('segments')
