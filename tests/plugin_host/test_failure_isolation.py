"""A plugin that raises never fails the member's request; one that keeps failing is switched off."""
from core.plugins import PageSection, PluginInfo, hookimpl
from core.testing import bearer, csrf_token, sign_in_browser

from hostkit import audit, operator_notes, patch_plugin, plugin, register, report_order


class Exploding:
    """Raises in ``order paid`` for every order whose id starts with ``bad`` (all of them by default)."""

    PLUGIN = PluginInfo(id="exploding", name="Exploding")

    def __init__(self, only_prefix=""):
        self.only_prefix = only_prefix
        self.calls = 0

    @hookimpl
    def memberday_order_paid(self, order, member):
        self.calls += 1
        if order.external_id.startswith(self.only_prefix):
            raise RuntimeError(f"exploding on {order.external_id}")


class Witness:
    """A well-behaved plugin: tells the member it saw each paid order."""

    PLUGIN = PluginInfo(id="witness", name="Witness")

    @hookimpl
    def memberday_order_paid(self, order, member):
        from core.notifications.services import notify

        notify(member.id, f"witness saw {order.external_id}")


def new_member(client, name="Friend"):
    """Each order of a failing plugin's test goes to a member of its own: a member's events reach
    a plugin in order, so a member's later events wait while an earlier one is being retried."""
    response = client.post("/api/v1/members", json={"name": name})
    assert response.status_code == 201
    return response.get_json()


def member_notes(client, member):
    """What the witness plugin told the member (installed plugins may say other things)."""
    response = client.get(f"/api/v1/members/{member['id']}/notifications?per_page=200",
                          headers=bearer(member["token"]))
    return [note["title"] for note in response.get_json()["items"] if note["title"].startswith("witness")]


def test_plugin_raising_in_order_paid_does_not_fail_the_order_and_is_switched_off_after_three(
        memberday_app, memberday_client, operator_token, member):
    exploding, _ = register(memberday_app, Exploding(), Witness())
    assert memberday_app.config["PLUGIN_MAX_CONSECUTIVE_FAILURES"] == 3
    buyers = [member] + [new_member(memberday_client) for _ in range(3)]

    for number in (1, 2):
        response = report_order(memberday_client, operator_token, buyers[number - 1]["id"], f"order-{number}")
        assert response.status_code == 201, response.get_json()
        state = plugin(memberday_client, operator_token, "exploding")
        assert state["enabled"] is True and state["consecutive_failures"] == number
    assert operator_notes(memberday_client, operator_token) == []

    assert report_order(memberday_client, operator_token, buyers[2]["id"], "order-3").status_code == 201
    state = plugin(memberday_client, operator_token, "exploding")
    assert state["enabled"] is False and state["consecutive_failures"] == 3 and state["failures_total"] == 3
    assert "memberday_order_paid" in state["disabled_reason"]
    assert operator_notes(memberday_client, operator_token) == ["Plugin exploding was switched off"]
    last = audit(memberday_client, operator_token, "exploding")[0]
    assert last["actor"] == "system" and last["action"] == "disable" and "3 failures" in last["details"]["reason"]

    # Switched off: no longer called. Everything else went on as if it were not there.
    assert report_order(memberday_client, operator_token, buyers[3]["id"], "order-4").status_code == 201
    assert exploding.calls == 3
    seen = [note for buyer in buyers for note in member_notes(memberday_client, buyer)]
    assert sorted(seen) == [f"witness saw order-{n}" for n in (1, 2, 3, 4)]
    balance = memberday_client.get(f"/api/v1/members/{member['id']}/points", headers=bearer(operator_token))
    assert balance.get_json()["balance"] == 100


def test_switching_a_failed_plugin_back_on_starts_its_count_again(memberday_app, memberday_client,
                                                                  operator_token, member):
    register(memberday_app, Exploding())
    for number in (1, 2, 3):
        report_order(memberday_client, operator_token, new_member(memberday_client)["id"], f"order-{number}")
    assert plugin(memberday_client, operator_token, "exploding")["enabled"] is False

    response = patch_plugin(memberday_client, operator_token, "exploding", enabled=True)
    assert response.status_code == 200
    assert response.get_json()["enabled"] is True and response.get_json()["consecutive_failures"] == 0
    report_order(memberday_client, operator_token, member["id"], "order-4")
    state = plugin(memberday_client, operator_token, "exploding")
    assert state["enabled"] is True and state["consecutive_failures"] == 1 and state["failures_total"] == 4


