"""Member endpoints: join, read, update; their points, coupons and inbox live in their own domains."""
from flask_smorest import Blueprint
from sqlalchemy import select

from core.auth.services import (ADMIN, MANAGERS, require_operator, require_self_or_operator, revoke_member_token,
                                rotate_member_token)
from core.database import reads_only, utcnow
from core.errors import Forbidden, errors
from core.i18n import N_
from core.members import audience, services
from core.members.models import Member
from core.members.schemas import (AudiencePreviewResultSchema, AudiencePreviewSchema, MemberCreateSchema, MemberListArgs,
                                  MemberSchema, MemberUpdateSchema, NewMemberSchema, NewTokenSchema,
                                  TokenRequestSchema)
from core.ratelimit import limit
from core.schemas import page_of, shared

blp = Blueprint("members", __name__, url_prefix="/api/v1/members", description="Members: join and profile.")
audiences = Blueprint("audiences", __name__, url_prefix="/api/v1/audiences",
                      description="Audiences: who a campaign is for, counted before it is sent.")


@blp.route("", methods=["POST"])
@errors("member_exists")
@limit("join")
@blp.arguments(MemberCreateSchema)
@blp.response(201, NewMemberSchema)
def join(data):
    """Join: create a member. The response carries the member's token, shown only here."""
    referral_code = data.pop("referral_code")
    member, token = services.create_member(
        data.pop("name"), **data, context={"referral_code": referral_code, "channel": "api"})
    member.token = token  # shown once, never stored in clear
    return member


@blp.route("", methods=["GET"])
@errors("forbidden")
@blp.arguments(MemberListArgs, location="query")
@blp.response(200)
def list_members(args):
    """Members, newest first, by tier, stage, tags and last order, or found by ``q`` (operators)."""
    reads_only()  # the operator, the page (and an estimate or a count): no BEGIN/ROLLBACK around them
    require_operator(*MANAGERS)
    query = select(Member).where(audience.member_filter(args["audience"]))
    if args.get("q"):
        query = query.where(services.search_condition(args["q"]))
    return page_of(query, args, shared(MemberSchema).dump)


@blp.route("/<int:member_id>", methods=["GET"])
@errors("forbidden")
@blp.response(200, MemberSchema)
def get_member(member_id):
    """The member (the member themself, or an operator)."""
    require_self_or_operator(member_id)
    return services.get_member(member_id)


@blp.route("/<int:member_id>", methods=["PATCH"])
@errors("forbidden", "member_exists")
@blp.arguments(MemberUpdateSchema)
@blp.response(200, MemberSchema)
def update_member(data, member_id):
    """Change a member's name, tier, tags, consent or language (operators); a member may change
    their own ``locale`` (``zh-Hant``, ``zh-Hans``, ``en`` or ``null``) and nothing else."""
    principal = require_self_or_operator(member_id)
    if principal.kind == "member" and set(data) - {"locale"}:
        raise Forbidden(N_("A member may change only their own language here."))
    return services.update_member(member_id, **data)


@blp.route("/<int:member_id>/token", methods=["POST"])
@blp.arguments(TokenRequestSchema)
@blp.response(200, NewTokenSchema)
def rotate_token(data, member_id):
    """Rotate the member's API token: a new one, shown only here; the old one stops working at once.

    The member themself, or an admin. ``expires_in_days`` (optional) makes the new token expire.
    """
    require_self_or_operator(member_id, *ADMIN)
    token, expires_at = rotate_member_token(member_id, expires_in_days=data.get("expires_in_days"))
    return {"token": token, "expires_at": expires_at}


@blp.route("/<int:member_id>/token", methods=["DELETE"])
@blp.response(204)
def revoke_token(member_id):
    """Revoke the member's API token and end their signed-in sessions (the member themself, or an admin)."""
    require_self_or_operator(member_id, *ADMIN)
    revoke_member_token(member_id)


@audiences.route("/preview", methods=["POST"])
@audiences.arguments(AudiencePreviewSchema)
@audiences.response(200, AudiencePreviewResultSchema)
def preview_audience(data):
    """How many members an audience holds now, by stage; with ``compare``, the overlap of the two."""
    require_operator(*MANAGERS)
    target = audience.Audience.from_dict(data["audience"])
    now = utcnow()
    by_stage = audience.count_by_stage(target, now)
    result = {"count": sum(by_stage.values()), "by_stage": by_stage}
    if data.get("compare") is not None:
        result["overlap"] = audience.overlap(target, audience.Audience.from_dict(data["compare"]), now)
    return result
