"""Normalise members' phones to E.164 and e-mails to case-folded, IDNA form

Revision ID: core_0008
Revises: core_0007
Create Date: 2026-11-29 10:40:00

Rows whose normalised phone or e-mail another member already holds are left as
they are and listed in the migration's output: two accounts of one person, for
an operator to merge by hand.
"""
from alembic import op
import sqlalchemy as sa

revision = 'core_0008'
down_revision = 'core_0007'
branch_labels = None
depends_on = None


def upgrade():
    from core.members import identity

    region = identity.configured_region()
    conn = op.get_bind()
    members = sa.table('members', sa.column('id', sa.Integer), sa.column('phone', sa.String),
                       sa.column('email', sa.String))
    rows = conn.execute(sa.select(members.c.id, members.c.phone, members.c.email).order_by(members.c.id)).all()
    taken = {"phone": {row.phone: row.id for row in rows if row.phone},
             "email": {row.email: row.id for row in rows if row.email}}
    for row in rows:
        for column, normalise in (("phone", lambda v: identity.normalise_phone(v, region)),
                                  ("email", identity.normalise_email)):
            value = getattr(row, column)
            if not value:
                continue
            try:
                normal = normalise(value)
            except identity.IdentityError:
                continue  # unreadable: kept as it was
            if normal == value:
                continue
            holder = taken[column].get(normal)
            if holder is not None and holder != row.id:
                print(f"members {row.id} and {holder} share the {column} {normal}: left as it was")
                continue
            conn.execute(members.update().where(members.c.id == row.id).values({column: normal}))
            taken[column].pop(value, None)
            taken[column][normal] = row.id


def downgrade():
    pass  # the spellings people typed are not kept
