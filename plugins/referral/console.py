"""The referral programme's console pages: funnel and viral coefficient, leaderboard, referrals, QR exports."""
from __future__ import annotations

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import select

from core.console.forms import problems
from core.errors import AppError, Conflict
from core.extensions import db
from core.members.models import Member
from core.plugins import ConsolePages, Headline, MenuEntry
from plugins.referral import PLUGIN, services
from plugins.referral.models import STATUSES, ReferralQrExport
from plugins.referral.schemas import PERIODS, QrExportCreateSchema

# The plugin's name and description as the console's list of plugins shows them (found there by msgid).
LISTED_AS = (_l("Referral"),
             _l("Member codes, share links and QR codes that bring friends in and reward both sides."))

console = Blueprint("referral_console", __name__)

PERIOD_NAMES = {"day": _l("Today"), "week": _l("This week"), "month": _l("This month"), "all": _l("All time")}
STATUS_NAMES = {"pending": _l("pending"), "held": _l("held"), "rewarded": _l("rewarded"),
                "rejected": _l("rejected"), "reversed": _l("reversed")}
REASON_NAMES = {
    services.SELF_REFERRAL: _l("Referred themselves"),
    services.ALREADY_MEMBER: _l("Already a member"),
    services.DUPLICATE_DEVICE: _l("Same device as another friend"),
    services.DUPLICATE_PHONE: _l("Same phone as another friend"),
    services.DAILY_CAP: _l("Over the daily limit"),
    services.MONTHLY_CAP: _l("Over the monthly limit"),
    services.REFUNDED_DURING_HOLD: _l("Refunded during the hold"),
    services.REFUNDED_AFTER_RELEASE: _l("Refunded after the reward"),
}


def _funnel_chart(funnel: dict) -> dict:
    steps = [(_("Visits (clicks and scans)"), funnel["clicks"] + funnel["scans"]), (_("Joined"), funnel["signups"]),
             (_("Qualified"), funnel["qualified"]), (_("Rewarded"), funnel["rewarded"])]
    return {"tooltip": {"trigger": "item"}, "color": ["#0a7d55", "#3f9d74", "#7cc4a4", "#e8a33d"],
            "series": [{"type": "funnel", "sort": "none", "left": "5%", "width": "90%", "minSize": "8%",
                        "label": {"show": True, "position": "inside", "formatter": "{b}: {c}", "color": "#fff"},
                        "data": [{"name": name, "value": value} for name, value in steps]}]}


@console.route("/")
def overview():
    period = request.args.get("period", "month")
    if period not in PERIODS:
        period = "month"
    status = request.args.get("status") or None
    if status not in STATUSES:
        status = None
    funnel = services.funnel(period)
    referrals = db.session.scalars(services.referrals_query(status=status).limit(50)).all()
    ids = {r.referrer_id for r in referrals} | {r.referee_id for r in referrals}
    names = dict(db.session.execute(select(Member.id, Member.name).where(Member.id.in_(ids))).all())
    exports = db.session.scalars(select(ReferralQrExport).order_by(ReferralQrExport.id.desc()).limit(5)).all()
    return render_template(
        PLUGIN.template("console.html"), period=period, periods=PERIODS, period_names=PERIOD_NAMES, funnel=funnel,
        funnel_chart=_funnel_chart(funnel), leaderboard=services.leaderboard(period, 10, reveal=True),
        referrals=referrals, names=names, status=status, statuses=STATUSES, status_names=STATUS_NAMES,
        reason_names=REASON_NAMES, exports=exports)


@console.route("/exports", methods=["POST"])
def export_create():
    raw = (request.form.get("member_ids") or "").replace(",", " ").split()
    body = {"image_format": request.form.get("image_format", "png")}
    if raw:
        body["member_ids"] = [int(part) if part.isdigit() else part for part in raw]
    try:
        data = QrExportCreateSchema().load(body)
        export = services.request_qr_export(data["member_ids"], data["image_format"],
                                            f"operator:{g.console_operator.id}")
    except ValidationError as error:
        flash(_("The export was not started: %(problem)s", problem=problems(error.messages, QrExportCreateSchema())),
              "error")
    except AppError as error:
        flash(_("The export was not started: %(problem)s", problem=problems(error.fields or error.translated(), QrExportCreateSchema())),
              "error")
    else:
        flash(_("Export %(id)s started.", id=export.id), "ok")
    return redirect(url_for("referral_console.overview") + "#exports", code=303)


@console.route("/exports/<int:export_id>")
def export_progress(export_id):
    export = services.get_export(export_id)
    return jsonify({"status": export.status, "done": export.done, "total": export.total, "error": export.error})


@console.route("/exports/<int:export_id>/download")
def export_download(export_id):
    export = services.get_export(export_id)
    path = services.export_path(export) if export.status == "done" else None
    if path is None:
        raise Conflict(_("This export is not ready yet."), code="export_not_ready")
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=export.filename)


def headline() -> Headline:
    funnel = services.funnel("month")
    return Headline(_l("Referral K-factor this month"), f"{funnel['viral_coefficient']:.2f}",
                    "referral_console.overview")


PAGES = ConsolePages(console, menu=(MenuEntry(_l("Referral"), "referral_console.overview"),), headline=headline)
