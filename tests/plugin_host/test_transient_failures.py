"""A deadlock or serialization failure in a plugin's hook is the database's, not the plugin's:
the call is tried again, and it never counts towards switching the plugin off."""
import threading

from core.plugins import PluginInfo, hookimpl
from core.testing import bearer, run_concurrently

from hostkit import plugin, register


class CrossedLocks:
    """Books a point for a keyword after locking two members, in the order the keyword says.

    ``ab`` locks the first member then the second, ``ba`` the other way round; on their first
    try both wait for each other between the two locks, so PostgreSQL must pick a deadlock victim.
    """

    PLUGIN = PluginInfo(id="crossed_locks", name="Crossed locks")

    def __init__(self, first, second):
        self.orders = {"ab": (first, second), "ba": (second, first)}
        self.tries = {"ab": 0, "ba": 0}
        self.both_hold_one = threading.Barrier(2)

    @hookimpl
    def memberday_keyword_reply(self, text, message_id):
        from core.database import transaction
        from core.rewards.services import credit, lock_member

        if text not in self.orders:
            return None
        first, second = self.orders[text]
        with transaction():
            lock_member(first)
            self.tries[text] += 1
            if self.tries[text] == 1:
                self.both_hold_one.wait(30)
            lock_member(second)
            credit(first, 1, f"keyword {text}", f"crossed_locks:{message_id}")
        return f"booked {text}"


class Busy(Exception):
    sqlstate = "40001"  # serialization_failure, as psycopg reports it


class AlwaysBusy:
    PLUGIN = PluginInfo(id="always_busy", name="Always busy")

    def __init__(self):
        self.calls = 0

    @hookimpl
    def memberday_keyword_reply(self, text):
        self.calls += 1
        raise Busy("could not serialize access due to concurrent update")


def join(client, name):
    response = client.post("/api/v1/members", json={"name": name})
    assert response.status_code == 201
    return response.get_json()["id"]


def test_a_deadlocked_keyword_handler_is_tried_again_and_not_counted(memberday_app, memberday_client,
                                                                     operator_token):
    first, second = join(memberday_client, "First"), join(memberday_client, "Second")
    crossed = CrossedLocks(first, second)
    register(memberday_app, crossed)

    def send(index):
        text = ("ab", "ba")[index]
        return memberday_app.test_client().post(
            "/api/v1/messages", headers=bearer(operator_token),
            json={"channel": "sms", "from": f"sender-{text}", "text": text, "message_id": f"m-{text}"})

    responses = run_concurrently(send, 2)
    assert [r.get_json() for r in responses] == [{"reply": "booked ab"}, {"reply": "booked ba"}]
    assert sorted(crossed.tries.values()) == [1, 2]  # one of them was the deadlock's victim, and tried again
    state = plugin(memberday_client, operator_token, "crossed_locks")
    assert state["enabled"] is True and state["failures_total"] == 0 and state["consecutive_failures"] == 0
    for member_id in (first, second):
        body = memberday_client.get(f"/api/v1/members/{member_id}/points", headers=bearer(operator_token)).get_json()
        assert body["balance"] == 1


def test_a_handler_that_stays_busy_gives_no_answer_and_is_never_switched_off(memberday_app, memberday_client,
                                                                              operator_token, send_message):
    busy = AlwaysBusy()
    register(memberday_app, busy)
    for number in range(4):  # more than PLUGIN_MAX_CONSECUTIVE_FAILURES (3 in the tests)
        assert send_message("hello", message_id=f"m-{number}") is None
    assert busy.calls == 4 * 3  # three tries per message
    state = plugin(memberday_client, operator_token, "always_busy")
    assert state["enabled"] is True and state["failures_total"] == 0
