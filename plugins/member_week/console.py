"""Member week console pages: the weeks and their status, creating, changing and cancelling a week, the
promotions calendar, the 12-month plan to accept, and each week's report with its chart and CSV.

Every page calls the plugin's own services and schemas, as the API does: a week created here is
validated by ``WeekWriteSchema`` and scheduled by ``services.create_week``.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select

from core.console.forms import form_fields, problems, read_form
from core.database import utcnow
from core.errors import AppError
from core.extensions import db
from core.plugins import ConsolePages, Headline, MenuEntry
from plugins.member_week import report, services
from plugins.member_week.models import WEEK_STATUSES, MemberWeek
from plugins.member_week.schemas import PromotionSchema, WeekChangeSchema, WeekWriteSchema

# The plugin's name and description as the console's list of plugins shows them (found there by msgid).
LISTED_AS = (_l("Member week"),
             _l("Member weeks around big promotions: announced ahead, benefits, multiplier, holdout and report."))

console = Blueprint("member_week_console", __name__)

STATUS_NAMES = {"scheduled": _l("scheduled"), "announced": _l("announced"), "running": _l("running"),
                "ended": _l("ended"), "cancelled": _l("cancelled")}
FIELD_LABELS = {
    "name": _l("Name of the week"), "starts_at": _l("Starts"), "ends_at": _l("Ends"),
    "announce_at": _l("Announce on (empty: the setting's days before the start)"),
    "points_multiplier": _l("Points multiplier (1 to 10, empty: 1)"),
    "audience": _l("Audience (JSON, e.g. {\"stages\": [\"at_risk\"]}; {} is every member)"),
    "holdout_percent": _l("Holdout: the percentage of the audience kept out, to measure the uplift"),
    "keyword": _l("Keyword members send"), "promotion_id": _l("Placed around the promotion"),
    "benefits": _l("Benefits (JSON list, e.g. [{\"title\": \"Free latte\", \"kind\": \"coupon\", "
                   "\"coupon_template_id\": 1, \"stock\": 500}])"),
}
PROMOTION_LABELS = {"name": _l("Name of the promotion"), "starts_at": _l("Starts"), "ends_at": _l("Ends")}
# The holdout's seed is random unless given through the API; the console does not ask for it.
EXCLUDE = ("holdout_seed",)
BENEFIT_FIELDS = ("title", "kind", "coupon_template_id", "stock", "points", "item_id", "points_cost")


def _labelled(fields_, labels):
    for field in fields_:
        if field.name in labels:
            field.label = str(labels[field.name])
    return fields_


def _week_form(values=None, errors=None):
    """The week form generated from ``WeekWriteSchema``; the promotion is picked from the calendar."""
    fields_ = _labelled(form_fields(WeekWriteSchema(), values, errors, exclude=EXCLUDE), FIELD_LABELS)
    promotions = db.session.scalars(services.promotion_list(upcoming=True).limit(100)).all()
    for field in fields_:
        if field.name == "promotion_id":
            field.kind = "select"
            field.choices = [("", "—")] + [(str(p.id), p.name) for p in promotions]
            field.value = str(field.value) if field.value not in (None, "") else ""
    return fields_


def _week_values(week: MemberWeek) -> dict:
    return {"name": week.name, "starts_at": week.starts_at, "ends_at": week.ends_at, "announce_at": week.announce_at,
            "points_multiplier": week.points_multiplier, "audience": week.audience or {},
            "holdout_percent": week.holdout_percent, "keyword": week.keyword, "promotion_id": week.promotion_id,
            "benefits": [{name: getattr(b, name) for name in BENEFIT_FIELDS if getattr(b, name) is not None}
                         for b in week.benefits]}


def _said(error: AppError) -> str:
    """A refusal of the week services in the page's language (their own messages are for the API)."""
    if error.code == "overlapping_week":
        other = db.session.get(MemberWeek, error.extra["week_id"]) if error.extra.get("week_id") else None
        return _("This window overlaps “%(name)s”.", name=other.name) if other else \
            _("This window overlaps another member week.")
    return {"already_started": _("This week has started; it can no longer be changed."),
            "already_announced": _("The audience was fixed when the week was announced."),
            "cancelled": _("This week was cancelled."),
            "already_cancelled": _("this week is already cancelled."),
            "already_ended": _("this week has ended.")}.get(error.code, error.translated())


def _refusal(error: AppError) -> dict:
    """An AppError as form errors: the fields it names, else the message at the top."""
    return error.fields or {"_schema": [_said(error)]}


