"""The member's language, on Flask-Babel.

Three locales are supported: ``zh_Hant`` (the default), ``zh_Hans`` and ``en``.
For a request the locale is, in order: one forced for the block
(:func:`in_language`), the saved preference of the member signed in on the page
(or calling the API with their own token), a visitor's
choice from the language switcher (kept in the session cookie), the browser's
``Accept-Language``, then the brand's ``BRAND_LOCALE``. Catalogs come from the
core's ``translations/`` folder and from every plugin's ``memberday_translations``
hook (a catalog directory); dates and times are shown in the brand's time zone.

Python code marks strings with ``_`` (``gettext``) or ``lazy_`` where the string
is built at import time, and ``N_`` where a string is stored in English and
translated when shown (a ledger reason: :func:`translate_stored`); templates use
``_()`` and ``ngettext()``. Money, numbers, dates and times are written for the
locale and in the brand's time zone by :func:`money`, :func:`number`,
:func:`date`, :func:`datetime_` (Jinja filters ``money``, ``number``, ``date``,
``datetime``, ``time``).
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

from decimal import Decimal

from babel import Locale
from flask import current_app, g, has_app_context, has_request_context, request, session
from flask_babel import (Babel, force_locale, format_currency, format_date, format_datetime, format_decimal,
                         format_time, get_locale, get_translations, gettext, lazy_gettext, ngettext)

__all__ = ["LOCALES", "DEFAULT_LOCALE", "LANGUAGE_NAMES", "_", "lazy_", "N_", "ngettext", "gettext", "html_lang",
           "normalise", "in_language", "current_locale", "translate_stored", "stored_template", "money", "number", "date",
           "datetime_", "moment", "init_app"]

CORE_CATALOGS = Path(__file__).parent / "translations"
# The operators' console keeps a catalog of its own (core/console/babel.cfg extracts it).
CONSOLE_CATALOGS = Path(__file__).parent / "console" / "translations"
LOCALES = ("zh_Hant", "zh_Hans", "en")
DEFAULT_LOCALE = "zh_Hant"
# How each locale is written in <html lang> and in the API (BCP 47).
HTML_LANG = {"zh_Hant": "zh-Hant", "zh_Hans": "zh-Hans", "en": "en"}
# Chinese regions that write Traditional characters; every other Chinese is Simplified.
_TRADITIONAL_REGIONS = {"TW", "HK", "MO"}

# Each language named in itself, as the switcher shows it.
LANGUAGE_NAMES = {"zh_Hant": "繁體中文", "zh_Hans": "简体中文", "en": "English"}
# Where a visitor's switcher choice is kept (the signed cookie session).
SESSION_KEY = "locale"

_ = gettext
lazy_ = lazy_gettext


def N_(text: str) -> str:
    """Mark ``text`` for the catalogs and return it unchanged: it is stored in English
    (a ledger reason) and translated where it is shown, with :func:`translate_stored`."""
    return text


# Stored-text templates with placeholders ("Order %(order)s"): the English msgid and the pattern
# that finds its values in a stored string, longest first (see stored_template).
_STORED_TEMPLATES: dict[str, re.Pattern] = {}
_LONGEST_FIRST: list[tuple[str, re.Pattern]] = []  # the same, in the order they are tried
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")
# Stored strings already matched against the templates: the template and its values, or None.
_PARSED_MAX = 4096
_parsed: dict[str, tuple[str, dict] | None] = {}


def stored_template(template: str) -> str:
    """Declare a template whose filled-in English is stored (a ledger reason) and translated when shown.

    Declare it with the template marked for the catalogs and the translators' comment
    ``ledger reason`` on the line above::

        # Translators: ledger reason
        ORDER_REASON = stored_template(N_("Order %(order)s"))

    store ``ORDER_REASON % {"order": "A-1"}``; :func:`translate_stored` later finds the
    values in "Order A-1" and fills them into the reader's translation. The comment lets
    the app know every such template from the catalogs' ``messages.pot`` at start-up, so a
    process that never imported the module that books the reason still shows it translated.
    """
    parts, position = [], 0
    for found in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[position:found.start()]))
        parts.append(f"(?P<{found.group(1)}>.+?)")
        position = found.end()
    parts.append(re.escape(template[position:]))
    _STORED_TEMPLATES[template] = re.compile("".join(parts), re.DOTALL)
    _LONGEST_FIRST[:] = sorted(_STORED_TEMPLATES.items(), key=lambda item: len(item[0]), reverse=True)
    _parsed.clear()
    return template


def _stored_parts(text: str) -> tuple[str, dict] | None:
    """The stored template ``text`` was made from and its values (None: none), remembered for the
    texts seen last (the same reasons are shown again and again, in any language)."""
    try:
        return _parsed[text]
    except KeyError:
        pass
    parts = None
    for template, pattern in _LONGEST_FIRST:
        found = pattern.fullmatch(text)
        if found:
            parts = (template, found.groupdict())
            break
    if len(_parsed) >= _PARSED_MAX:
        _parsed.clear()
    _parsed[text] = parts
    return parts


def _current_translations():
    """Flask-Babel's translations for the locale in use, looked up once per locale in an app
    context (``get_translations`` names the locale and searches its cache on every call)."""
    if not has_app_context():
        return get_translations()
    locale = get_locale()
    cached = g.get("memberday_translations")
    if cached is None or cached[0] is not locale:  # a forced locale is another object
        cached = g.memberday_translations = (locale, get_translations())
    return cached[1]


def translate_stored(text: str | None, **variables) -> str:
    """A string stored in English (marked with ``N_``, or made from a :func:`stored_template`)
    in the language in use now.

    Text the catalogs do not know (an operator's free-text reason) is shown as written.
    """
    if not text:
        return text or ""
    return _translate_stored(_current_translations(), str(text), variables)


def translate_stored_many(texts) -> list[str]:
    """:func:`translate_stored` of each text, with the language looked up once."""
    translations = _current_translations()
    return [_translate_stored(translations, str(text), {}) if text else (text or "") for text in texts]


def _translate_stored(translations, text: str, variables: dict) -> str:
    translated = translations.ugettext(text)
    if variables:
        try:
            return translated % variables
        except (KeyError, ValueError, TypeError):
            return translated
    if translated != text:
        return translated
    parts = _stored_parts(text)
    if parts is not None:
        template, values = parts
        try:
            return translations.ugettext(template) % values
        except (KeyError, ValueError, TypeError):
            return text
    return text


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
        if not member_id and request.headers.get("Authorization"):
            from core.auth.services import current_principal

            principal = current_principal()  # an API call with a member's own token
            member_id = principal.id if principal is not None and principal.kind == "member" else None
        held = g.get("principal_member")  # the member the token was checked against, already read
        if member_id and held is not None and held.id == member_id:
            preference = held.locale
        elif member_id:
            preference = db.session.scalar(db.select(Member.locale).where(Member.id == member_id))
    except Exception:  # no session table yet (first migration), a broken cookie: no preference
        preference = None
    g.memberday_member_locale = normalise(preference)
    return g.memberday_member_locale


def member_preference_read(saved: str | None) -> None:
    """The saved language of the member a bearer token was just checked against, read by the caller
    with its own data: later lookups of the request's language need not read it again. A browser
    signed in as a member (the session cookie) keeps that member's language, as before."""
    if "memberday_member_locale" in g:
        return
    from core.auth.sessions import session_holds

    if session_holds("member"):
        return
    g.memberday_member_locale = normalise(saved)


def visitor_choice() -> str | None:
    """What a visitor picked in the language switcher, kept in the session cookie."""
    value = session.get(SESSION_KEY)
    return value if value in LOCALES else None


def browser_locale() -> str | None:
    """The first language of the browser's ``Accept-Language`` (in its order) that we have, or None."""
    for tag, _quality in request.accept_languages:
        locale = normalise(tag)
        if locale:
            return locale
    return None


def select_locale() -> str:
    if has_request_context():
        return _member_preference() or visitor_choice() or browser_locale() or brand_locale()
    return brand_locale()


def select_timezone() -> str:
    return current_app.config.get("BRAND_TIMEZONE", "Asia/Taipei")


@contextmanager
def in_language(locale_or_member):
    """Render what the block says in a member's (or a locale's) language.

    Replies and notifications go to a member, not to the browser that caused
    them: ``with in_language(member): text = _("…")``. Takes a member, a
    member's id, a locale, or None (the brand's language).
    """
    if isinstance(locale_or_member, int) and not isinstance(locale_or_member, bool):
        locale = _saved_locale(locale_or_member)
    elif isinstance(locale_or_member, str) or locale_or_member is None:
        locale = locale_or_member
    else:
        locale = getattr(locale_or_member, "locale", None)
    with force_locale(normalise(locale) or brand_locale()):
        yield


def currency() -> str:
    return current_app.config.get("BRAND_CURRENCY", "TWD")


def money(amount, currency_code: str | None = None) -> str:
    """An amount of money in the locale's way (``NT$1,200``, ``$1,200.50``); whole amounts
    without decimals."""
    if amount is None:
        return ""
    value = Decimal(str(amount))
    code = currency_code or currency()
    if value == value.to_integral_value():
        locale = Locale.parse(current_locale())
        pattern = locale.currency_formats["standard"].pattern.split(";")[0]
        whole = pattern.replace("0.00", "0")
        return format_currency(value, code, format=whole, currency_digits=False)
    return format_currency(value, code)


def number(value) -> str:
    """A number with the locale's separators (``12,345``)."""
    return "" if value is None else format_decimal(value)


def date(value, format: str = "medium") -> str:
    """A date (or the date of a moment, in the brand's time zone) in the locale's way."""
    if value is None:
        return ""
    if hasattr(value, "hour"):
        from flask_babel import to_user_timezone

        value = to_user_timezone(value).date()
    return format_date(value, format)


def datetime_(value, format: str = "medium") -> str:
    """A moment in the brand's time zone, in the locale's way."""
    return "" if value is None else format_datetime(value, format)


def time(value, format: str = "short") -> str:
    return "" if value is None else format_time(value, format)


def moment(value) -> str:
    """A date and time as a member reads it: the date in words, the time to the minute, in the brand's
    time zone (``2026年12月1日 下午7:00``, ``Dec 1, 2026, 7:00 PM``)."""
    if value is None:
        return ""
    pattern = Locale.parse(current_locale()).datetime_formats["medium"]
    pattern = getattr(pattern, "pattern", pattern)
    return str(pattern).replace("{1}", format_date(value, "medium")).replace("{0}", format_time(value, "short"))


def _saved_locale(member_id: int) -> str | None:
    from core.extensions import db
    from core.members.models import Member

    return db.session.scalar(db.select(Member.locale).where(Member.id == member_id))


def catalog_directories(plugin_directories) -> str:
    """The core's catalogs first, the console's, then each plugin's, as Flask-Babel's setting wants them."""
    directories = [str(CORE_CATALOGS), str(CONSOLE_CATALOGS)] + [str(Path(d)) for d in plugin_directories if d]
    return ";".join(directories)


def register_stored_templates(directories) -> None:
    """Every template a catalog's ``messages.pot`` marks as a ``ledger reason`` (see stored_template)."""
    from babel.messages.pofile import read_po

    for directory in directories:
        pot = Path(directory) / "messages.pot"
        if not pot.is_file():
            continue
        with pot.open("rb") as fileobj:
            for message in read_po(fileobj):
                if isinstance(message.id, str) and "%(" in message.id and any(
                        comment.strip().lower().startswith("ledger reason") for comment in message.auto_comments):
                    stored_template(message.id)


def init_app(app, plugin_directories=()) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = normalise(app.config.get("BRAND_LOCALE")) or DEFAULT_LOCALE
    app.config["BABEL_DEFAULT_TIMEZONE"] = app.config.get("BRAND_TIMEZONE", "Asia/Taipei")
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = catalog_directories(plugin_directories)
    register_stored_templates([CORE_CATALOGS, *plugin_directories])
    Babel(app, locale_selector=select_locale, timezone_selector=select_timezone)
    app.jinja_env.globals.update(html_lang=html_lang, current_locale=current_locale,
                                 LOCALES=LOCALES, LANGUAGE_NAMES=LANGUAGE_NAMES, HTML_LANG=HTML_LANG)
    app.jinja_env.filters.update(money=money, number=number, date=date, datetime=datetime_, time=time, moment=moment,
                                 translate_stored=translate_stored)
