"""The plugin's words in the member's language.

``_`` is Flask-Babel's ``gettext`` once the app has Babel; ``in_language``
renders a reply or a notification in one member's language, whatever the
request's own locale is (a keyword reply is answered to the channel, not to a
browser).
"""
from __future__ import annotations

from contextlib import contextmanager, nullcontext

from flask import current_app, has_app_context


def _babel_ready() -> bool:
    return has_app_context() and "babel" in current_app.extensions


def _(text: str, **variables) -> str:
    if _babel_ready():
        from flask_babel import gettext

        return gettext(text, **variables)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables) -> str:
    if _babel_ready():
        from flask_babel import ngettext as babel_ngettext

        return babel_ngettext(singular, plural, num, **variables)
    variables.setdefault("num", num)
    return (singular if num == 1 else plural) % variables


def member_locale(member) -> str | None:
    """The language a member chose (None: the brand's default)."""
    return getattr(member, "locale", None) if member is not None else None


@contextmanager
def in_language(member):
    """Render what the block says in ``member``'s language."""
    locale = member_locale(member) or (current_app.config.get("BRAND_LOCALE") if has_app_context() else None)
    if not (_babel_ready() and locale):
        with nullcontext():
            yield
        return
    from flask_babel import force_locale

    with force_locale(locale):
        yield
