"""Room for HOT balance updates; fewer index entries per expired lot; name search across words

Members leave room on each page for balance updates; expired lots leave the per-member index and the
index on expiry alone goes; names are searched with trigrams that span space and hyphen.

Revision ID: core_0015
Revises: core_0012
"""
import sqlalchemy as sa
from alembic import op

revision = 'core_0015'
down_revision = 'core_0012'
branch_labels = None
depends_on = None

ACTIVE = "status = 'active'"


def upgrade():
    if op.get_bind().dialect.name == 'postgresql':
        # Every credit, spend and expiry rewrites the member's row (its balances). With room left on the
        # page the new version stays there and no index is touched (a HOT update); a full page moves it
        # and adds it to all nine of members' indexes, the trigram index among them. Applies to pages
        # written from now on; VACUUM FULL (or pg_repack) applies it to the rows already there.
        op.execute('ALTER TABLE members SET (fillfactor = 90)')
        # Name search across words: trigrams never span a space or hyphen, so a fragment such as
        # "yi-ting chen" found every name holding those words in any order (12,500 at a million
        # members), each read to be rejected. With space and hyphen swapped for the digits 0 and 1 (and
        # those for them: one to one, so no match is lost or added) the trigrams ("g0c") keep the
        # words' order. It serves one-word fragments as the old index did.
        op.execute("CREATE INDEX ix_members_name_words_trgm ON members USING gin "
                   "(translate(name, ' -01', '01 -') gin_trgm_ops)")
        op.execute('DROP INDEX ix_members_name_trgm')
    # Every query of lots by expiry also names the status (the expiry job, the liability figure) or
    # the member: ix_points_lots_status_expires and ix_points_lots_spendable serve them. Every query
    # of a member's lots asks for active ones: expired and reversed lots need not be in that index,
    # and expiring a lot (a new row version) then adds an entry to one index fewer.
    with op.batch_alter_table('points_lots') as batch_op:
        batch_op.drop_index('ix_points_lots_expires_at')
        batch_op.drop_index('ix_points_lots_spendable')
        batch_op.create_index('ix_points_lots_spendable', ['member_id', 'expires_at'], unique=False,
                              postgresql_where=sa.text(ACTIVE), sqlite_where=sa.text(ACTIVE))


def downgrade():
    with op.batch_alter_table('points_lots') as batch_op:
        batch_op.drop_index('ix_points_lots_spendable')
        batch_op.create_index('ix_points_lots_spendable', ['member_id', 'status', 'expires_at'], unique=False)
        batch_op.create_index('ix_points_lots_expires_at', ['expires_at'], unique=False)
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('CREATE INDEX ix_members_name_trgm ON members USING gin (name gin_trgm_ops)')
        op.execute('DROP INDEX ix_members_name_words_trgm')
        op.execute('ALTER TABLE members RESET (fillfactor)')
