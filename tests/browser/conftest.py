"""A real browser for the members' pages: Playwright driving Debian's Chromium, phone-sized.

One Chromium for the whole session; each test gets fresh browser contexts (cookies,
language). ``MEMBERDAY_SCREENSHOTS=1`` saves the main pages to ``docs/screenshots/``.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("MEMBERDAY_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


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
