"""The mall's part of the member page: what the member can take now, and what is a few points away."""
from flask import render_template
from markupsafe import Markup

from plugins.points_mall import PLUGIN, services

SHOWN = 6


def member_section(member) -> Markup:
    takeable, short = services.member_catalogue(member)
    return Markup(render_template(PLUGIN.template("section.html"), member=member,
                                  takeable=takeable[:SHOWN], short=short[:3]))
