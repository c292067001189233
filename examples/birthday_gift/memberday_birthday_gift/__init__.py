"""Birthday gift: a Memberday plugin that gives members a gift in their birthday month.

What it adds, hook by hook:

* a setting schema (points, an optional coupon template, a birthday-month points
  multiplier, a secret for the CRM webhook);
* tables ``birthday_gift_birthdays`` and ``birthday_gift_gifts`` (its own Alembic branch);
* ``/api/v1/birthday-gift/...`` to set and read a birthday, and a signed CRM webhook;
* the ``/birthday`` page and a section on the member page;
* the daily job ``birthday_gift.send_due`` (once a year per member);
* more points for orders paid in the birthday month, and a nudge to new members;
* the command ``memberday birthday-gift send-due``.
"""
from pathlib import Path

from core.i18n import N_
from core.plugins import PeriodicJob, PluginInfo, folder_hooks, hookimpl

from .schemas import BirthdayGiftSettings

HERE = Path(__file__).parent

PLUGIN = PluginInfo(
    id="birthday_gift",
    # Marked for the plugin's catalog (N_ leaves them as they are): the console shows them translated.
    name=N_("Birthday gift"),
    description=N_("Points (and a coupon) in each member's birthday month, once a year, "
                   "and more points for orders in that month."),
    requires_core=">=0.1,<1.0",
    settings_schema=BirthdayGiftSettings,
    # Installing a package should not start giving points away: an operator switches it on.
    enabled_by_default=False,
)

# PLUGIN comes before the models: they name their tables through it, so the id is written only here.
from . import models  # noqa: E402,F401  (the tables must be known to the app's metadata)

SEND_DUE = PLUGIN.job("send_due")

# Alembic finds the migrations in ./migrations, Flask the templates in ./templates.
memberday_migrations_folder, memberday_template_folders = folder_hooks(HERE)


# ---------------------------------------------------------------- setup hooks

@hookimpl
def memberday_blueprints(app):
    from .api import blp as api
    from .views import blp as pages

    return [api, pages]


@hookimpl
def memberday_jobs():
    from .services import send_due

    return {SEND_DUE: send_due}


@hookimpl
def memberday_periodic_jobs():
    # 01:00 UTC is 09:00 in Taipei: gifts arrive in the morning. The job is idempotent,
    # so a missed or doubled run gives nobody a second gift.
    return [PeriodicJob(SEND_DUE, cron="0 1 * * *")]


@hookimpl
def memberday_translations():
    # Catalogs made with `python -m core.catalogs memberday_birthday_gift` (or pybabel; see docs/plugins.md).
    return str(HERE / "translations")


@hookimpl
def memberday_cli_commands():
    from .cli import birthday_gift

    return [birthday_gift]


# ---------------------------------------------------------------- event hooks

@hookimpl
def memberday_member_created(member, context):
    from core.i18n import _, in_language
    from core.notifications.services import notify

    with in_language(member):  # the member's language, not the request's
        notify(member.id, _("Tell us your birthday"),
               _("Set it on your birthday page and get a gift in your birthday month."))


# ---------------------------------------------------------------- filter hooks

@hookimpl
def memberday_points_multiplier(member, order):
    from .services import multiplier_for

    return multiplier_for(member.id, order.paid_at)


@hookimpl
def memberday_member_page_sections(member):
    from .views import member_section

    return [member_section(member)]