@console.route("/")
def weeks():
    status = request.args.get("status") or None
    if status not in WEEK_STATUSES:
        status = None
    rows = db.session.scalars(services.week_list(status).limit(100)).all()
    promotions = db.session.scalars(services.promotion_list(upcoming=True).limit(50)).all()
    return render_template("member_week/console_weeks.html", weeks=rows, status=status, statuses=WEEK_STATUSES,
                           status_names=STATUS_NAMES, promotions=promotions,
                           promotion_form=_labelled(form_fields(PromotionSchema()), PROMOTION_LABELS))


@console.route("/weeks/new", methods=["GET", "POST"])
def week_new():
    schema = WeekWriteSchema()
    values, errors, status = None, None, 200
    if request.method == "POST":
        values = read_form(schema, request.form, exclude=EXCLUDE)
        try:
            week = services.create_week(schema.load(values))
        except ValidationError as error:
            errors, status = error.messages, 400
        except AppError as error:
            errors, status = _refusal(error), error.status
        else:
            flash(_("“%(name)s” is scheduled.", name=week.name), "ok")
            return redirect(url_for("member_week_console.week", week_id=week.id), code=303)
        flash(_("The week was not created: see the marked fields."), "error")
    return render_template("member_week/console_week_form.html", week=None, form=_week_form(values, errors),
                           errors=errors or {}), status


def _changes(week: MemberWeek, loaded: dict) -> dict:
    """What the form changes: a field the operator left as it was is not sent (an announced week's
    audience stays fixed even though the form shows it)."""
    current = _week_values(week)
    changes = {}
    for name, value in loaded.items():
        before = current.get(name)
        if name == "benefits":
            before = [dict(b) for b in before]
            value = [{k: v for k, v in b.items() if v is not None} for b in value]
        if name == "points_multiplier" and before is not None:
            before = Decimal(before)
        if value != before:
            changes[name] = value
    return changes


@console.route("/weeks/<int:week_id>/edit", methods=["GET", "POST"])
def week_edit(week_id):
    week = services.get_week(week_id)
    values, errors, status = _week_values(week), None, 200
    if request.method == "POST":
        schema = WeekChangeSchema(partial=True)
        values = read_form(schema, request.form, exclude=EXCLUDE)
        try:
            changes = _changes(week, schema.load(values))
            if changes:
                services.update_week(week_id, changes)
        except ValidationError as error:
            errors, status = error.messages, 400
        except AppError as error:
            errors, status = _refusal(error), error.status
        else:
            flash(_("Saved.") if changes else _("Nothing was changed."), "ok")
            return redirect(url_for("member_week_console.week", week_id=week_id), code=303)
        flash(_("Not saved: see the marked fields."), "error")
    return render_template("member_week/console_week_form.html", week=week, form=_week_form(values, errors),
                           errors=errors or {}), status


@console.route("/weeks/<int:week_id>/cancel", methods=["POST"])
def week_cancel(week_id):
    try:
        week = services.cancel_week(week_id)
    except AppError as error:
        if error.status == 404:
            raise
        flash(_("Not cancelled: %(problem)s", problem=_said(error)), "error")
    else:
        flash(_("“%(name)s” is cancelled: it no longer shows, gives or multiplies.", name=week.name), "ok")
    return redirect(url_for("member_week_console.week", week_id=week_id), code=303)


def _uplift_chart(figures: dict) -> dict | None:
    """Conversion of participants and holdout, and the uplift with its 95 % interval (a box from low to high)."""
    uplift = figures["uplift"]
    if uplift["conversion_rate"] is None:
        return None
    low, high = uplift["conversion_rate_ci95"]
    point = [round(100 * value, 2) for value in (low, low, uplift["conversion_rate"], high, high)]
    holdout = round(100 * (figures["holdout"]["conversion_rate"] or 0), 2)
    participants = round(holdout + 100 * uplift["conversion_rate"], 2)  # the uplift is participants - holdout
    label = _("Uplift, percentage points (95%)")
    return {
        "tooltip": {"trigger": "item"},
        "grid": [{"left": 110, "right": 24, "top": 16, "height": 90}, {"left": 110, "right": 24, "top": 150, "height": 60}],
        "xAxis": [{"type": "value", "gridIndex": 0, "name": "%", "max": 100 if max(participants, holdout) > 50 else None},
                  {"type": "value", "gridIndex": 1, "name": _("pts")}],
        "yAxis": [{"type": "category", "gridIndex": 0, "data": [_("Holdout"), _("Participants")]},
                  {"type": "category", "gridIndex": 1, "data": [label]}],
        "series": [
            {"type": "bar", "name": _("Conversion rate"), "xAxisIndex": 0, "yAxisIndex": 0,
             "label": {"show": True, "position": "right", "formatter": "{c} %"},
             "data": [{"value": holdout, "itemStyle": {"color": "#9aa0a6"}},
                      {"value": participants, "itemStyle": {"color": "#0a7d55"}}]},
            {"type": "boxplot", "name": label, "xAxisIndex": 1, "yAxisIndex": 1, "boxWidth": [18, 28],
             "itemStyle": {"color": "#e8f3ee", "borderColor": "#0a7d55"}, "data": [point],
             "markLine": {"symbol": "none", "lineStyle": {"color": "#b3261e", "type": "dashed"},
                          "data": [{"xAxis": 0}]}},
        ],
    }


