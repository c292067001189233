"""Discovery: every installed distribution under ``memberday.plugins`` is loaded on its own;
one that cannot be used is listed with the reason and the app works without it."""
import pytest

from core.testing import bearer

from hostkit import patch_plugin, plugin, report_order

BROKEN_ON_IMPORT = '''
    raise RuntimeError("the broken plugin cannot start")
'''

NO_METADATA = '''
    """Installed, but says nothing about itself."""
'''

FROM_THE_FUTURE = '''
    from core.plugins import PluginInfo, hookimpl

    PLUGIN = PluginInfo(id="future", name="From the future", requires_core=">=99")


    @hookimpl
    def memberday_order_paid(order, member):
        from core.notifications.services import notify_operators

        notify_operators("future plugin ran")
'''


@pytest.fixture
def unusable_installed(plugin_site):
    plugin_site.install("memberday-broken", "memberday_broken_plugin", BROKEN_ON_IMPORT, entry_point="broken")
    plugin_site.install("memberday-silent", "memberday_silent_plugin", NO_METADATA, entry_point="silent")
    plugin_site.install("memberday-future", "memberday_future_plugin", FROM_THE_FUTURE, entry_point="future",
                        version="9.0.0")
    return plugin_site


@pytest.mark.usefixtures("unusable_installed")
def test_a_plugin_that_fails_to_import_is_listed_broken_and_the_rest_of_the_app_works(
        memberday_app, memberday_client, operator_token, member):
    broken = plugin(memberday_client, operator_token, "broken")
    assert broken["status"] == "broken" and broken["enabled"] is False
    assert broken["distribution"] == "memberday-broken" and broken["version"] == "1.0.0"
    assert "RuntimeError: the broken plugin cannot start" in broken["error"]

    silent = plugin(memberday_client, operator_token, "silent")
    assert silent["status"] == "broken" and "PLUGIN metadata" in silent["error"]

    # The rest of the app, and the plugins that load, carry on.
    assert memberday_client.get("/healthz").status_code == 200
    assert report_order(memberday_client, operator_token, member["id"], "o-1").status_code == 201
    assert plugin(memberday_client, operator_token, "birthday_gift")["status"] == "ok"

    refused = patch_plugin(memberday_client, operator_token, "broken", enabled=True)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "plugin_unusable"

    listing = memberday_app.test_cli_runner().invoke(args=["plugins", "list"])
    line = next(line for line in listing.output.splitlines() if line.split()[1:2] == ["broken"])
    assert line.startswith("off") and "the broken plugin cannot start" in line


@pytest.mark.usefixtures("unusable_installed")
def test_a_plugin_needing_another_core_version_is_listed_incompatible_and_never_runs(
        memberday_app, memberday_client, operator_token, member):
    future = plugin(memberday_client, operator_token, "future")
    assert future["status"] == "incompatible" and future["enabled"] is False
    assert future["version"] == "9.0.0" and future["requires_core"] == ">=99"
    assert "needs core >=99" in future["error"]

    assert report_order(memberday_client, operator_token, member["id"], "o-1").status_code == 201
    notes = memberday_client.get("/api/v1/notifications", headers=bearer(operator_token)).get_json()["items"]
    assert "future plugin ran" not in [note["title"] for note in notes]
    refused = patch_plugin(memberday_client, operator_token, "future", enabled=True)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "plugin_unusable"


def test_the_example_plugin_installed_from_its_own_folder_adds_its_route_table_job_and_hooks(
        memberday_app, memberday_client, operator_token, member):
    example = plugin(memberday_client, operator_token, "birthday_gift")
    assert example["status"] == "ok", "install it: pip install -e examples/birthday_gift"
    assert example["distribution"] == "memberday-birthday-gift"
    assert {"memberday_blueprints", "memberday_jobs", "memberday_periodic_jobs", "memberday_migrations_folder",
            "memberday_points_multiplier", "memberday_member_created"} <= set(example["hooks"])
    assert example["enabled"] is False  # installed plugins wait for an operator
    route = f"/api/v1/birthday-gift/members/{member['id']}/birthday"
    assert memberday_client.put(route, json={"month": 1, "day": 1}, headers=bearer(member["token"])).status_code == 404
    assert patch_plugin(memberday_client, operator_token, "birthday_gift", enabled=True).status_code == 200
    with memberday_app.app_context():
        from sqlalchemy import inspect

        from core.extensions import db
        from core.jobs import registry

        assert "birthday_gift_gifts" in inspect(db.engine).get_table_names()
        assert registry().jobs["birthday_gift.send_due"].plugin_id == "birthday_gift"
        assert "birthday_gift.send_due" in [job.name for job in registry().periodic]
    assert memberday_client.put(route, json={"month": 1, "day": 1}, headers=bearer(member["token"])).status_code == 200
