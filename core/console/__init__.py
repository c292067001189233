"""The operators' console (/console) and the staff scanner (/console/scan).

Server-rendered pages over the same services as the API: a switch, a refund or a
redemption made here is the very call the API makes. Plugins add their own pages
and menu entries through the ``memberday_console_pages`` hook; a switched-off
plugin's pages answer 404 and leave the menu.
"""
from __future__ import annotations

from flask import Flask

from core.plugins import ConsolePages

CONSOLE_PREFIX = "/console"


def init_console(app: Flask, host) -> None:
    """Register the console, then every plugin's console pages behind the same gate."""
    from core.console.views import (LANGUAGE_NAMES, blp, console_labels, console_locale, console_menu, console_time,
                                    gate)

    app.register_blueprint(blp)
    pages: list[tuple[str, ConsolePages]] = []
    for plugin_id, result in host.setup("memberday_console_pages"):
        if not isinstance(result, ConsolePages):
            host._mark_broken(host.records[plugin_id], "memberday_console_pages must return ConsolePages")
            continue
        app.register_blueprint(result.blueprint, url_prefix=f"{CONSOLE_PREFIX}/{plugin_id}")
        # The gate is added to this app's copy of the blueprint's hooks: the blueprint object is shared by
        # every app built in the process and must stay unchanged.
        app.before_request_funcs.setdefault(result.blueprint.name, []).insert(0, gate)
        host.blueprint_owner[result.blueprint.name] = plugin_id
        pages.append((plugin_id, result))
    app.extensions["memberday_console_pages"] = pages
    if "babel" not in app.extensions:
        # The console's text goes through Flask-Babel's gettext; with no catalogs set up it stays English.
        from flask_babel import Babel

        Babel(app)
    babel = app.extensions["babel"]
    chosen_elsewhere = babel.locale_selector

    def select_locale():
        # On console pages the operator's choice (kept in the session) wins; elsewhere nothing changes.
        return console_locale() or (chosen_elsewhere() if chosen_elsewhere else None)

    babel.locale_selector = select_locale
    app.jinja_env.globals.update(console_menu=console_menu, console_languages=LANGUAGE_NAMES)
    app.jinja_env.filters["console_time"] = console_time
    app.context_processor(console_labels)
