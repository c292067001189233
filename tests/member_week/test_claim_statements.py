"""A claim sends only the statements it needs (counted at the driver, not timed), so a repeated read
or a needless check cannot creep back into the hot path of a voucher pool opening."""
import os
import uuid

from sqlalchemy import event

from week_helpers import claim, running_window

# The member behind the token; the idempotency key; the week, its benefit and the participant;
# then one transaction: the claim row, the coupon's template and the member's lock, the coupon
# (no look for one under the new claim's source), the engagement, the stored answer, and last the
# stock's conditional UPDATE (so the hot benefit row is locked for it and the commit only).
CLAIM = 14  # with the week re-read under a share lock, so a cancel stops claims at once


def test_a_coupon_claim_sends_only_the_statements_it_needs(memberday_app, new_member, new_week, coupon_template,
                                                          tick):
    from core.extensions import db

    first, second = new_member(), new_member()
    starts, ends = running_window()
    week = new_week(starts_at=starts, ends_at=ends, holdout_percent=0, benefits=[
        {"title": "Coffee", "kind": "coupon", "coupon_template_id": coupon_template(), "stock": 100}])
    tick()
    benefit_id = week["benefits"][0]["id"]
    client = memberday_app.test_client()
    assert claim(client, first, week["id"], benefit_id, key=str(uuid.uuid4())).status_code == 201

    with memberday_app.app_context():
        engine = db.engine
    sent = []

    def seen(conn, cursor, statement, *args):
        sent.append(" ".join(statement.split())[:160])

    def committed(conn):
        sent.append("COMMIT")

    event.listen(engine, "before_cursor_execute", seen)
    event.listen(engine, "commit", committed)
    try:
        response = claim(client, second, week["id"], benefit_id, key=str(uuid.uuid4()))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        event.remove(engine, "commit", committed)
    if os.environ.get("MEMBERDAY_SHOW_SQL"):
        print("\n" + "\n".join(sent))
    assert response.status_code == 201, response.get_json()
    statements = [statement for statement in sent if statement != "COMMIT"]
    assert len(statements) <= CLAIM
    # The stock is taken last: after the idempotency key's answer, right before the commit.
    stock = next(i for i, statement in enumerate(sent) if statement.startswith("UPDATE member_week_benefits"))
    answer = next(i for i, statement in enumerate(sent) if statement.startswith("UPDATE idempotency_keys"))
    assert answer < stock and sent[stock + 1] == "COMMIT", sent[answer:]
