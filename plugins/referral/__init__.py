"""Referral: every member gets a code, a share link and a QR code; a friend who
follows it and joins (or buys) earns both sides a reward, after a hold that a
refund can cancel, with fraud checks that name their reason.
"""
from __future__ import annotations

from pathlib import Path

from markupsafe import Markup

from core.i18n import _
from core.plugins import PageSection, PeriodicJob, PluginInfo, folder_hooks, hookimpl
from plugins.referral import models  # noqa: F401  (the tables join the metadata when the plugin loads)
from plugins.referral.schemas import ReferralSettingsSchema

HERE = Path(__file__).parent

PLUGIN = PluginInfo(
    id="referral",
    name="Referral",
    description="Member codes, share links and QR codes that bring friends in and reward both sides.",
    settings_schema=ReferralSettingsSchema,
)

memberday_migrations_folder, memberday_template_folders = folder_hooks(HERE)


@hookimpl
def memberday_blueprints(app):
    from plugins.referral.api import blp
    from plugins.referral.views import pages

    return [blp, pages]


@hookimpl
def memberday_console_pages():
    from plugins.referral.console import PAGES

    return PAGES


@hookimpl
def memberday_jobs():
    from plugins.referral import services

    return {PLUGIN.job("release_due"): services.release_due, PLUGIN.job("export_qr"): services.build_qr_export}


@hookimpl
def memberday_periodic_jobs():
    return [PeriodicJob(PLUGIN.job("release_due"), interval=600)]


@hookimpl
def memberday_cli_commands():
    from plugins.referral.cli import referral

    return [referral]


@hookimpl
def memberday_translations():
    return str(HERE / "translations")


@hookimpl
def memberday_member_created(member, context):
    from plugins.referral import services

    services.attribute_join(member, context)


@hookimpl
def memberday_order_paid(order, member):
    from plugins.referral import services

    services.order_paid(order, member)


@hookimpl
def memberday_order_refunded(order, member):
    from plugins.referral import services

    services.order_refunded(order, member)


@hookimpl
def memberday_member_page_sections(member):
    from flask import render_template

    from plugins.referral import services

    info = services.member_referral(member.id)
    return [PageSection(_("Invite friends"), Markup(render_template(PLUGIN.template("section.html"), referral=info,
                                                                 settings=services.settings())))]


@hookimpl
def memberday_seed_demo(members, operator):
    from plugins.referral.demo import seed

    seed(members)


@hookimpl
def memberday_translations():
    return str(HERE / "translations")
