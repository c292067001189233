"""Points mall (積分商城): members spend points on rewards and third-party vouchers.

Operators keep a catalogue of items with a points cost, stock, per-member
limit, minimum tier and sale window; an item may carry a pool of voucher codes.
A redemption spends the points through the core ledger and takes stock and
codes in one transaction. Other plugins make items exclusive or cheaper for
some members through ``memberday_mall_offers``, a hook the mall declares itself
(``plugins/points_mall/hookspecs.py``).
"""
from pathlib import Path

from core.i18n import _
from core.plugins import PageSection, PluginInfo, folder_hooks, hookimpl
from plugins.points_mall.schemas import MallSettingsSchema

HERE = Path(__file__).parent

PLUGIN = PluginInfo(
    id="points_mall",
    name="Points mall",
    description="A catalogue members buy with points, with third-party voucher code pools.",
    settings_schema=MallSettingsSchema,
)

from plugins.points_mall import models  # noqa: E402,F401  (named through PLUGIN; the tables join the metadata)

memberday_migrations_folder, memberday_template_folders = folder_hooks(HERE)


@hookimpl
def memberday_add_hookspecs(pluginmanager):
    from plugins.points_mall import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@hookimpl
def memberday_blueprints(app):
    from plugins.points_mall.api import blp
    from plugins.points_mall.views import pages

    return [blp, pages]


@hookimpl
def memberday_console_pages():
    from plugins.points_mall.console import PAGES

    return PAGES


@hookimpl
def memberday_cli_commands():
    from plugins.points_mall.cli import mall

    return [mall]


@hookimpl
def memberday_translations():
    return str(HERE / "translations")


@hookimpl
def memberday_member_page_sections(member):
    from plugins.points_mall.views import member_section

    return [PageSection(_("Points mall"), member_section(member))]


@hookimpl
def memberday_seed_demo(members, operator):
    from plugins.points_mall.demo import seed

    seed(members)


@hookimpl
def memberday_translations():
    return str(HERE / "translations")
