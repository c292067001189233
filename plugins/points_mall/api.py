"""Points mall endpoints: the catalogue, voucher code imports, redemptions and cancellations."""
from flask import request
from marshmallow import ValidationError

from core.auth.services import MANAGERS, current_principal, require_operator, require_principal, require_self_or_operator
from core.errors import AppError, Forbidden, NotFound, Unauthorized, ValidationFailed, errors
from core.i18n import _
from core.idempotency import idempotent
from core.members.services import get_member
from core.schemas import page_of, page_of_list, shared
from plugins.points_mall import PLUGIN, services
from plugins.points_mall.schemas import (CodeListArgs, CodesImportSchema, ImportResultSchema, ItemCreateSchema,
                                         ItemListArgs, ItemSchema, ItemWriteSchema, MemberItemSchema,
                                         OperatorItemSchema, RedeemSchema, RedemptionListArgs, RedemptionSchema,
                                         VoucherCodeSchema)

blp = PLUGIN.api_blueprint(__name__, url_prefix="/api/v1/mall",
                           description="Points mall: a catalogue bought with points, voucher code pools, redemptions.")


@blp.route("/items", methods=["POST"])
@errors("forbidden")
@blp.arguments(ItemCreateSchema)
@blp.response(201, OperatorItemSchema)
def create_item(data):
    """Add an item, optionally with its pool of voucher codes (operators)."""
    require_operator(*MANAGERS)
    item = services.create_item(data)
    return services.item_report(item.id)


@blp.route("/items", methods=["GET"])
@errors("forbidden")
@blp.arguments(ItemListArgs, location="query")
@blp.response(200)
def list_items(args):
    """Items on sale now. A member sees only what they may take now, and apart from it
    (``need_more_points``) what they could take with more points; operators see every item with its counters."""
    principal = current_principal()
    if principal is None and request.headers.get("Authorization"):
        raise Unauthorized()
    if principal is None:
        return page_of_list(services.public_catalogue(), args, shared(ItemSchema).dump)
    if principal.kind == "operator":
        require_operator(*MANAGERS)
        return page_of_list(services.operator_catalogue(args.get("on_sale")), args, shared(OperatorItemSchema).dump)
    member = get_member(principal.id)
    takeable, short = services.member_catalogue(member)
    result = page_of_list(takeable, args, shared(MemberItemSchema).dump)
    result["need_more_points"] = [shared(MemberItemSchema).dump(listing) for listing in short]
    result["balance"] = member.points_balance
    return result


@blp.route("/items/<int:item_id>", methods=["GET"])
@errors("forbidden")
@blp.response(200)
def get_item(item_id):
    """One item: its counters for operators; as anyone sees it otherwise (hidden if they may not see it)."""
    principal = current_principal()
    if principal is not None and principal.kind == "operator":
        require_operator(*MANAGERS)
        return shared(OperatorItemSchema).dump(services.item_report(item_id))
    if principal is not None:
        takeable, short = services.member_catalogue(get_member(principal.id))
        for listing in takeable + short:
            if listing.item.id == item_id:
                return shared(MemberItemSchema).dump(listing)
    else:
        for item in services.public_catalogue():
            if item.id == item_id:
                return shared(ItemSchema).dump(item)
    raise NotFound(_("Item %(id)s is not on offer.", id=item_id))


@blp.route("/items/<int:item_id>", methods=["PATCH"])
@errors("forbidden")
@blp.arguments(ItemWriteSchema(partial=True))
@blp.response(200, OperatorItemSchema)
def update_item(data, item_id):
    """Change an item (operators). ``stock`` is the new number of units left."""
    require_operator(*MANAGERS)
    if not data:
        raise ValidationFailed(_("Nothing to change."), fields={"_schema": ["give at least one field"]})
    services.update_item(item_id, data)
    return services.item_report(item_id)


