"""The member's language, on Flask-Babel.

Three locales are supported: ``zh_Hant`` (the default), ``zh_Hans`` and ``en``.
For a request the locale is, in order: one forced for the block
(:func:`in_language`), the signed-in member's saved preference, the browser's
``Accept-Language``, then the brand's ``BRAND_LOCALE``. Catalogs come from the
core's ``translations/`` folder and from every plugin's ``memberday_translations``
hook (a catalog directory); dates and times are shown in the brand's time zone.

Python code marks strings with ``_`` (``gettext``) or ``lazy_`` where the string
is built at import time; templates use ``_()`` and ``ngettext()``.
"""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from babel import Locale
from flask import current_app, g, has_request_context, request
from flask_babel import Babel, force_locale, get_locale, gettext, lazy_gettext, ngettext

__all__ = ["LOCALES", "DEFAULT_LOCALE", "_", "lazy_", "ngettext", "gettext", "html_lang",
           "normalise", "in_language", "current_locale", "init_app"]

CORE_CATALOGS = Path(__file__).parent / "translations"
# The operators' console keeps a catalog of its own (core/console/babel.cfg extracts it).
CONSOLE_CATALOGS = Path(__file__).parent / "console" / "translations"
LOCALES = ("zh_Hant", "zh_Hans", "en")
DEFAULT_LOCALE = "zh_Hant"
# How each locale is written in <html lang> and in the API (BCP 47).
HTML_LANG = {"zh_Hant": "zh-Hant", "zh_Hans": "zh-Hans", "en": "en"}
# Chinese regions that write Traditional characters; every other Chinese is Simplified.
_TRADITIONAL_REGIONS = {"TW", "HK", "MO"}

_ = gettext
lazy_ = lazy_gettext


def normalise(tag: str | None) -> str | None:
    """``zh-TW``, ``zh_Hant_HK``, ``zh-Hans``, ``zh-CN``, ``en-GB``… → a supported locale, or None."""
    if not tag or not isinstance(tag, str) or len(tag) > 35:
        return None
    parts = [part for part in tag.replace("_", "-").split("-") if part]
    if not parts:
        return None
    language = parts[0].lower()
    rest = [part.title() if len(part) == 4 else part.upper() for part in parts[1:]]
    if language == "en":
        return "en"
    if language == "zh":
        if "Hant" in rest or _TRADITIONAL_REGIONS & set(rest):
            return "zh_Hant"
        if "Hans" in rest or rest:
            return "zh_Hans"
        return "zh_Hant"
    return None


def html_lang(locale: str | Locale | None = None) -> str:
    """The BCP 47 tag for ``<html lang>`` of a locale (default: the request's)."""
    key = str(locale if locale is not None else get_locale() or DEFAULT_LOCALE)
    return HTML_LANG.get(key, HTML_LANG.get(normalise(key) or "", "zh-Hant"))


def current_locale() -> str:
    """The supported locale in use now (``zh_Hant``, ``zh_Hans`` or ``en``)."""
    return normalise(str(get_locale() or "")) or brand_locale()


def brand_locale() -> str:
    return normalise(current_app.config.get("BRAND_LOCALE")) or DEFAULT_LOCALE


def _member_preference() -> str | None:
    if "memberday_member_locale" in g:
        return g.memberday_member_locale
    preference = None
    try:
        from core.auth.sessions import current_subject
        from core.extensions import db
        from core.members.models import Member

        member_id = current_subject("member")
        if member_id:
            preference = db.session.scalar(db.select(Member.locale).where(Member.id == member_id))
    except Exception:  # no session table yet (first migration), a broken cookie: no preference
        preference = None
    g.memberday_member_locale = normalise(preference)
    return g.memberday_member_locale


def select_locale() -> str:
    if has_request_context():
        preference = _member_preference()
        if preference:
            return preference
        for tag, _quality in request.accept_languages:
            locale = normalise(tag)
            if locale:
                return locale
    return brand_locale()


def select_timezone() -> str:
    return current_app.config.get("BRAND_TIMEZONE", "Asia/Taipei")


@contextmanager
def in_language(locale_or_member):
    """Render what the block says in a member's (or a locale's) language.

    Replies and notifications go to a member, not to the browser that caused
    them: ``with in_language(member): text = _("…")``.
    """
    locale = locale_or_member if isinstance(locale_or_member, str) or locale_or_member is None \
        else getattr(locale_or_member, "locale", None)
    with force_locale(normalise(locale) or brand_locale()):
        yield


def catalog_directories(plugin_directories) -> str:
    """The core's catalogs first, the console's, then each plugin's, as Flask-Babel's setting wants them."""
    directories = [str(CORE_CATALOGS), str(CONSOLE_CATALOGS)] + [str(Path(d)) for d in plugin_directories if d]
    return ";".join(directories)


def init_app(app, plugin_directories=()) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = normalise(app.config.get("BRAND_LOCALE")) or DEFAULT_LOCALE
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config.get("BRAND_TIMEZONE", "Asia/Taipei")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = catalog_directories(plugin_directories)
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.globals.update(html_lang=html_lang, current_locale=current_locale,
                                 LOCALES=LOCALES)
