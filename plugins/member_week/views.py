"""Member week pages: the week's landing page (share links, the keyword reply) and the member page section."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, redirect, render_template, request, url_for
from markupsafe import Markup

from core.database import utcnow
from core.errors import AppError
from core.pages.views import signed_in_member
from plugins.member_week import PLUGIN, services

pages = PLUGIN.page_blueprint(__name__, url_prefix=None)  # its pages are /member-week/<id>


def _context(week, member, now):
    claimed = services.claimed_benefits(week.id, member.id) if member else set()
    running = services.is_running(week, now)
    target = week.ends_at if running else week.starts_at
    zone = services.brand_zone()
    return {"week": week, "member": member, "claimed": claimed, "running": running,
            "first_day": week.starts_at.astimezone(zone).date(),
            "last_day": (week.ends_at.astimezone(zone) - timedelta(seconds=1)).date(),
            "countdown_to": target, "seconds_left": max(0, int((target - now).total_seconds())),
            }


def member_section(member) -> Markup | None:
    """The running (or next announced) week this member takes part in; None when there is none."""
    now = utcnow()
    week = services.current_week(member.id, now=now)
    if week is None:
        return None
    return Markup(render_template(PLUGIN.template("section.html"), **_context(week, member, now)))


@pages.route("/member-week/<int:week_id>")
def landing(week_id):
    """A week's page: for everyone when the week is for every member, else for its participants only.

    A participant who opens it signed in, inside the window, is engaged."""
    now = utcnow()
    member = signed_in_member()
    try:
        week = services.get_week(week_id)
    except AppError:
        abort(404)
    if member is not None and services.can_see(week, member.id):
        services.record_engagement(week.id, member.id, "page_visit", now)
    elif not (week.status in services.SHOWN_STATUSES and week.for_everyone and member is None):
        abort(404)
    message = request.args.get("claimed")
    return render_template(PLUGIN.template("landing.html"), message=message, **_context(week, member, now))


@pages.route("/member-week/<int:week_id>/claim", methods=["POST"])
def claim(week_id):
    """A claim button: the same service as the API's claim."""
    member = signed_in_member()
    if member is None:
        return redirect(url_for("pages.login"))
    try:
        benefit_id = int(request.form.get("benefit_id", ""))
    except ValueError:
        abort(400)
    try:
        services.claim(week_id, member.id, benefit_id)
        outcome = "ok"
    except AppError as error:
        if error.status == 404:
            abort(404)
        outcome = error.code
    return redirect(url_for("member_week_pages.landing", week_id=week_id, claimed=outcome), code=303)
