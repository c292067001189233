"""Switching takes effect everywhere without a restart: in another web process on the same
database (pushed to it, within a second), and in an rq worker that picks up a job queued while
the plugin was still on."""


import pytest

from core.testing import LiveServer

from hostkit import eventually, operator_notes, patch_plugin, plugin


def enqueue(app, name, *args):
    with app.app_context():
        from core.jobs import enqueue as push

        push(name, *args)


@pytest.mark.usefixtures("probe_installed")
def test_a_queued_job_of_a_plugin_switched_off_runs_and_does_nothing(memberday_app, memberday_client,
                                                                      operator_token, memberday_worker):
    assert plugin(memberday_client, operator_token, "probe")["version"] == "1.2.3"

    enqueue(memberday_app, "probe.record", "queued while on, run while off")
    assert patch_plugin(memberday_client, operator_token, "probe", enabled=False).status_code == 200
    memberday_worker.run()
    assert memberday_worker.queued() == 0 and memberday_worker.failed() == []
    assert operator_notes(memberday_client, operator_token) == []

    # The same job, with the plugin on, does its work: the worker could have done it.
    assert patch_plugin(memberday_client, operator_token, "probe", enabled=True).status_code == 200
    enqueue(memberday_app, "probe.record", "queued and run while on")
    memberday_worker.run()
    assert operator_notes(memberday_client, operator_token) == ["queued and run while on"]


# ------------------------------------------------------------------ a second app process

@pytest.fixture
def second_process(probe_installed, memberday_app):
    # The safety-net check is an hour away: only the pushed notice can tell these workers.
    server = LiveServer(memberday_app, extra_env={"MEMBERDAY_PLUGIN_STATE_CHECK_SECONDS": "3600"})
    yield server
    server.stop()




def order_seen(server, token, external_id):
    status, body = server.call("GET", "/api/v1/notifications?per_page=200", token=token)
    assert status == 200
    titles = [note["title"] for note in body["items"]]
    return f"probe saw order {external_id}" in titles


@pytest.mark.usefixtures("probe_installed")  # before the app here is built, so both processes have it
def test_a_switch_through_one_process_is_seen_by_the_next_request_to_another(
        second_process, memberday_client, operator_token, member):
    other = second_process
    paid = 0

    def pay():
        nonlocal paid
        paid += 1
        external_id = f"o-{paid}"
        status, _ = other.call("POST", "/api/v1/orders", {"external_id": external_id, "member_id": member["id"],
                                                          "amount": "10.00"}, token=operator_token)
        assert status == 201
        return external_id

    # Both processes start with the probe on.
    assert memberday_client.get("/probe/ping").status_code == 200
    assert other.call("GET", "/probe/ping") == (200, {"pong": True})
    assert order_seen(other, operator_token, pay())

    # Off through this process: the other one's workers are told, and stop answering its routes.
    assert patch_plugin(memberday_client, operator_token, "probe", enabled=False).status_code == 200
    assert eventually(lambda: all(other.call("GET", "/probe/ping")[0] == 404 for _ in range(6)))
    for _ in range(4):  # whichever gunicorn worker answers
        assert other.call("GET", "/probe/ping")[0] == 404
        assert not order_seen(other, operator_token, pay())

    # On again, this time through the other process: this one is told too.
    status, body = other.call("PATCH", "/api/v1/plugins/probe", {"enabled": True}, token=operator_token)
    assert status == 200 and body["enabled"] is True
    assert eventually(lambda: memberday_client.get("/probe/ping").status_code == 200)
    assert eventually(lambda: all(other.call("GET", "/probe/ping")[0] == 200 for _ in range(6)))
    for _ in range(4):
        assert other.call("GET", "/probe/ping")[0] == 200
        assert order_seen(other, operator_token, pay())
