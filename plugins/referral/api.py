"""Referral endpoints: a member's code and numbers, the operators' list, funnel and exports, the leaderboard."""
from flask import send_file
from flask_smorest import Blueprint

from core.auth.services import MANAGERS, current_principal, require_operator, require_self_or_operator
from core.errors import Conflict, errors
from core.members.services import get_member
from core.schemas import page_of
from plugins.referral import services
from plugins.referral.schemas import (LeaderboardArgs, MemberReferralSchema, PeriodArgs, QrExportCreateSchema,
                                      QrExportSchema, ReferralListArgs, ReferralSchema)

blp = Blueprint("referral_api", __name__, url_prefix="/api/v1", description="Referral programme.")


@blp.route("/members/<int:member_id>/referral", methods=["GET"])
@errors("forbidden")
@blp.response(200, MemberReferralSchema)
def member_referral(member_id):
    """The member's code, share link, QR images and referral numbers (created on first use)."""
    require_self_or_operator(member_id)
    get_member(member_id)
    return services.member_referral(member_id)


@blp.route("/referrals", methods=["GET"])
@errors("forbidden")
@blp.arguments(ReferralListArgs, location="query")
@blp.response(200)
def list_referrals(args):
    """Referrals, newest first, filterable by referrer, referee and status (operators)."""
    require_operator(*MANAGERS)
    query = services.referrals_query(args.get("referrer_id"), args.get("referee_id"), args.get("status"))
    return page_of(query, args, ReferralSchema().dump)


@blp.route("/referral/leaderboard", methods=["GET"])
@errors("forbidden")
@blp.arguments(LeaderboardArgs, location="query")
@blp.response(200)
def leaderboard(args):
    """Top referrers by friends who qualified in the period (day, week, month or all). Names are masked
    unless an operator asks."""
    principal = current_principal()
    reveal = principal is not None and principal.is_operator()
    result = services.leaderboard(args["period"], args["limit"], reveal=reveal)
    result["since"] = result["since"].isoformat() if result["since"] else None
    return result


@blp.route("/referral/funnel", methods=["GET"])
@errors("forbidden")
@blp.arguments(PeriodArgs, location="query")
@blp.response(200)
def funnel(args):
    """Clicks, scans, sign-ups, qualified, rewarded, and the viral coefficient for a period (operators)."""
    require_operator(*MANAGERS)
    result = services.funnel(args["period"])
    result["since"] = result["since"].isoformat() if result["since"] else None
    return result


@blp.route("/referral/qr-exports", methods=["POST"])
@errors("forbidden", worker_required=409)
@blp.arguments(QrExportCreateSchema)
@blp.response(202, QrExportSchema)
def create_qr_export(data):
    """Start a ZIP of QR images for posters: the given members, or every member (operators)."""
    principal = require_operator(*MANAGERS)
    return services.request_qr_export(data["member_ids"], data["image_format"], principal.key)


@blp.route("/referral/qr-exports/<int:export_id>", methods=["GET"])
@errors("forbidden")
@blp.response(200, QrExportSchema)
def get_qr_export(export_id):
    """An export's progress."""
    require_operator(*MANAGERS)
    return services.get_export(export_id)


@blp.route("/referral/qr-exports/<int:export_id>/download", methods=["GET"])
@errors("forbidden", export_not_ready=409)
@blp.response(200, content_type="application/zip")
def download_qr_export(export_id):
    """The finished ZIP; ``409 export_not_ready`` until the job is done."""
    require_operator(*MANAGERS)
    export = services.get_export(export_id)
    path = services.export_path(export) if export.status == "done" else None
    if path is None:
        raise Conflict(f"Export {export_id} is {export.status}.", code="export_not_ready")
    return send_file(path, mimetype="application/zip", as_attachment=True, download_name=export.filename)
