"""Member week endpoints: promotions, the planner, weeks, claims and the report."""
from __future__ import annotations

from flask import Response, request
from flask_smorest import Blueprint

from core.auth.services import MANAGERS, current_principal, require_operator, require_principal
from core.i18n import _
from core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed, errors
from core.idempotency import idempotent
from core.schemas import page_of, shared
from plugins.member_week import PLUGIN, report, services
from plugins.member_week.schemas import (ClaimRequestSchema, MemberBenefitSchema, OperatorWeekSchema, PlanArgs,
                                         PromotionListArgs, PromotionSchema, ReportArgs, WeekListArgs, WeekChangeSchema,
                                         WeekSchema, WeekWriteSchema)

blp = PLUGIN.api_blueprint(__name__, url_prefix="/api/v1/member-weeks",
                           description="Member weeks: the planner, weeks, claims and the report.")
promotions = Blueprint("member_week_promotions", __name__, url_prefix="/api/v1/promotions",
                       description="The brand's big promotions, which member weeks are placed around.")


@promotions.route("", methods=["POST"])
@errors("forbidden")
@promotions.arguments(PromotionSchema)
@promotions.response(201, PromotionSchema)
def create_promotion(data):
    """Add a big promotion to the calendar (operators)."""
    require_operator(*MANAGERS)
    return services.create_promotion(data)


@promotions.route("", methods=["GET"])
@errors("forbidden")
@promotions.arguments(PromotionListArgs, location="query")
@promotions.response(200)
def list_promotions(args):
    """The promotions calendar, soonest first (operators)."""
    require_operator(*MANAGERS)
    return page_of(services.promotion_list(args.get("upcoming")), args, shared(PromotionSchema).dump)


def _caller():
    """(principal or None, is operator); a bad token is 401, not a silent anonymous view."""
    principal = current_principal()
    if principal is None and request.headers.get("Authorization"):
        raise Unauthorized()
    if principal is not None and principal.kind == "operator":
        require_operator(*MANAGERS)
        return principal, True
    return principal, False


def _member_view(week, member_id: int | None) -> dict:
    data = shared(WeekSchema).dump(week)
    mine = services.claimed_benefits(week.id, member_id) if member_id else set()
    data["benefits"] = [shared(MemberBenefitSchema).dump(dict(_benefit_fields(benefit), claimed_by_me=benefit.id in mine))
                        for benefit in week.benefits]
    return data


def _benefit_fields(benefit) -> dict:
    return {name: getattr(benefit, name) for name in
            ("id", "title", "kind", "coupon_template_id", "stock", "claimed", "points", "item_id", "points_cost")}


@blp.route("/plan", methods=["GET"])
@errors("forbidden")
@blp.arguments(PlanArgs, location="query")
@blp.response(200)
def plan(args):
    """Proposed windows for the coming months, one a month, placed around the promotions; nothing is created."""
    require_operator(*MANAGERS)
    from core.schemas import When

    when = When()
    items = []
    for proposal in services.plan(args["months"]):
        item = dict(proposal)
        for name in ("starts_at", "ends_at", "announce_at"):
            item[name] = when._serialize(item[name], name, item)
        if item["promotion"]:
            item["promotion"] = shared(PromotionSchema).dump(item["promotion"])
        items.append(item)
    return {"items": items}


@blp.route("", methods=["POST"])
@errors("forbidden", "keyword_taken", overlapping_week=409)
@blp.arguments(WeekWriteSchema)
@blp.response(201, OperatorWeekSchema)
def create_week(data):
    """Schedule a week with its benefits (operators). An overlapping window → 409 overlapping_week."""
    require_operator(*MANAGERS)
    return services.create_week(data)


@blp.route("", methods=["GET"])
@errors("forbidden")
@blp.arguments(WeekListArgs, location="query")
@blp.response(200)
def list_weeks(args):
    """The schedule: every week for operators; announced and running weeks a member takes part in."""
    principal, operator = _caller()
    if operator:
        return page_of(services.week_list(args.get("status")), args, shared(OperatorWeekSchema).dump)
    member_id = principal.id if principal else None
    query = services.visible_weeks(member_id)
    if args.get("status"):
        query = query.where(services.MemberWeek.status == args["status"])
    return page_of(query, args, lambda week: _member_view(week, member_id))


@blp.route("/current", methods=["GET"])
@errors("forbidden")
@blp.response(200)
def current():
    """The running week (or else the next announced one) the caller may see; 404 when there is none."""
    principal, operator = _caller()
    member_id = principal.id if principal and not operator else None
    week = services.current_week(member_id, operator=operator)
    if week is None:
        raise NotFound(_("There is no member week on now."))
    return shared(OperatorWeekSchema).dump(week) if operator else _member_view(week, member_id)


