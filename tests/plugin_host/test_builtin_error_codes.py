"""Every endpoint of every built-in plugin declares the error codes it can answer (a closed set),
and the OpenAPI document lists each of them under its status."""
import re
from http import HTTPStatus

from core.errors import ANY_ENDPOINT, ERROR_CODES

BUILT_IN = ("referral", "points_mall", "member_week", "offline_events")


def _plugin_routes(app):
    """(plugin id, rule, method, view) for every API route a built-in plugin adds."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        parts = view.__module__.split(".")
        if parts[0] != "plugins" or parts[1] not in BUILT_IN:
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield parts[1], rule.rule, method, view


def test_every_built_in_plugin_route_declares_its_error_codes(memberday_app):
    routes = list(_plugin_routes(memberday_app))
    assert {plugin for plugin, *_ in routes} == set(BUILT_IN)
    undeclared = [f"{method} {rule}" for _, rule, method, view in routes if not hasattr(view, "error_codes")]
    assert undeclared == []
    for _, rule, method, view in routes:
        assert view.error_codes >= ANY_ENDPOINT, f"{method} {rule}"


def test_the_openapi_document_lists_every_built_in_plugin_error_code(memberday_app, memberday_client):
    spec = memberday_client.get("/api/openapi.json").get_json()
    declared = 0
    for _, rule, method, view in _plugin_routes(memberday_app):
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)
        responses = spec["paths"][path][method.lower()]["responses"]
        for code in sorted(view.error_codes - ANY_ENDPOINT):
            status = _status_in(responses, code)
            assert status is not None, f"{method} {rule} does not document {code}"
            assert status == ERROR_CODES.get(code, status), f"{method} {rule}: {code} under {status}"
            assert f"`{code}`" in responses[str(status)]["description"], f"{method} {rule}: {code}"
            assert f"{HTTPStatus(status).phrase}: " in responses[str(status)]["description"]
            declared += 1
    assert declared > 0


def _status_in(responses: dict, code: str) -> int | None:
    for status, response in responses.items():
        if f"`{code}`" in response.get("description", ""):
            return int(status)
    return None


def test_a_status_with_a_body_of_its_own_documents_both_bodies(memberday_client):
    # A check-in refused at the door answers 409 with its own answer; a reused nonce, with the error body.
    spec = memberday_client.get("/api/openapi.json").get_json()
    conflict = spec["paths"]["/api/v1/checkins"]["post"]["responses"]["409"]
    assert conflict["content"]["application/json"]["schema"] == {"oneOf": [
        {"$ref": "#/components/schemas/CheckInAnswer"}, {"$ref": "#/components/schemas/Error"}]}
    assert "``already_redeemed``" in conflict["description"] and "Conflict: `nonce_reused`" in conflict["description"]