@blp.route("/items/<int:item_id>/codes", methods=["POST"])
@errors("forbidden")
@blp.doc(requestBody={"required": True, "content": {
    "application/json": {"schema": CodesImportSchema},
    "text/csv": {"schema": {"type": "string"}},
    "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                       "properties": {"file": {"type": "string", "format": "binary"}}}}}})
@blp.response(200, ImportResultSchema)
def import_codes(item_id):
    """Import voucher codes (operators): JSON ``{"codes": [...]}``, a ``text/csv`` body, or a
    multipart upload with the CSV in ``file``. Codes already in any pool are refused and counted."""
    require_operator(*MANAGERS)
    services.get_item(item_id)
    mimetype = request.mimetype
    if mimetype == "application/json":
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise ValidationFailed(_("The body must be a JSON object."), fields={"codes": ["required"]})
        try:
            data = CodesImportSchema().load(body)
        except ValidationError as error:
            raise ValidationFailed(fields=error.messages) from None
        codes = services.clean_codes(data["codes"])
    elif mimetype == "multipart/form-data":
        upload = request.files.get("file")
        if upload is None:
            raise ValidationFailed(_("Upload the CSV as the form field 'file'."), fields={"file": ["required"]})
        codes = services.codes_from_csv(upload.read())
    elif mimetype in ("text/csv", "text/plain"):
        codes = services.codes_from_csv(request.get_data())
    else:
        raise AppError(_("Send JSON, text/csv or a multipart upload."), code="unsupported_media_type", status=415)
    return services.import_codes(item_id, codes)


@blp.route("/items/<int:item_id>/codes", methods=["GET"])
@errors("forbidden")
@blp.arguments(CodeListArgs, location="query")
@blp.response(200)
def list_codes(args, item_id):
    """An item's voucher codes with their status (operators)."""
    require_operator(*MANAGERS)
    return page_of(services.code_list(item_id, args.get("status")), args, shared(VoucherCodeSchema).dump, descending=False)


@blp.route("/redemptions", methods=["POST"])
@errors("forbidden", "insufficient_points", "idempotency_key_reused", not_eligible=403, not_on_sale=409,
        limit_reached=409, out_of_stock=409)
@idempotent
@blp.arguments(RedeemSchema)
@blp.response(201, RedemptionSchema)
def redeem(data):
    """Spend points on an item (the member, or an operator for them; Idempotency-Key)."""
    principal = require_self_or_operator(data["member_id"], *MANAGERS)
    return services.redeem(data["member_id"], data["item_id"], data["quantity"], actor=principal.key)


@blp.route("/redemptions", methods=["GET"])
@errors("forbidden")
@blp.arguments(RedemptionListArgs, location="query")
@blp.response(200)
def list_redemptions(args):
    """Redemptions, newest first: a member's own, or anyone's for operators (filterable)."""
    principal = require_principal()
    member_id = args.get("member_id")
    if principal.kind == "member":
        if member_id is not None and member_id != principal.id:
            raise Forbidden(_("A member token reaches only that member's own data."))
        member_id = principal.id
    else:
        require_operator(*MANAGERS)
    query = services.redemption_list(member_id, args.get("item_id"), args.get("status"))
    return page_of(query, args, shared(RedemptionSchema).dump)


@blp.route("/redemptions/<int:redemption_id>", methods=["GET"])
@errors("forbidden")
@blp.response(200, RedemptionSchema)
def get_redemption(redemption_id):
    principal = require_principal()
    redemption = services.get_redemption(redemption_id)
    if principal.kind == "member" and redemption.member_id != principal.id:
        raise NotFound(_("Redemption %(id)s does not exist.", id=redemption_id))
    if principal.kind == "operator":
        require_operator(*MANAGERS)
    return redemption


@blp.route("/redemptions/<int:redemption_id>/cancel", methods=["POST"])
@errors("forbidden", "idempotency_key_reused", already_cancelled=409)
@idempotent
@blp.response(200, RedemptionSchema)
def cancel_redemption(redemption_id):
    """Cancel a redemption (operators): points and units come back, its codes are void. Once."""
    principal = require_operator(*MANAGERS)
    return services.cancel(redemption_id, actor=principal.key)
