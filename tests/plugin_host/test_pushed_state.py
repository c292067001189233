"""Each process keeps plugin flags and settings in memory and is told when they change.

A change commits a PostgreSQL ``NOTIFY``; every process listening on the database re-reads the
flags. A periodic check catches a notice that was lost; settings handed to plugins are read-only.
"""

import pytest
from sqlalchemy import text

from core.plugins import PluginInfo
from core.plugins.host import current_host
from core.testing import make_app

from hostkit import eventually, patch_plugin, register


class Greeter:
    PLUGIN = PluginInfo(id="greeter", name="Greeter")




def enabled_in(app, plugin_id: str) -> bool:
    with app.app_context():
        return current_host().is_enabled(plugin_id)


def listening(app):
    from core.plugins.push import wait_until_live

    with app.test_request_context("/"):  # a process starts listening with the first request it serves
        host = current_host()
        host.state()
        assert wait_until_live(host.listener())
        return host


@pytest.fixture
def other_app(memberday_database_url, memberday_app):
    """A second app on the same database that only learns of changes by notice (no periodic check)."""
    app = make_app(memberday_database_url, PLUGIN_STATE_CHECK_SECONDS=3600)
    register(app, Greeter())
    yield app
    with app.app_context():
        from core.extensions import db

        db.engine.dispose()


def change_behind_the_hosts_back(app, enabled: bool) -> None:
    """What a lost notice looks like: the rows move, nobody is told."""
    with app.app_context():
        from core.extensions import db

        with db.engine.begin() as conn:
            conn.execute(text("INSERT INTO plugin_states (plugin_id, enabled, settings, consecutive_failures, "
                              "failures_total, updated_at) VALUES ('greeter', :on, '{}', 0, 0, now()) "
                              "ON CONFLICT (plugin_id) DO UPDATE SET enabled = :on"), {"on": enabled})
            conn.execute(text("UPDATE plugin_host_version SET version = version + 1"))


def test_a_switch_is_pushed_to_a_second_app_that_never_polls(memberday_app, memberday_client, operator_token,
                                                             other_app):
    register(memberday_app, Greeter())
    host = listening(other_app)
    assert enabled_in(other_app, "greeter")
    seen = host.listener().notifications

    assert patch_plugin(memberday_client, operator_token, "greeter", enabled=False).status_code == 200
    assert eventually(lambda: not enabled_in(other_app, "greeter"))
    assert host.listener().notifications > seen  # told, not found out by a check

    assert patch_plugin(memberday_client, operator_token, "greeter", enabled=True).status_code == 200
    assert eventually(lambda: enabled_in(other_app, "greeter"))


def test_without_a_notice_a_process_keeps_its_flags_until_the_safety_net_check(
        memberday_database_url, memberday_app, other_app):
    register(memberday_app, Greeter())
    listening(other_app)
    checking = make_app(memberday_database_url, PLUGIN_STATE_CHECK_SECONDS=0.2)
    register(checking, Greeter())
    listening(checking)
    assert enabled_in(other_app, "greeter") and enabled_in(checking, "greeter")

    change_behind_the_hosts_back(memberday_app, enabled=False)

    # The app that checks now and then recovers the missed change; the one that does not, keeps
    # what it was last told (proof that flags are read from memory, not from the database).
    assert eventually(lambda: not enabled_in(checking, "greeter"))
    assert enabled_in(other_app, "greeter")
    with checking.app_context():
        from core.extensions import db

        db.engine.dispose()


def test_a_change_made_in_the_process_is_applied_to_every_app_of_the_process_on_sqlite(tmp_path):
    url = "sqlite:///" + str(tmp_path / "one.sqlite")
    from core.testing import upgrade_database

    upgrade_database(url)
    first, second = make_app(url), make_app(url, PLUGIN_STATE_CHECK_SECONDS=3600)
    register(first, Greeter())
    register(second, Greeter())
    assert enabled_in(first, "greeter") and enabled_in(second, "greeter")
    with first.app_context():
        from core.plugins.services import set_enabled

        set_enabled("greeter", False, actor="test")
    assert not enabled_in(first, "greeter")
    assert not enabled_in(second, "greeter")


def test_settings_handed_to_a_plugin_are_read_only(memberday_app, memberday_client, operator_token):
    from marshmallow import Schema, fields

    class Settings(Schema):
        greeting = fields.String(load_default="Hello")
        tags = fields.List(fields.String(), load_default=list)

    class Configurable:
        PLUGIN = PluginInfo(id="configurable", name="Configurable", settings_schema=Settings)

    register(memberday_app, Configurable())
    assert patch_plugin(memberday_client, operator_token, "configurable",
                        settings={"tags": ["a", "b"]}).status_code == 200
    with memberday_app.app_context():
        from core.plugins.host import plugin_settings

        settings = plugin_settings("configurable")
        assert settings == {"greeting": "Hello", "tags": ("a", "b")}
        with pytest.raises(TypeError):
            settings["greeting"] = "Hi"
        with pytest.raises(AttributeError):
            settings["tags"].append("c")
        assert plugin_settings("configurable")["greeting"] == "Hello"
