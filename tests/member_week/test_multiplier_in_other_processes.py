"""The running weeks are kept in each web process (an order outside a week asks the database
nothing about weeks); a week made or cancelled through one process reaches the others."""
import time

import pytest

from core.testing import LiveServer
from week_helpers import order, running_window


@pytest.fixture
def other_process(memberday_app):
    # The safety-net check is an hour away: only the pushed notice can tell these workers.
    server = LiveServer(memberday_app, extra_env={"MEMBERDAY_PLUGIN_STATE_CHECK_SECONDS": "3600"})
    yield server
    server.stop()


def test_a_week_made_and_cancelled_in_one_process_changes_what_orders_earn_in_another(
        other_process, memberday_client, operator_token, admin, new_member, new_week, tick):
    member = new_member()
    reported = iter(range(1, 1000))

    def earned_there() -> int:
        status, body = other_process.call("POST", "/api/v1/orders", {
            "external_id": f"OTHER-{next(reported)}", "member_id": member["id"], "amount": "10.00"},
            token=operator_token)
        assert status == 201, body
        return body["points_earned"]

    def settles_on(points: int) -> bool:
        """Within five seconds every order reported there earns ``points`` (either gunicorn worker)."""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if all(earned_there() == points for _ in range(6)):
                return True
            time.sleep(0.1)
        return False

    # Both workers there learn that no week multiplies anything.
    assert [earned_there() for _ in range(6)] == [10] * 6

    starts, ends = running_window()
    week = new_week(starts_at=starts, ends_at=ends, points_multiplier="3", holdout_percent=0)
    tick()
    assert order(memberday_client, admin, "HERE-1", member["id"], "10.00")["points_earned"] == 30
    assert settles_on(30)

    assert memberday_client.post(f"/api/v1/member-weeks/{week['id']}/cancel", headers=admin).status_code == 200
    assert settles_on(10)

    # Every order booked exactly what it earned: the balance is the sum of the answers.
    balance = memberday_client.get(f"/api/v1/members/{member['id']}/points", headers=admin).get_json()["balance"]
    status, body = other_process.call("GET", f"/api/v1/members/{member['id']}/points?per_page=100",
                                      token=operator_token)
    assert status == 200 and body["balance"] == balance
    assert balance == sum(entry["points"] for entry in body["items"])


def test_an_order_outside_any_week_asks_nothing_of_the_weeks(memberday_app, memberday_client, admin, new_member,
                                                             new_week):
    from sqlalchemy import event

    from core.extensions import db

    member = new_member()
    new_week(starts_at="2031-03-10", ends_at="2031-03-16", points_multiplier="2")  # far ahead: not now
    assert order(memberday_client, admin, "WARM-1", member["id"], "10.00")["points_earned"] == 10

    sent = []
    with memberday_app.app_context():
        engine = db.engine

    def record(conn, cursor, statement, *args):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        assert order(memberday_client, admin, "QUIET-1", member["id"], "10.00")["points_earned"] == 10
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert sent, "the order was booked"
    assert not [s for s in sent if "member_week" in s], sent
