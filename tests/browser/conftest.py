"""A real browser for the members' pages: Playwright driving Debian's Chromium, phone-sized.

One Chromium for the whole session; each test gets fresh browser contexts (cookies,
language). ``MEMBERDAY_SCREENSHOTS=1`` saves the main pages to ``docs/screenshots/``.
"""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MEMBERDAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CONSOLE_PASSWORD = "a long console password"


@pytest.fixture(scope="session")
def chromium():
    if not os.path.exists(CHROMIUM):
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


@pytest.fixture
def phone(chromium, memberday_page_server):
    """``phone(locale)`` → a new page on a phone-sized screen whose browser speaks ``locale`` (e.g. ``zh-TW``)."""
    contexts = []

    def open_phone(locale: str = "zh-TW"):
        context = chromium.new_context(viewport=PHONE, device_scale_factor=1, is_mobile=True, has_touch=True,
                                       locale=locale, base_url=memberday_page_server.url)
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield open_phone
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot():
    """``screenshot(page, name)``: saved to docs/screenshots/NAME.png when MEMBERDAY_SCREENSHOTS=1."""

    def take(page, name: str) -> None:
        if os.environ.get("MEMBERDAY_SCREENSHOTS") == "1":
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def admin(memberday_app):
    """The demo brand (members, orders, coupons, campaigns), an admin "林小姐" and a staff member "門市 3",
    both with the console password ``CONSOLE_PASSWORD``; the admin's name."""
    from core.auth.services import create_operator
    from core.demo import seed

    with memberday_app.app_context():
        seed()
        create_operator("林小姐", "admin", password=CONSOLE_PASSWORD)
        create_operator("門市 3", "staff", password=CONSOLE_PASSWORD)
    return "林小姐"


@pytest.fixture
def console_sign_in():
    """``console_sign_in(page, name)``: sign an operator of the ``admin`` fixture in on the console's form."""

    def sign_in(page, name: str, password: str = CONSOLE_PASSWORD) -> None:
        page.goto("/console/")
        page.wait_for_url(re.compile(r"/console/sign-in"))
        page.fill("#name", name)
        page.fill("#password", password)
        page.locator("main form button[type=submit]").click()

    return sign_in
