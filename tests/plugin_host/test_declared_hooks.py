"""Plugins declare hooks of their own (``memberday_add_hookspecs``), as pytest plugins do with
``pytest_addhooks``: the core never owns a plugin's extension point."""
import warnings

import pytest

from core.plugins import hookspecs

from hostkit import patch_plugin, plugin

DECLARER_SOURCE = '''
    """Declares ``memberday_greetings`` and shows every enabled plugin's greeting on a page."""
    from flask import Blueprint

    from core.plugins import PluginInfo, hookimpl, hookspec
    from core.plugins.host import current_host

    PLUGIN = PluginInfo(id="zzz_greetings", name="Greetings")
    blp = Blueprint("zzz_greetings", __name__)


    class Specs:
        @hookspec
        def memberday_greetings(self, language):
            """Return a greeting in ``language``."""


    @blp.route("/greetings")
    def greetings():
        return {"greetings": [text for _, text in current_host().call_each("memberday_greetings", language="en")]}


    @hookimpl
    def memberday_add_hookspecs(pluginmanager):
        pluginmanager.add_hookspecs(Specs)


    @hookimpl
    def memberday_blueprints(app):
        return [blp]
'''

IMPLEMENTER_SOURCE = '''
    from core.plugins import PluginInfo, hookimpl

    PLUGIN = PluginInfo(id="aaa_greeter", name="Greeter")


    @hookimpl
    def memberday_greetings(language):
        return "hello from aaa_greeter" if language == "en" else None
'''

STRAY_SOURCE = '''
    from core.plugins import PluginInfo, hookimpl

    PLUGIN = PluginInfo(id="{plugin_id}", name="Stray")


    @hookimpl{options}
    def memberday_farewells():
        return "bye"
'''


@pytest.fixture
def declarer_and_implementer(plugin_site):
    # The implementer's id sorts first, so plain discovery order would register it before its hook exists.
    plugin_site.install("memberday-aaa-greeter", "memberday_aaa_greeter", IMPLEMENTER_SOURCE,
                        entry_point="aaa_greeter")
    plugin_site.install("memberday-zzz-greetings", "memberday_zzz_greetings", DECLARER_SOURCE,
                        entry_point="zzz_greetings")
    return plugin_site


@pytest.mark.usefixtures("declarer_and_implementer")
def test_a_plugin_declares_a_hook_that_another_plugin_implements(memberday_client, operator_token):
    declarer = plugin(memberday_client, operator_token, "zzz_greetings")
    implementer = plugin(memberday_client, operator_token, "aaa_greeter")
    assert declarer["status"] == "ok" and "memberday_add_hookspecs" in declarer["hooks"]
    assert implementer["status"] == "ok", implementer["error"]
    assert implementer["hooks"] == ["memberday_greetings"]

    assert memberday_client.get("/greetings").get_json() == {"greetings": ["hello from aaa_greeter"]}
    # The declared hook is dispatched like the core's: a plugin that is off is not asked.
    patch_plugin(memberday_client, operator_token, "aaa_greeter", enabled=False)
    assert memberday_client.get("/greetings").get_json() == {"greetings": []}


@pytest.fixture
def strays_installed(plugin_site):
    plugin_site.install("memberday-stray", "memberday_stray", STRAY_SOURCE.format(plugin_id="stray", options=""),
                        entry_point="stray")
    plugin_site.install("memberday-optional-stray", "memberday_optional_stray",
                        STRAY_SOURCE.format(plugin_id="optional_stray", options="(optionalhook=True)"),
                        entry_point="optional_stray")


@pytest.mark.usefixtures("strays_installed")
def test_a_hook_nobody_declares_breaks_the_plugin_unless_it_is_marked_optional(memberday_client,
                                                                                operator_token):
    stray = plugin(memberday_client, operator_token, "stray")
    assert stray["status"] == "broken" and "unknown hook 'memberday_farewells'" in stray["error"]
    assert plugin(memberday_client, operator_token, "optional_stray")["status"] == "ok"


def test_the_mall_declares_its_offers_hook_and_the_core_does_not(memberday_app):
    assert not hasattr(hookspecs, "memberday_mall_offers")
    host = memberday_app.extensions["memberday_plugins"]
    spec = host.pm.hook.memberday_mall_offers.spec
    assert spec is not None and spec.namespace.__name__ == "plugins.points_mall.hookspecs"


def test_mall_offer_is_still_importable_from_core_for_a_release_with_a_warning():
    from plugins.points_mall.hookspecs import MallOffer

    with pytest.warns(DeprecationWarning, match="plugins.points_mall.hookspecs"):
        from core.plugins import MallOffer as OldMallOffer
    assert OldMallOffer is MallOffer
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        from core.plugins import PageSection  # noqa: F401  (other names do not warn)
