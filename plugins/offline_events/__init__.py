"""Offline events (線下粉絲趴): keyword sign-up for fan parties, QR tickets, a door check-in that never
lets a ticket in twice, and online rights for coming.

Members sign up through the API, a chat keyword (e.g. 報名) or a button on their
page: confirmed while there are seats, then waitlisted in arrival order. Each
registration has an unguessable ticket code, shown as a QR code on the ticket
page. Staff check tickets in at the door -- online, or offline from the event's
check-in list and uploaded later -- and a check-in grants the event's
attendance points and coupon in the same transaction. A second keyword (e.g.
精粉節) gives members the event's online coupon. The report follows attendees
and no-shows into the online shop for 30 days.
"""
from pathlib import Path

from core.plugins import PageSection, PluginInfo, folder_hooks, hookimpl

HERE = Path(__file__).parent

PLUGIN = PluginInfo(
    id="offline_events",
    name="Offline events",
    description="Fan parties with keyword sign-up, a waitlist, QR tickets and check-in that grants online rights.",
)

from plugins.offline_events import models  # noqa: E402,F401  (named through PLUGIN; the tables join the metadata)

memberday_migrations_folder, memberday_template_folders = folder_hooks(HERE)


@hookimpl
def memberday_blueprints(app):
    from plugins.offline_events.api import blp
    from plugins.offline_events.views import pages

    return [blp, pages]


@hookimpl
def memberday_console_pages():
    from plugins.offline_events.console import PAGES

    return PAGES


@hookimpl
def memberday_translations():
    return str(HERE / "translations")


@hookimpl
def memberday_keyword_reply(member, text, channel, sender):
    from plugins.offline_events import services

    return services.keyword_reply(member, text, channel, sender)


@hookimpl
def memberday_member_page_sections(member):
    from core.i18n import _
    from plugins.offline_events.views import member_section

    html = member_section(member)
    return [PageSection(_("Events"), html)] if html is not None else []


@hookimpl
def memberday_seed_demo(members, operator):
    from plugins.offline_events.demo import seed

    seed(members)


@hookimpl
def memberday_translations():
    return str(HERE / "translations")
