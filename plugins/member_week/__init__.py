"""Member week (會員週): the monthly member day stretched to a window placed around the brand's
big promotions, announced ahead, with benefits, a points multiplier, a random holdout group and a
report that measures the uplift against it.
"""
from __future__ import annotations

from pathlib import Path

from core.plugins import PageSection, PeriodicJob, PluginInfo, folder_hooks, hookimpl
from plugins.member_week.schemas import MemberWeekSettingsSchema

HERE = Path(__file__).parent

PLUGIN = PluginInfo(
    id="member_week",
    name="Member week",
    description="Member weeks around big promotions: announced ahead, benefits, multiplier, holdout and report.",
    settings_schema=MemberWeekSettingsSchema,
)

from plugins.member_week import models  # noqa: E402,F401  (named through PLUGIN; the tables join the metadata)

memberday_migrations_folder, memberday_template_folders = folder_hooks(HERE)


@hookimpl
def memberday_blueprints(app):
    from plugins.member_week.api import blp, promotions
    from plugins.member_week.views import pages

    return [blp, promotions, pages]


@hookimpl
def memberday_console_pages():
    from plugins.member_week.console import PAGES

    return PAGES


@hookimpl
def memberday_jobs():
    from plugins.member_week import report, services

    return {PLUGIN.job("tick"): services.tick, PLUGIN.job("announce"): services.announce,
            PLUGIN.job("remind"): services.remind, PLUGIN.job("deliver"): services.deliver,
            PLUGIN.job("compute_report"): report.compute, PLUGIN.job("refresh_reports"): report.refresh_due}


@hookimpl
def memberday_periodic_jobs():
    return [PeriodicJob(PLUGIN.job("tick"), interval=60), PeriodicJob(PLUGIN.job("refresh_reports"), interval=900)]


@hookimpl
def memberday_cli_commands():
    from plugins.member_week.cli import member_week

    return [member_week]


@hookimpl
def memberday_translations():
    return str(HERE / "translations")


@hookimpl
def memberday_points_multiplier(member, order):
    from plugins.member_week import services

    return services.multiplier_for(member, order)


@hookimpl(optionalhook=True)  # declared by the points mall, which may not be installed
def memberday_mall_offers(member):
    from plugins.member_week import services

    return services.mall_offers(member)


@hookimpl
def memberday_keyword_reply(member, text, channel, sender):
    from plugins.member_week import services

    return services.keyword_reply(member, text)


@hookimpl
def memberday_member_page_sections(member):
    from plugins.member_week.views import member_section

    html = member_section(member)
    if html is None:
        return []
    from core.i18n import _

    return [PageSection(_("Member week"), html)]


@hookimpl
def memberday_seed_demo(members, operator):
    from plugins.member_week.demo import seed

    seed(members)


@hookimpl
def memberday_translations():
    return str(HERE / "translations")
