"""A redemption's writes in one round trip on PostgreSQL: points_mall_redeem()

Revision ID: points_mall_0003
Revises: points_mall_0002
Create Date: 2026-11-29 16:00:00

The function books what ``plugins.points_mall.services.redeem`` books through the ORM for an
item without voucher codes -- the redemption, the member's balance, the ledger entry and the
spend from the soonest-expiring lots with an allocation per lot -- once the caller holds the
member's row lock and has checked the rules. It writes nothing and returns no row when the
member has lots due to expire (the caller expires them first, through the ORM path). The
item's stock is not taken here: the caller takes it last, right before the commit. SQLite
has no such function; the ORM path books the same rows there.
"""
from alembic import op

revision = 'points_mall_0003'
down_revision = 'points_mall_0002'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION points_mall_redeem(
    p_member_id integer, p_item_id integer, p_quantity integer, p_unit_cost bigint, p_points bigint,
    p_offer_label varchar, p_created_by varchar, p_now timestamptz, p_reason varchar, p_source_prefix varchar)
RETURNS TABLE (new_redemption_id integer, new_entry_id integer, new_balance bigint)
LANGUAGE plpgsql AS $$
DECLARE
    v_redemption integer;
    v_entry integer;
    v_balance bigint;
    v_needed bigint := p_points;
    v_take bigint;
    v_lot record;
BEGIN
    -- Lots past their date are expired first, by the caller (the ORM path books the expiry).
    IF EXISTS (SELECT 1 FROM points_lots
               WHERE member_id = p_member_id AND status = 'active' AND expires_at <= p_now) THEN
        RETURN;
    END IF;
    INSERT INTO points_mall_redemptions (member_id, item_id, quantity, unit_cost, points_spent, offer_label,
                                         status, created_by, created_at)
    VALUES (p_member_id, p_item_id, p_quantity, p_unit_cost, p_points, p_offer_label,
            'completed', p_created_by, p_now)
    RETURNING id INTO v_redemption;
    -- The caller holds the member's lock and checked the balance; this guard only backs it up.
    UPDATE members SET points_balance = points_balance - p_points
    WHERE id = p_member_id AND points_balance >= p_points
    RETURNING points_balance INTO v_balance;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'member % has fewer than % points', p_member_id, p_points;
    END IF;
    INSERT INTO points_entries (member_id, kind, points, pending_points, reason, source, lot_id, expires_at,
                                created_at)
    VALUES (p_member_id, 'debit', -p_points, 0, left(p_reason, 200), p_source_prefix || v_redemption, NULL, NULL,
            p_now)
    RETURNING id INTO v_entry;
    -- The soonest-expiring spendable lots first (none last), as core.rewards.services.debit spends
    -- them; the loop's cursor reads them a few at a time and stops once the spend is covered.
    FOR v_lot IN SELECT id, remaining FROM points_lots
                 WHERE member_id = p_member_id AND status = 'active' AND remaining > 0
                 ORDER BY expires_at ASC NULLS LAST, id ASC LOOP
        v_take := least(v_lot.remaining, v_needed);
        UPDATE points_lots SET remaining = remaining - v_take WHERE id = v_lot.id;
        INSERT INTO points_allocations (entry_id, lot_id, points) VALUES (v_entry, v_lot.id, v_take);
        v_needed := v_needed - v_take;
        EXIT WHEN v_needed = 0;
    END LOOP;
    IF v_needed > 0 THEN
        RAISE EXCEPTION 'ledger of member % is inconsistent: lots short by %', p_member_id, v_needed;
    END IF;
    RETURN QUERY SELECT v_redemption, v_entry, v_balance;
END;
$$;
"""


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS points_mall_redeem(integer, integer, integer, bigint, bigint, varchar, "
               "varchar, timestamptz, varchar, varchar)")
