"""The operators' console in a real browser (Debian's Chromium) on a phone-sized screen: an operator signs
in with a password, switches a plugin off and on, changes the language; the scanner loads; the main pages
are saved as screenshots for docs/console.md (``MEMBERDAY_SCREENSHOTS=1``)."""
from __future__ import annotations

import re

import pytest

from browser_steps import operator_signs_in as sign_in


try:
    from core.testing import memberday_page_server  # noqa: F401  (the browser fixtures' server)
except ImportError:  # an older core.testing: serve the app from a thread here
    @pytest.fixture
    def memberday_page_server(memberday_app):
        import threading
        from types import SimpleNamespace

        from werkzeug.serving import make_server

        server = make_server("127.0.0.1", 0, memberday_app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}")
        server.shutdown()
        server.server_close()




def plugin_enabled(app, plugin_id: str) -> bool:
    from core.plugins.host import current_host

    with app.app_context():
        return current_host().is_enabled(plugin_id)


def test_an_operator_signs_in_on_a_phone_switches_a_plugin_off_and_on(phone, admin, memberday_app, screenshot):
    page = phone("zh-TW")
    page.goto("/console/")
    assert page.get_attribute("html", "lang") == "zh-Hant"
    screenshot(page, "console-sign-in")
    page.fill("#name", admin)
    page.fill("#password", "not the password")
    page.locator("main form button[type=submit]").click()
    assert page.locator("[role=alert]").inner_text() == "名稱或密碼不正確。"

    sign_in(page, admin)
    page.wait_for_url(re.compile(r"/console/$"))
    page.wait_for_selector(".chart svg")  # ECharts, served by the platform, drew the charts
    assert page.locator("[data-figure=members]").inner_text() != "0"
    screenshot(page, "console-dashboard")

    page.goto("/console/plugins")
    card = page.locator("#plugin-referral")
    assert card.locator("[data-state=on]").count() == 1
    screenshot(page, "console-plugins")
    card.locator("[data-switch=referral]").click()
    page.wait_for_selector("#plugin-referral [data-state=off]")
    assert not plugin_enabled(memberday_app, "referral")
    assert page.locator("nav.menu a[href='/console/referral/']").count() == 0
    page.locator("#plugin-referral [data-switch=referral]").click()
    page.wait_for_selector("#plugin-referral [data-state=on]")
    assert plugin_enabled(memberday_app, "referral")
    assert page.locator("nav.menu a[href='/console/referral/']").count() == 1

    # A setting through the form generated from the plugin's schema: a bad value is marked, nothing saved.
    page.goto("/console/plugins/member_week")
    page.fill("#f-length_days", "99")
    page.locator("main form button[type=submit]").click()
    assert page.locator("[data-field=length_days] .field-error").count() == 1
    with memberday_app.app_context():
        from core.plugins.host import plugin_settings

        assert plugin_settings("member_week")["length_days"] == 7

    # The language menu in the header: English at once, and kept on the next page.
    page.select_option("header select[name=locale]", "en")
    page.wait_for_function("document.documentElement.lang === 'en'")
    page.goto("/console/orders")
    assert page.get_attribute("html", "lang") == "en" and page.locator("h1").inner_text() == "Orders"
    page.select_option("header select[name=locale]", "zh_Hant")
    page.wait_for_function("document.documentElement.lang === 'zh-Hant'")

    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    for url, name in (("/console/members", "console-members"), ("/console/orders", "console-orders"),
                      ("/console/coupons", "console-coupons"), ("/console/referral/", "console-referral"),
                      ("/console/points_mall/", "console-points-mall"), ("/console/member_week/", "console-member-weeks"),
                      ("/console/member_week/plan", "console-week-planner"), ("/console/operators", "console-operators"),
                      ("/console/account", "console-account")):
        page.goto(url)
        assert page.get_attribute("html", "lang") == "zh-Hant", url
        # The page rendered in Chinese, whole, and its scripts ran without an error.
        heading = page.locator("h1").first.inner_text()
        assert re.search(r"[\u4e00-\u9fff]", heading), (url, heading)
        assert page.locator("main").inner_text().strip(), url
        screenshot(page, name)
    assert errors == [], errors
    page.goto("/console/member_week/")
    page.locator("tr[data-week] a").last.click()  # the demo's ended week, with its report
    page.wait_for_selector("#report")
    screenshot(page, "console-member-week-report")


def test_staff_sign_in_lands_on_the_scanner_and_it_loads(phone, admin, screenshot):
    page = phone("zh-TW")
    sign_in(page, "門市 3")
    page.wait_for_url(re.compile(r"/console/scan$"))
    assert page.locator("#scan-camera").is_visible()
    assert page.locator("#scan-headline").inner_text() == "準備就緒"
    # The built-in decoder is there for browsers without BarcodeDetector.
    assert page.evaluate("typeof window.jsQR") == "function"
    screenshot(page, "console-scanner")
    page.goto("/console/orders")
    assert "沒有權限" in page.locator("h1").inner_text()
