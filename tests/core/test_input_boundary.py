"""The one input boundary: hostile text in any path, query, form or JSON is refused before a view runs.

Every route of the app -- API, pages, forms, plugins' routes -- gets each
payload; each must be a 400 ``validation_error`` (a 404 for a path), never a
5xx, and no table may gain or lose a row.
"""
from __future__ import annotations

from urllib.parse import unquote_to_bytes

import pytest
from sqlalchemy import func, select
from werkzeug.routing import AnyConverter, IntegerConverter

from core.extensions import db
from core.testing import bearer

FULLWIDTH_123 = "%EF%BC%91%EF%BC%92%EF%BC%93"  # "１２３"
ARABIC_ONE = "%D9%A1"  # "١"
DEEP = "[" * 100_000 + "]" * 100_000

QUERY_PAYLOADS = {
    "nul": "q=a%00b",
    "invalid_utf8": "q=%FF%FE",
    "lone_surrogate_utf8": "q=%ED%A0%80",  # U+D800 encoded as UTF-8: not valid UTF-8
    "nul_in_name": "a%00=1",
    "fullwidth_digits": f"page={FULLWIDTH_123}",
    "arabic_digits": f"after={ARABIC_ONE}",
}
BODY_PAYLOADS = {
    "json_lone_surrogate": ('{"name": "a\\ud800b", "text": "x"}', "application/json"),
    "json_nul": ('{"name": "a\\u0000b"}', "application/json"),
    "json_nul_in_key": ('{"a\\u0000": 1}', "application/json"),
    "json_deep": (DEEP, "application/json"),
    "json_deep_object": ('{"a":' * 50 + "1" + "}" * 50, "application/json"),
    "json_fullwidth_amount": ('{"amount": "１２３", "points": "１２３"}', "application/json"),
    "json_arabic_id": ('{"member_id": "١", "item_id": "٣"}', "application/json"),
    "json_invalid_utf8": (b'{"name": "\xff\xfe"}', "application/json"),
    "form_nul": ("name=a%00b&csrf_token=x", "application/x-www-form-urlencoded"),
    "form_invalid_utf8": ("name=%FF%FE", "application/x-www-form-urlencoded"),
    "form_raw_invalid_utf8": (b"name=\xff", "application/x-www-form-urlencoded"),
    "form_fullwidth_number": (f"month={FULLWIDTH_123}&day=1", "application/x-www-form-urlencoded"),
    "xml_nul": (b"<xml><Content>a\x00b</Content></xml>", "text/xml"),
    "xml_invalid_utf8": (b"<xml><Content>\xff</Content></xml>", "text/xml"),
}


def _routes(app):
    """(rule, method, url) for every route, its arguments filled with plausible values."""
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        values = {}
        for name, converter in rule._converters.items():
            if isinstance(converter, AnyConverter):
                values[name] = converter.items[0] if hasattr(converter, "items") else "png"
            elif isinstance(converter, IntegerConverter):
                values[name] = 1
            else:
                values[name] = "x"
        if rule.endpoint == "static":
            values["filename"] = "x.css"
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, adapter.build(rule.endpoint, values, method=method)


def _rows(app) -> dict:
    with app.app_context():
        return {table.name: db.session.scalar(select(func.count()).select_from(table))
                for table in db.metadata.sorted_tables}


def _refused(response, status: int, what: str) -> None:
    assert response.status_code == status, (what, response.status_code, response.get_data(as_text=True)[:300])
    if status == 400 and response.is_json:
        assert response.get_json()["error"]["code"] == "validation_error", what


def test_every_route_refuses_every_hostile_payload_and_writes_nothing(memberday_app, memberday_client,
                                                                      operator_token, member):
    headers = bearer(operator_token)
    before = _rows(memberday_app)
    routes = list(_routes(memberday_app))
    assert len(routes) > 40  # core, pages and the installed plugins' routes
    for rule, method, url in routes:
        for name, query in QUERY_PAYLOADS.items():
            response = memberday_client.open(f"{url}?{query}", method=method, headers=headers)
            _refused(response, 400, f"{method} {rule} query {name}")
        for name, (body, content_type) in BODY_PAYLOADS.items():
            response = memberday_client.open(url, method=method, data=body, content_type=content_type,
                                              headers=headers)
            _refused(response, 400, f"{method} {rule} body {name}")
        for argument in rule.arguments:
            for bad in ("a%00b", ARABIC_ONE, FULLWIDTH_123, "%FF"):
                hostile = url.replace("/1", f"/{bad}", 1) if "/1" in url else url.replace("/x", f"/{bad}", 1)
                # PATH_INFO as a server hands it over: the URL's bytes as latin-1 (the test client
                # would turn invalid UTF-8 into U+FFFD on its own).
                raw = unquote_to_bytes(hostile).decode("latin-1")
                response = memberday_client.open(hostile, method=method, headers=headers,
                                                  environ_overrides={"PATH_INFO": raw})
                _refused(response, 404, f"{method} {rule} path {argument}={bad}")
    assert _rows(memberday_app) == before


def test_a_member_id_in_arabic_digits_is_not_found(memberday_client, member):
    response = memberday_client.get(f"/api/v1/members/{ARABIC_ONE}", headers=bearer(member["token"]))
    assert response.status_code == 404
    assert memberday_client.get(f"/api/v1/members/{member['id']}", headers=bearer(member["token"])).status_code == 200


def test_an_amount_in_fullwidth_digits_is_a_validation_error(memberday_app, memberday_client, operator_token,
                                                             member):
    before = _rows(memberday_app)
    response = memberday_client.post("/api/v1/orders", headers=bearer(operator_token), json={
        "external_id": "fw-1", "member_id": member["id"], "amount": "１２３"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "validation_error"
    assert _rows(memberday_app) == before


@pytest.mark.parametrize("text", ["王小明", "Ada 3rd", "Room ３B", "+886 912-345-678", "12.50", "e\u0301"])
def test_ordinary_text_passes_the_boundary(memberday_client, text):
    response = memberday_client.post("/api/v1/members", json={"name": text})
    assert response.status_code == 201, response.get_json()


def test_json_nested_within_the_limit_reaches_the_endpoint(memberday_client):
    response = memberday_client.post("/api/v1/members", data='{"name": "Deep", "tags": [[[1]]]}',
                                     content_type="application/json")
    assert response.status_code in (201, 400)
    if response.status_code == 400:
        assert "nests" not in response.get_json()["error"]["message"]