def test_a_success_between_failures_resets_the_run(memberday_app, memberday_client, operator_token, member):
    register(memberday_app, Exploding(only_prefix="bad"))
    for external_id in ("bad-1", "bad-2", "good-1", "bad-3", "bad-4"):
        buyer = new_member(memberday_client)
        assert report_order(memberday_client, operator_token, buyer["id"], external_id).status_code == 201
    state = plugin(memberday_client, operator_token, "exploding")
    assert state["enabled"] is True and state["consecutive_failures"] == 2 and state["failures_total"] == 4
    assert operator_notes(memberday_client, operator_token) == []


def test_a_plugin_registered_after_the_first_request_is_seen_at_once(memberday_app, memberday_client,
                                                                     operator_token, member):
    # ``member`` already made a request, so this process has cached the plugin flags.
    exploding, _ = register(memberday_app, Exploding(), Witness())
    report_order(memberday_client, operator_token, member["id"], "order-1")
    assert exploding.calls == 1
    assert member_notes(memberday_client, member) == ["witness saw order-1"]


# ------------------------------------------------------------------ filter and provider hooks

class RaisingFilters:
    PLUGIN = PluginInfo(id="raising_filters", name="Raising filters")

    @hookimpl
    def memberday_points_multiplier(self, member, order):
        raise ValueError("no multiplier today")

    @hookimpl
    def memberday_member_page_sections(self, member):
        raise ValueError("no section today")

    @hookimpl
    def memberday_notification_channel(self, notification, member):
        raise ValueError("no channel today")


class Triple:
    PLUGIN = PluginInfo(id="triple", name="Triple")

    def __init__(self, only_prefix):
        self.only_prefix = only_prefix

    @hookimpl
    def memberday_points_multiplier(self, member, order):
        return 3 if order.external_id.startswith(self.only_prefix) else None

    @hookimpl
    def memberday_member_page_sections(self, member):
        return [PageSection("Triple points", "<b>escaped, not markup</b>")]


def test_filter_hooks_that_raise_fall_back_to_the_core_default(memberday_app, memberday_client,
                                                               operator_token, member):
    register(memberday_app, RaisingFilters())
    response = report_order(memberday_client, operator_token, member["id"], "plain-1", amount="100.00")
    assert response.status_code == 201
    assert response.get_json()["points_earned"] == 100  # multiplier 1, the core's default

    client = memberday_app.test_client()
    sign_in_browser(client, member)
    assert client.get("/me").status_code == 200

    with memberday_app.app_context():
        from core.notifications.services import notify

        note = notify(member["id"], "Delivered anyway")
        note_id = note.id
    notes = memberday_client.get(f"/api/v1/members/{member['id']}/notifications",
                                 headers=bearer(member["token"])).get_json()["items"]
    delivered = next(n for n in notes if n["id"] == note_id)
    assert delivered["status"] == "sent" and delivered["channel"] == "inbox"

    # Three filter failures in a row: off, like a failing event hook.
    state = plugin(memberday_client, operator_token, "raising_filters")
    assert state["enabled"] is False and state["failures_total"] == 3


def test_other_plugins_answers_still_count_when_one_filter_raises(memberday_app, memberday_client,
                                                                  operator_token, member):
    register(memberday_app, RaisingFilters(), Triple(only_prefix="triple"))
    response = report_order(memberday_client, operator_token, member["id"], "triple-1", amount="100.00")
    assert response.get_json()["points_earned"] == 300

    client = memberday_app.test_client()
    sign_in_browser(client, member)
    page = client.get("/me").get_data(as_text=True)
    assert "Triple points" in page and "&lt;b&gt;escaped, not markup&lt;/b&gt;" in page
