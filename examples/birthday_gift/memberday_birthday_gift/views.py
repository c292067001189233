"""The member's birthday page and the section on the member page."""
from flask import redirect, render_template, request, url_for
from markupsafe import Markup

from core.errors import AppError
from core.i18n import _
from core.pages.views import signed_in_member
from core.plugins import PageSection

from . import PLUGIN, services
from .schemas import BirthdayInSchema

blp = PLUGIN.page_blueprint(__name__, url_prefix=None)  # its page is /birthday


@blp.route("/birthday", methods=["GET", "POST"])
def birthday_page():
    """Shows the signed-in member's birthday and gift; lets them set the birthday once."""
    member = signed_in_member()
    if member is None:
        return redirect(url_for("pages.login"))
    error = None
    if request.method == "POST":
        errors = BirthdayInSchema().validate({"month": _int(request.form.get("month")),
                                              "day": _int(request.form.get("day"))})
        if errors:
            error = _("Please choose a real day.")
        else:
            try:
                services.set_birthday(member.id, int(request.form["month"]), int(request.form["day"]),
                                      set_by="member")
            except AppError as exc:
                error = exc.translated()
            else:
                return redirect(url_for("birthday_gift_pages.birthday_page"), code=303)
    birthday = services.get_birthday(member.id)
    gift = services.describe(member.id)["gift"] if birthday else None
    status = 200 if error is None else 400
    return render_template(PLUGIN.template("birthday.html"), member=member, birthday=birthday, gift=gift,
                           points=services.settings()["gift_points"], error=error), status


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def member_section(member) -> PageSection:
    birthday = services.get_birthday(member.id)
    html = render_template(PLUGIN.template("section.html"), birthday=birthday,
                           points=services.settings()["gift_points"])
    return PageSection(_("Birthday gift"), Markup(html))
