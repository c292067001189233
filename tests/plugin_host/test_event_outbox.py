"""Events reach plugins through the outbox: at least once, in order per member, skipped while off,
retried after an error, taken over by the relay after a crash; a plugin never rolls back its caller."""
from datetime import timedelta

from sqlalchemy import func, select

from core.database import on_commit, transaction, utcnow
from core.extensions import db
from core.plugins import PluginInfo, hookimpl
from core.testing import bearer

from hostkit import patch_plugin, register, report_order


class Flaky:
    """Books a bonus for each paid order, then raises the first ``failures`` times it is called."""

    PLUGIN = PluginInfo(id="flaky", name="Flaky")

    def __init__(self, failures=1):
        self.failures = failures
        self.seen = []

    @hookimpl
    def memberday_order_paid(self, order, member, event_id):
        from core.rewards.services import credit

        self.seen.append((order.external_id, event_id))
        credit(member.id, 5, "Bonus", f"flaky:{order.external_id}")
        if len(self.seen) <= self.failures:
            raise ConnectionError("the bonus service timed out after booking")


class Recorder:
    PLUGIN = PluginInfo(id="recorder", name="Recorder")

    def __init__(self):
        self.seen = []

    @hookimpl
    def memberday_order_paid(self, order):
        self.seen.append(order.external_id)


def deliveries(app, plugin_id):
    from core.events.models import Event, EventDelivery

    with app.app_context():
        rows = db.session.execute(
            select(Event.name, Event.status, EventDelivery.status, EventDelivery.attempts)
            .join(EventDelivery, EventDelivery.event_id == Event.id)
            .where(EventDelivery.plugin_id == plugin_id).order_by(Event.id)).all()
        return [tuple(row) for row in rows]


def relay(app, minutes=0):
    from core.events.services import relay

    with app.app_context():
        return relay(now=utcnow() + timedelta(minutes=minutes))


def bonus_entries(app, member_id):
    from core.rewards.models import PointsEntry

    with app.app_context():
        return db.session.scalar(select(func.count(PointsEntry.id)).where(
            PointsEntry.member_id == member_id, PointsEntry.source.like("flaky:%")))


def test_a_handler_that_raised_is_retried_by_the_relay_and_books_once(memberday_app, memberday_client,
                                                                      operator_token, member):
    flaky, recorder = register(memberday_app, Flaky(), Recorder())
    assert report_order(memberday_client, operator_token, member["id"], "A-1").status_code == 201
    assert recorder.seen == ["A-1"]  # delivered inline, right after the commit
    assert [order for order, _ in flaky.seen] == ["A-1"]
    assert deliveries(memberday_app, "flaky") == [("memberday_order_paid", "pending", "failed", 1)]

    assert relay(memberday_app) == {"events": 0}  # not before its retry time
    assert relay(memberday_app, minutes=5) == {"events": 1}
    assert [order for order, _ in flaky.seen] == ["A-1", "A-1"]
    assert flaky.seen[0][1] == flaky.seen[1][1]  # the same event id: the handler can tell
    assert recorder.seen == ["A-1"]  # a plugin that had it does not get it again
    assert deliveries(memberday_app, "flaky") == [("memberday_order_paid", "done", "delivered", 2)]
    assert bonus_entries(memberday_app, member["id"]) == 1
    assert relay(memberday_app, minutes=60) == {"events": 0}


def test_a_members_events_reach_a_plugin_in_order(memberday_app, memberday_client, operator_token, member):
    flaky, recorder = register(memberday_app, Flaky(), Recorder())
    for external_id in ("A-1", "A-2", "A-3"):
        assert report_order(memberday_client, operator_token, member["id"], external_id).status_code == 201
    # The other plugin is not held up; the failing one waits with the member's later events.
    assert recorder.seen == ["A-1", "A-2", "A-3"]
    assert [order for order, _ in flaky.seen] == ["A-1"]
    relay(memberday_app, minutes=5)
    assert [order for order, _ in flaky.seen] == ["A-1", "A-1", "A-2", "A-3"]
    assert bonus_entries(memberday_app, member["id"]) == 3
    assert recorder.seen == ["A-1", "A-2", "A-3"]


def test_an_event_for_a_plugin_that_is_off_is_skipped_for_good(memberday_app, memberday_client, operator_token,
                                                              member):
    flaky, recorder = register(memberday_app, Flaky(failures=0), Recorder())
    assert patch_plugin(memberday_client, operator_token, "recorder", enabled=False).status_code == 200
    report_order(memberday_client, operator_token, member["id"], "A-1")
    assert patch_plugin(memberday_client, operator_token, "recorder", enabled=True).status_code == 200
    relay(memberday_app, minutes=120)
    assert recorder.seen == []
    assert deliveries(memberday_app, "recorder") == [("memberday_order_paid", "done", "skipped", 0)]
    assert deliveries(memberday_app, "flaky") == [("memberday_order_paid", "done", "delivered", 1)]


