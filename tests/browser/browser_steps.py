"""Plain steps the browser tests share: a member or an operator signing in (the fixtures live in conftest)."""
from __future__ import annotations

import re

from core.testing import last_code

# The ``admin`` fixture's operators sign in to the console with this password.
CONSOLE_PASSWORD = "a long console password"
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


def operator_signs_in(page, name: str, password: str = CONSOLE_PASSWORD) -> None:
    """Sign an operator in on the console's form."""
    page.goto("/console/")
    page.wait_for_url(re.compile(r"/console/sign-in"))
    page.fill("#name", name)
    page.fill("#password", password)
    page.locator("main form button[type=submit]").click()
