"""A plugin's endpoints declare their error codes too: its own codes with their status."""
import pytest

DECLARING_PLUGIN = '''
    from flask_smorest import Blueprint

    from core.errors import Conflict, errors
    from core.plugins import PluginInfo, hookimpl

    PLUGIN = PluginInfo(id="declares", name="Declares its errors")
    blp = PLUGIN.api_blueprint(__name__)


    @blp.route("/declared", methods=["POST"])
    @errors(daily_limit_reached=409)
    @blp.response(200)
    def declared():
        raise Conflict("At most three a day.", code="daily_limit_reached")


    @blp.route("/undeclared", methods=["POST"])
    @errors(daily_limit_reached=409)
    @blp.response(200)
    def undeclared():
        raise Conflict("A surprise.", code="surprise")


    @hookimpl
    def memberday_blueprints(app):
        return [blp]
'''


@pytest.fixture
def declaring_plugin(plugin_site):
    plugin_site.install("memberday-declares", "memberday_declares", DECLARING_PLUGIN, entry_point="declares")


@pytest.mark.usefixtures("declaring_plugin")
def test_an_endpoint_answers_only_the_codes_it_declares(memberday_client):
    declared = memberday_client.post("/api/v1/declares/declared")
    assert declared.status_code == 409 and declared.get_json()["error"]["code"] == "daily_limit_reached"
    undeclared = memberday_client.post("/api/v1/declares/undeclared")
    assert undeclared.status_code == 500 and undeclared.get_json()["error"]["code"] == "internal_error"
    spec = memberday_client.get("/api/openapi.json").get_json()
    assert spec["paths"]["/api/v1/declares/declared"]["post"]["responses"]["409"]["description"] == \
        "Conflict: `daily_limit_reached`"
