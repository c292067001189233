"""closed sets: statuses, kinds, roles and channels kept to their values by CHECK constraints

The values are written out here, not imported from the models' enums: a migration
records the schema as it was when it was written.

Revision ID: core_0009
Revises: core_0008
"""
from alembic import op

revision = 'core_0009'
down_revision = 'core_0008'
branch_labels = None
depends_on = None

CLOSED_SETS = [
    ("operators", "role", ("admin", "operator", "staff")),
    ("orders", "status", ("paid", "refunded")),
    ("notifications", "audience", ("member", "operators")),
    ("notifications", "status", ("queued", "sent", "failed")),
    ("points_lots", "status", ("pending", "active", "expired", "reversed")),
    ("points_entries", "kind", ("credit", "hold", "release", "debit", "reversal", "expiry")),
    ("coupon_templates", "channel", ("online", "offline", "any")),
    ("coupons", "status", ("issued", "redeemed", "expired", "void")),
    ("coupons", "redeemed_channel", ("online", "offline", "any")),
    ("plugin_audit", "action", ("enable", "disable", "settings")),
]


def upgrade():
    for table, column, values in CLOSED_SETS:
        allowed = ", ".join(f"'{value}'" for value in values)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_check_constraint(op.f(f"ck_{table}_{column}_known"), f"{column} IN ({allowed})")


def downgrade():
    for table, column, _ in reversed(CLOSED_SETS):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_{column}_known"), type_="check")
