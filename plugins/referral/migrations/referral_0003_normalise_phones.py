"""Referrals keep the referee's phone in E.164, as members now do

Revision ID: referral_0003
Revises: referral_0002
Create Date: 2026-11-29 10:50:00

The duplicate-phone check compares a new referee's phone (stored in E.164 since
core_0008) with earlier referrals' phones: written the same way, one person's
second account is found whatever spelling either was typed in.
"""
from alembic import op
import sqlalchemy as sa

revision = 'referral_0003'
down_revision = 'referral_0002'
branch_labels = None
depends_on = 'core_0008'


def upgrade():
    from core.members import identity

    region = identity.configured_region()
    conn = op.get_bind()
    referrals = sa.table('referral_referrals', sa.column('id', sa.Integer), sa.column('phone', sa.String))
    for row_id, phone in conn.execute(sa.select(referrals.c.id, referrals.c.phone)
                                      .where(referrals.c.phone.is_not(None))).all():
        try:
            normal = identity.normalise_phone(phone, region)
        except identity.IdentityError:
            continue
        if normal != phone:
            conn.execute(referrals.update().where(referrals.c.id == row_id).values(phone=normal))


def downgrade():
    pass  # the spellings people typed are not kept