@blp.route("/<int:week_id>", methods=["GET"])
@errors("forbidden")
@blp.response(200)
def get_week(week_id):
    principal, operator = _caller()
    week = services.get_week(week_id)
    if operator:
        return shared(OperatorWeekSchema).dump(week)
    member_id = principal.id if principal else None
    visible = services.can_see(week, member_id) if member_id else (
        week.status in services.SHOWN_STATUSES and week.for_everyone)
    if not visible:
        raise NotFound(_("Member week %(id)s does not exist.", id=week_id))
    return _member_view(week, member_id)


@blp.route("/<int:week_id>", methods=["PATCH"])
@errors("forbidden", "keyword_taken", cancelled=409, already_started=409, already_announced=409,
        overlapping_week=409)
@blp.arguments(WeekChangeSchema(partial=True))
@blp.response(200, OperatorWeekSchema)
def update_week(data, week_id):
    """Change a week that has not started (operators); after the start → 409 already_started."""
    require_operator(*MANAGERS)
    if not data:
        raise ValidationFailed(_("Nothing to change."), fields={"_schema": ["give at least one field"]})
    return services.update_week(week_id, data)


@blp.route("/<int:week_id>/cancel", methods=["POST"])
@errors("forbidden", "idempotency_key_reused", already_cancelled=409, already_ended=409)
@idempotent
@blp.response(200, OperatorWeekSchema)
def cancel_week(week_id):
    """Cancel a week that has not ended (operators)."""
    require_operator(*MANAGERS)
    return services.cancel_week(week_id)


@blp.route("/<int:week_id>/claim", methods=["POST"])
@errors("forbidden", "idempotency_key_reused", not_eligible=403, not_running=409, mall_item=409,
        already_claimed=409, out_of_stock=409)
@idempotent
@blp.arguments(ClaimRequestSchema)
@blp.response(201)
def claim(data, week_id):
    """Claim a benefit (the member; Idempotency-Key). Once per member and benefit.

    409 already_claimed, not_running, out_of_stock, mall_item (taken in the points mall);
    403 not_eligible for a member outside the audience or held out."""
    principal = require_principal()
    if principal.kind != "member":
        raise Forbidden(_("A benefit is claimed by the member, with their own token."))
    record = services.claim(week_id, principal.id, data["benefit_id"])
    body = {"id": record.id, "benefit_id": record.benefit_id, "kind": record.benefit.kind,
            "created_at": record.created_at.isoformat()}
    if record.coupon_id is not None:
        from core.extensions import db
        from core.rewards.models import Coupon
        from core.rewards.services import coupon_status

        coupon = getattr(record, "issued_coupon", None) or db.session.get(Coupon, record.coupon_id)
        body["coupon"] = {"code": coupon.code, "title": coupon.template.title, "status": coupon_status(coupon),
                          "channel": coupon.template.channel,
                          "expires_at": coupon.expires_at.isoformat() if coupon.expires_at else None}
    else:
        body["points"] = record.points
    return body


@blp.route("/<int:week_id>/report", methods=["GET"])
@errors("forbidden")
@blp.arguments(ReportArgs, location="query")
@blp.response(200)
def week_report(args, week_id):
    """The week's report as last computed (operators); ``?format=csv`` gives the same figures as CSV."""
    require_operator(*MANAGERS)
    figures = report.stored(week_id)
    return _report_response(figures, args["format"], week_id)


@blp.route("/<int:week_id>/report/refresh", methods=["POST"])
@errors("forbidden")
@blp.arguments(ReportArgs, location="query")
@blp.response(200)
def refresh_report(args, week_id):
    """Compute the report now and store it (operators)."""
    require_operator(*MANAGERS)
    return _report_response(report.compute(week_id), args["format"], week_id)


def _report_response(figures: dict, format_: str, week_id: int):
    if format_ == "csv":
        return Response(report.as_csv(figures), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="member-week-{week_id}-report.csv"'})
    return dict(figures, computed_at=figures["computed_at"].isoformat())


@blp.route("/<int:week_id>/progress", methods=["GET"])
@errors("forbidden")
@blp.response(200)
def progress(week_id):
    """How far the announcement and the reminder have come (operators)."""
    require_operator(*MANAGERS)
    data = services.progress_of(week_id)
    return {key: value.isoformat() if hasattr(value, "isoformat") else value for key, value in data.items()}
