"""Who reaches which console page: sign-in, roles, CSRF on every form, and nothing from a CDN."""
from __future__ import annotations

import re

STAFF_PAGES = {"console.scan", "console.scan_lookup", "console.scan_redeem", "console.sign_out",
               "console.account", "console.account_password", "console.account_token"}
PUBLIC = {"console.sign_in", "console.static", "console.language"}


def console_rules(app):
    """Every console route (the core's and each plugin's console pages) with a URL to call it at."""
    plugin_blueprints = {pages.blueprint.name for _, pages in app.extensions["memberday_console_pages"]}
    assert {"referral_console", "points_mall_console"} <= plugin_blueprints
    samples = {"plugin_id": "referral", "filename": "console.css"}
    for rule in app.url_map.iter_rules():
        blueprint = rule.endpoint.rpartition(".")[0]
        if blueprint != "console" and blueprint not in plugin_blueprints:
            continue
        values = {name: samples.get(name, 1) for name in rule.arguments}
        url = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods & {"GET", "POST"}):
            yield rule.endpoint, method, url


def test_the_console_asks_who_you_are(anonymous_console):
    page = anonymous_console.get("/console/")
    assert page.status_code == 302 and "/console/sign-in" in page.headers["Location"]
    assert anonymous_console.get("/console/orders", headers={"Accept": "application/json"}).status_code == 401
    assert anonymous_console.post("/console/plugins/referral/switch", {"enabled": "0"}).status_code == 401


def test_staff_reach_only_the_scanners(staff_console):
    # A plugin may open its own scanner to staff (the door scanner of offline events).
    scanners = {endpoint for _, pages in staff_console.app.extensions["memberday_console_pages"]
                for endpoint in pages.staff_endpoints}
    assert "offline_events_console.scan" in scanners
    checked = 0
    for endpoint, method, url in console_rules(staff_console.app):
        if endpoint in PUBLIC or endpoint == "console.sign_out":
            continue
        response = staff_console.get(url) if method == "GET" else staff_console.post(url, {})
        if endpoint in STAFF_PAGES | scanners:
            assert response.status_code != 403, (method, url)
        else:
            assert response.status_code == 403, (method, url, response.status_code)
            checked += 1
    assert checked >= 15
    menu = staff_console.get("/console/scan").get_data(as_text=True)
    assert "/console/orders" not in menu and "/console/plugins" not in menu


def test_every_console_form_refuses_a_post_without_its_csrf_token(console):
    posts = [(endpoint, url) for endpoint, method, url in console_rules(console.app) if method == "POST"]
    # Sign-out last: the others are refused while signed in, not for want of a session.
    posts.sort(key=lambda post: post[0] == "console.sign_out")
    assert len(posts) >= 10
    for endpoint, url in posts:
        response = console.post(url, {"enabled": "0", "name": "x"}, csrf=False)
        assert response.status_code == 400, (url, response.status_code)
        assert b"csrf" in response.data.lower() or b"expired" in response.data.lower(), url
        forged = console.post(url, {"enabled": "0", "csrf_token": "forged"}, csrf=False)
        assert forged.status_code == 400, url
    # Nothing was switched off by the refused posts.
    plugins = console.get("/api/v1/plugins", headers={"Authorization": f"Bearer {console.operator['token']}"})
    assert all(item["enabled"] for item in plugins.get_json()["items"] if item["id"] == "referral")


def test_revoking_an_operator_ends_their_console_session(console):
    from core.auth.sessions import end_all_sessions

    assert console.get("/console/").status_code == 200
    with console.app.test_request_context():
        assert end_all_sessions("operator", console.operator["id"]) == 1
    assert console.get("/console/").status_code == 302
    assert console.get("/console/orders", headers={"Accept": "application/json"}).status_code == 401


def test_a_session_ended_by_signing_out_gets_nothing_even_with_a_copy_of_its_cookie(console):
    assert console.get("/console/").status_code == 200
    copied = console.http.get_cookie("session").value
    assert console.post("/console/sign-out").status_code == 303
    assert console.get("/console/").status_code == 302
    console.http.set_cookie("session", copied)
    assert console.get("/console/").status_code == 302
    assert console.get("/console/scan", headers={"Accept": "application/json"}).status_code == 401


EXTERNAL = re.compile(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', re.I)


def test_no_console_page_loads_anything_from_another_site(console):
    pages = [url for endpoint, method, url in console_rules(console.app)
             if method == "GET" and endpoint not in {"console.static", "console.scan_lookup"}
             and "export" not in endpoint]
    shown = 0
    for url in pages:
        response = console.get(url)
        # Pages of a record that does not exist (the sample id 1) answer their not-found page, which
        # is checked like any other; nothing answers 5xx.
        assert response.status_code < 500, (url, response.status_code)
        if not response.mimetype.startswith("text/html"):
            continue
        html = response.get_data(as_text=True)
        assert not EXTERNAL.search(html), url
        assert "cdn" not in html.lower(), url
        shown += response.status_code == 200
    assert shown >= 15, shown
    for asset in ("vendor/echarts.min.js", "vendor/jsQR.js", "console.js", "scan.js", "console.css"):
        assert console.get(f"/console/static/{asset}").status_code == 200
