"""The language switcher on every member page: ``POST /language``.

A signed-in member's choice is saved on the member (``Member.locale``), so their
replies and notifications follow it too; a visitor's is kept in the session
cookie. Either way the browser goes back to the page it came from (a relative
``next`` only). The form carries the CSRF token like every other form.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, redirect, request, session

from core.auth.sessions import current_subject
from core.errors import ValidationFailed
from core.i18n import LOCALES, SESSION_KEY, lazy_, normalise
from core.members.services import set_locale

blp = Blueprint("language", __name__)


def parse_locale(value) -> str:
    """One of the three locales, written as ``zh_Hant`` or ``zh-Hant``; anything else is refused."""
    locale = value.replace("-", "_") if isinstance(value, str) else None
    if locale not in LOCALES:
        raise ValidationFailed(lazy_("Choose one of the languages offered."),
                               fields={"locale": [lazy_("Must be one of: zh-Hant, zh-Hans, en.")]})
    return normalise(locale)


def safe_next(value: str | None) -> str:
    """``next`` when it is a path on this site; the home page otherwise."""
    if not value or not isinstance(value, str) or len(value) > 2000:
        return "/"
    if any(ch in value for ch in "\\\r\n\t") or not value.startswith("/") or value.startswith("//"):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


@blp.route("/language", methods=["POST"])
def choose_language():
    locale = parse_locale(request.form.get("locale"))
    member_id = current_subject("member")
    if member_id:
        set_locale(member_id, locale)
    session[SESSION_KEY] = locale
    return redirect(safe_next(request.form.get("next")), code=303)
