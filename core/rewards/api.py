"""Points and coupon endpoints."""
from flask_smorest import Blueprint
from sqlalchemy import select

from core.auth.services import MANAGERS, STAFF, require_operator, require_principal, require_self_or_operator
from core.database import reads_only
from core.errors import errors
from core.idempotency import effect_id, idempotent
from core.members.services import get_member
from core.rewards import reads, services
from core.rewards.models import Coupon, CouponTemplate
from core.rewards.schemas import (CouponAtTillSchema, CouponIssueSchema, CouponSchema, CouponTemplateCreateSchema,
                                  CouponTemplateSchema, PointsAdjustSchema, PointsEntrySchema, PointsSchema,
                                  RedeemResultSchema)
from core.schemas import PageArgs, page_of, shared

blp = Blueprint("rewards", __name__, url_prefix="/api/v1", description="Points ledger and coupons.")


@blp.route("/members/<int:member_id>/points", methods=["GET"])
@errors("forbidden")
@reads.own_page_first
@blp.arguments(PageArgs, location="query")
@blp.response(200, PointsSchema)
def points(args, member_id):
    """The balance, held points, and ledger entries newest first."""
    own_page = reads.own_points_page(member_id, args)  # one statement, when a member reads their own
    if own_page is not None:
        return own_page
    reads_only()  # no BEGIN/ROLLBACK around its statements
    require_self_or_operator(member_id)
    member = get_member(member_id)
    result = page_of(services.history(member_id), args)
    result.update(balance=member.points_balance, pending=member.points_pending)
    return result


@blp.route("/members/<int:member_id>/points", methods=["POST"])
@errors("forbidden", "insufficient_points", "idempotency_key_reused")
@idempotent
@blp.arguments(PointsAdjustSchema)
@blp.response(201, PointsEntrySchema)
def adjust_points(data, member_id):
    """Credit (points > 0) or debit (points < 0) a member by hand (operators; Idempotency-Key)."""
    require_operator(*MANAGERS)
    # Named after this request's effect: a retry under the same key replays, a new request books anew.
    return services.adjust(member_id, data["points"], data["reason"], f"adjustment:{effect_id()}")


@blp.route("/coupon-templates", methods=["POST"])
@errors("forbidden")
@blp.arguments(CouponTemplateCreateSchema)
@blp.response(201, CouponTemplateSchema)
def create_template(data):
    """A coupon or right that can be issued to members (operators)."""
    require_operator(*MANAGERS)
    return services.create_template(**data)


@blp.route("/coupon-templates", methods=["GET"])
@errors("forbidden")
@blp.arguments(PageArgs, location="query")
@blp.response(200)
def list_templates(args):
    require_operator(*STAFF)
    return page_of(select(CouponTemplate).order_by(CouponTemplate.id.desc()), args, shared(CouponTemplateSchema).dump)


@blp.route("/members/<int:member_id>/coupons", methods=["GET"])
@errors("forbidden")
@blp.arguments(PageArgs, location="query")
@blp.response(200)
def member_coupons(args, member_id):
    """The member's coupons, newest first."""
    require_self_or_operator(member_id)
    get_member(member_id)
    query = select(Coupon).where(Coupon.member_id == member_id).order_by(Coupon.id.desc())
    return page_of(query, args, shared(CouponSchema).dump)


@blp.route("/members/<int:member_id>/coupons", methods=["POST"])
@errors("forbidden", "idempotency_key_reused")
@idempotent
@blp.arguments(CouponIssueSchema)
@blp.response(201, CouponSchema)
def issue_coupon(data, member_id):
    """Issue a coupon from a template to a member (operators; Idempotency-Key)."""
    require_operator(*MANAGERS)
    return services.issue_coupon(member_id, data["template_id"])


@blp.route("/coupons/<string(maxlength=32):code>", methods=["GET"])
@blp.response(200, CouponAtTillSchema)
def coupon_at_till(code):
    """A coupon by its code, as the till sees it: title, channel, status, expiry (staff; the owner).

    Another member's code is 404, as is an unknown one.
    """
    principal = require_principal()
    if principal.kind == "operator":
        require_operator(*STAFF)
    return services.coupon_by_code(code, principal)


@blp.route("/coupons/<string:code>/redeem", methods=["POST"])
@errors("forbidden", "already_redeemed", "expired", "void", "wrong_channel", "idempotency_key_reused")
@idempotent
@blp.response(200, RedeemResultSchema)
def redeem(code):
    """Redeem a coupon: its owner online, or staff in a store. Once."""
    principal = require_principal()
    if principal.kind == "operator":
        require_operator(*STAFF)
    coupon = services.redeem_coupon(code, principal)
    return {"status": "redeemed", "code": coupon.code, "member_id": coupon.member_id,
            "title": coupon.template.title, "channel": coupon.redeemed_channel}
