"""Plain steps the browser tests share: signing in, what a page must show in its language and on a
phone (the fixtures live in conftest)."""
from __future__ import annotations

import re

from core.testing import english_words, last_code, new_phone

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


# The phone's browser language and the <html lang> a page answers it with.
LANGUAGES = {"zh-TW": "zh-Hant", "zh-CN": "zh-Hans", "en": "en"}


def signed_in_phone(phone, memberday_client, locale: str, name: str):
    """A new member, signed in on a phone that speaks ``locale`` (phone, then the code sent to it)."""
    number = new_phone()
    member = memberday_client.post("/api/v1/members", json={"name": name, "phone": number}).get_json()
    page = phone(locale)
    member_signs_in(page, number)
    return page, member


def fits_the_screen(page) -> bool:
    """Nothing wider than the phone: no sideways scrolling."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def reads_in_its_language(page, locale: str, *allowed: str) -> None:
    lang = LANGUAGES[locale]
    assert page.get_attribute("html", "lang") == lang
    if lang != "en":
        assert english_words(page.content(), lang, allowed=("QR", "Memberday", "Coffee", *allowed)) == []  # the brand's name stays


def in_language(app, locale: str, message: str, **values) -> str:
    """``message`` as the platform's catalogs put it in ``locale`` (what the browser should show)."""
    from flask_babel import force_locale, gettext

    with app.test_request_context(), force_locale(locale):
        return gettext(message, **values)
