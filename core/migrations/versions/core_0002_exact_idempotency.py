"""Exact idempotency keys: the key's SHA-256, scoped to the caller and the endpoint

Revision ID: core_0002
Revises: core_0001
Create Date: 2026-11-29 09:50:00
"""
import hashlib

import sqlalchemy as sa
from alembic import op

revision = 'core_0002'
down_revision = 'core_0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.add_column(sa.Column('endpoint', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('key_hash', sa.String(length=64), nullable=False, server_default=''))
    # Keys stored before this revision have no endpoint: they match no new request and go with
    # the next purge.
    conn = op.get_bind()
    table = sa.table('idempotency_keys', sa.column('id', sa.Integer), sa.column('key', sa.String),
                     sa.column('key_hash', sa.String))
    for row_id, key in conn.execute(sa.select(table.c.id, table.c.key)).all():
        conn.execute(table.update().where(table.c.id == row_id)
                     .values(key_hash=hashlib.sha256(key.encode()).hexdigest()))
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_constraint('uq_idempotency_keys_scope_key', type_='unique')
        batch_op.drop_column('key')
        batch_op.alter_column('endpoint', server_default=None)
        batch_op.alter_column('key_hash', server_default=None)
        batch_op.create_unique_constraint('uq_idempotency_keys_scope_endpoint_key', ['scope', 'endpoint', 'key_hash'])


def downgrade():
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_constraint('uq_idempotency_keys_scope_endpoint_key', type_='unique')
        batch_op.add_column(sa.Column('key', sa.String(length=200), nullable=False, server_default=''))
    op.execute("UPDATE idempotency_keys SET key = key_hash")
    with op.batch_alter_table('idempotency_keys', schema=None) as batch_op:
        batch_op.drop_column('endpoint')
        batch_op.drop_column('key_hash')
        batch_op.alter_column('key', server_default=None)
        batch_op.create_unique_constraint('uq_idempotency_keys_scope_key', ['scope', 'key'])