def test_events_whose_writer_died_before_delivering_are_delivered_by_the_relay(memberday_app, member):
    """No inline delivery (as if the process died after the commit): the claim runs out, the relay delivers."""
    from core.events.models import Event
    from core.orders.services import report_paid_order

    flaky, recorder = register(memberday_app, Flaky(failures=0), Recorder())
    with memberday_app.app_context():
        with transaction() as session:
            report_paid_order("A-1", member["id"], 100)
            session.info["memberday_tx_local"]["events"].clear()  # what a kill -9 after the commit leaves
    assert recorder.seen == []
    assert relay(memberday_app) == {"events": 0}  # still claimed by its writer
    assert relay(memberday_app, minutes=2) == {"events": 1}
    assert relay(memberday_app, minutes=4) == {"events": 0}
    assert recorder.seen == ["A-1"] and [order for order, _ in flaky.seen] == ["A-1"]
    with memberday_app.app_context():
        assert db.session.scalar(select(Event.status)) == "done"


def test_a_failing_after_commit_step_is_logged_and_the_others_still_run(memberday_app):
    ran = []

    def broken():
        raise ConnectionError("redis went away")

    with memberday_app.app_context():
        with transaction():
            on_commit(broken)
            on_commit(lambda: ran.append("next"))
    assert ran == ["next"]


def test_a_raising_hook_never_rolls_back_work_its_caller_began_outside_transaction(memberday_app, member):
    """SQLAlchemy began the caller's transaction (no ``transaction()`` block): the hook gets a savepoint."""
    from core.members.models import Member
    from core.plugins.host import current_host

    class Raising:
        PLUGIN = PluginInfo(id="raising", name="Raising")

        @hookimpl
        def memberday_points_multiplier(self, member, order):
            db.session.execute(Member.__table__.update().values(name="spoiled"))
            raise ValueError("no multiplier")

    register(memberday_app, Raising())
    with memberday_app.app_context():
        caller = db.session.get(Member, member["id"])
        caller.name = "Renamed by the caller"
        db.session.flush()
        assert db.session().in_transaction()
        assert current_host().call_each("memberday_points_multiplier", member=caller, order=None) == []
        assert db.session().in_transaction()
        db.session.commit()
    with memberday_app.app_context():
        assert db.session.get(Member, member["id"]).name == "Renamed by the caller"


def test_the_relay_runs_with_cron_once(memberday_app, memberday_client, operator_token, member):
    from click.testing import CliRunner  # noqa: F401  (the CLI entry is what operators run)

    register(memberday_app, Recorder())
    runner = memberday_app.test_cli_runner()
    result = runner.invoke(args=["cron", "--once"])
    assert result.exit_code == 0, result.output
    assert "core.relay_events: {'events': 0}" in result.output
    assert memberday_client.get(f"/api/v1/members/{member['id']}", headers=bearer(operator_token)).status_code == 200


def test_two_relays_at_once_deliver_each_event_once_and_in_order_per_member(memberday_app, memberday_client):
    from core.events.services import relay as run_relay
    from core.orders.services import report_paid_order
    from core.testing import run_concurrently

    class MemberRecorder:
        PLUGIN = PluginInfo(id="member_recorder", name="Member recorder")

        def __init__(self):
            self.seen = []

        @hookimpl
        def memberday_order_paid(self, order):
            self.seen.append((order.member_id, int(order.external_id.split("-")[1])))

    recorder, = register(memberday_app, MemberRecorder())
    buyers = [memberday_client.post("/api/v1/members", json={"name": f"Buyer {n}"}).get_json()["id"]
              for n in range(5)]
    with memberday_app.app_context():
        for number in range(30):
            with transaction() as session:
                report_paid_order(f"A-{number}", buyers[number % 5], 100)
                session.info["memberday_tx_local"]["events"].clear()  # as if each writer died after its commit

    def relay_now(i):
        with memberday_app.app_context():
            return run_relay(now=utcnow() + timedelta(minutes=2), batch=4)["events"]

    first = sum(run_concurrently(relay_now, 2))
    later = relay(memberday_app, minutes=10)["events"] + relay(memberday_app, minutes=20)["events"]
    assert first + later == 30
    assert sorted(recorder.seen) == sorted((buyers[n % 5], n) for n in range(30))  # each once
    for buyer in buyers:
        numbers = [number for member_id, number in recorder.seen if member_id == buyer]
        assert numbers == sorted(numbers)
