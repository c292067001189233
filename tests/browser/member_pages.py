"""Plain helpers for the browser tests of members' pages (the fixtures live in conftest)."""
from __future__ import annotations

import re

from core.testing import last_code

# A page's own form button (every page also has the language switcher's buttons).
SUBMIT = "form button[type=submit]:not([name=locale])"


def member_signs_in(page, phone_number: str) -> None:
    """Sign a member in on ``page`` as a person does: their phone, then the code sent to it."""
    page.goto("/me/login")
    page.fill("#phone", phone_number)
    page.locator(SUBMIT).click()
    page.wait_for_url(re.compile(r"/me/login/code$"))
    page.fill("#code", last_code(phone_number))
    page.locator(SUBMIT).click()
    page.wait_for_url(re.compile(r"/me$"))