@console.route("/weeks/<int:week_id>")
def week(week_id):
    week_ = services.get_week(week_id)
    figures = report.stored(week_id)
    return render_template("member_week/console_week.html", week=week_, figures=figures, status_names=STATUS_NAMES,
                           chart=_uplift_chart(figures), now=utcnow())


@console.route("/weeks/<int:week_id>/report/refresh", methods=["POST"])
def report_refresh(week_id):
    report.compute(week_id)
    flash(_("The report was computed again."), "ok")
    return redirect(url_for("member_week_console.week", week_id=week_id), code=303)


@console.route("/weeks/<int:week_id>/report.csv")
def report_csv(week_id):
    figures = report.stored(week_id)
    return Response(report.as_csv(figures), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="member-week-{week_id}-report.csv"'})


@console.route("/promotions", methods=["POST"])
def promotion_create():
    schema = PromotionSchema()
    data = read_form(schema, request.form)
    try:
        promotion = services.create_promotion(schema.load(data))
    except ValidationError as error:
        flash(_("The promotion was not added: %(problem)s", problem=problems(error.messages, labels=PROMOTION_LABELS)), "error")
    else:
        flash(_("“%(name)s” is on the calendar.", name=promotion.name), "ok")
    return redirect(url_for("member_week_console.weeks") + "#promotions", code=303)


@console.route("/plan")
def plan():
    months = request.args.get("months", 12, type=int)
    months = min(max(months or 12, 1), 24)
    proposals = services.plan(months)
    existing = {week.id: week for week in db.session.scalars(
        select(MemberWeek).where(MemberWeek.id.in_({p["overlaps_week_id"] for p in proposals
                                                    if p["overlaps_week_id"]}))).all()}
    return render_template("member_week/console_plan.html", proposals=proposals, existing=existing, months=months)


@console.route("/plan/accept", methods=["POST"])
def plan_accept():
    """Schedule one proposal of the plan as it stands (change it afterwards like any week)."""
    form = request.form
    promotion_id = form.get("promotion_id", type=int)
    data = {"name": (form.get("name") or "").strip(), "starts_at": form.get("starts_at", ""),
            "ends_at": form.get("ends_at", ""), "announce_at": form.get("announce_at") or None,
            "promotion_id": promotion_id}
    try:
        loaded = WeekWriteSchema().load(data)
        if loaded["announce_at"] is not None and loaded["announce_at"] < utcnow():
            loaded["announce_at"] = None  # the plan was read a while ago: announce from now
        week = services.create_week(loaded)
    except ValidationError as error:
        flash(_("Not scheduled: %(problem)s", problem=problems(error.messages, labels=FIELD_LABELS)), "error")
        return redirect(url_for("member_week_console.plan"), code=303)
    except AppError as error:
        flash(_("Not scheduled: %(problem)s", problem=_said(error)), "error")
        return redirect(url_for("member_week_console.plan"), code=303)
    flash(_("“%(name)s” is scheduled; add its benefits.", name=week.name), "ok")
    return redirect(url_for("member_week_console.week_edit", week_id=week.id), code=303)


def headline() -> Headline:
    now = utcnow()
    current = services.current_week(None, operator=True, now=now)
    if current is None:
        return Headline(_l("Member week"), _("none planned"), "member_week_console.weeks")
    label = _l("Member week on now") if services.is_running(current, now) else _l("Next member week")
    return Headline(label, current.name, "member_week_console.weeks")


PAGES = ConsolePages(console, menu=(MenuEntry(_l("Member weeks"), "member_week_console.weeks"),
                                    MenuEntry(_l("Week planner"), "member_week_console.plan")), headline=headline)
