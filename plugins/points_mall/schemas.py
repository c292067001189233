"""Points mall payloads: items, voucher code imports, redemptions, settings."""
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate, validates, validates_schema

from core.schemas import MAX_INT, MAX_POINTS, BaseSchema, Id, PageArgs, Text, When

MAX_QUANTITY = 100
MAX_CODES_PER_IMPORT = 20_000


class MallSettingsSchema(BaseSchema):
    low_stock_threshold = fields.Integer(
        load_default=5, validate=validate.Range(min=0, max=1_000_000),
        metadata={"label": _l("Low stock threshold"),
                  "help": _l("Operators are told once when what is left of an item falls to this."),
                  "description": "Operators are told once when what is left of an item falls to this."})


class ItemWriteSchema(BaseSchema):
    """An item as an operator creates it; with ``partial=True``, as a PATCH changes it."""

    name = Text(required=True, max_length=120,
                metadata={"label": _l("Item name")})
    description = Text(max_length=2000, allow_empty=True, load_default="",
                       metadata={"label": _l("Description")})
    image_url = fields.Url(schemes={"http", "https"}, allow_none=True, load_default=None,
                           validate=validate.Length(max=500),
                           metadata={"label": _l("Image address")})
    points_cost = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_POINTS),
                                 metadata={"label": _l("Points cost")})
    stock = fields.Integer(strict=True, allow_none=True, load_default=None, validate=validate.Range(min=0, max=MAX_INT),
                           metadata={"label": _l("Stock"),
                                     "help": _l("Units left; empty means unlimited."),
                                     "description": "Units left; null means unlimited."})
    per_member_limit = fields.Integer(strict=True, allow_none=True, load_default=None,
                                      validate=validate.Range(min=1, max=1_000_000),
                                      metadata={"label": _l("Per member limit")})
    min_tier = Text(max_length=20, allow_none=True, load_default=None,
                    metadata={"label": _l("Lowest tier")})
    starts_at = When(allow_none=True, load_default=None,
                     metadata={"label": _l("Starts at")})
    ends_at = When(allow_none=True, load_default=None,
                   metadata={"label": _l("Ends at")})
    exclusive = fields.Boolean(load_default=False, metadata={
        "label": _l("Exclusive"), "help": _l("Only members a campaign offer covers see and take it."),
        "description": "Only members a plugin's offer covers (memberday_mall_offers) see and take it."})
    active = fields.Boolean(load_default=True,
                            metadata={"label": _l("Active")})

    @validates("min_tier")
    def _known_tier(self, value, **kwargs):
        from flask import current_app

        if value is not None and value not in current_app.config["TIERS"]:
            raise ValidationError(f"one of {', '.join(current_app.config['TIERS'])}")

    @validates_schema
    def _window(self, data, **kwargs):
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise ValidationError("must be after starts_at", field_name="ends_at")


class ItemCreateSchema(ItemWriteSchema):
    voucher_codes = fields.List(fields.String(), allow_none=True, load_default=None,
                                validate=validate.Length(max=MAX_CODES_PER_IMPORT),
                                metadata={"description": "An optional pool of third-party codes, one per unit."})


class CodesImportSchema(BaseSchema):
    codes = fields.List(fields.String(), required=True, validate=validate.Length(min=1, max=MAX_CODES_PER_IMPORT))


class ImportResultSchema(BaseSchema):
    imported = fields.Integer()
    duplicates = fields.Integer()
    duplicate_codes = fields.List(fields.String(), metadata={"description": "The first few refused codes."})
    codes_left = fields.Integer()


class ItemSchema(BaseSchema):
    """An item as anyone sees it."""

    id = Id()
    name = fields.String()
    description = fields.String()
    image_url = fields.String(allow_none=True)
    points_cost = fields.Integer()
    available = fields.Integer(allow_none=True, metadata={"description": "Units left; null means unlimited."})
    per_member_limit = fields.Integer(allow_none=True)
    min_tier = fields.String(allow_none=True)
    starts_at = When(allow_none=True)
    ends_at = When(allow_none=True)
    exclusive = fields.Boolean()
    has_voucher_codes = fields.Boolean(attribute="voucher_pool")


class OperatorItemSchema(ItemSchema):
    """An item as operators see it: with its counters."""

    active = fields.Boolean()
    on_sale = fields.Boolean()
    stock = fields.Integer(allow_none=True)
    codes_left = fields.Integer()
    sold = fields.Integer(metadata={"description": "Units taken by redemptions that are not cancelled."})
    redemptions = fields.Integer()
    cancelled_redemptions = fields.Integer()
    created_at = When()
    updated_at = When()


class ItemListArgs(PageArgs):
    on_sale = fields.Boolean(metadata={"description": "Operators: only items on sale now (true) or not (false)."})


class VoucherCodeSchema(BaseSchema):
    id = Id()
    code = fields.String()
    status = fields.String()
    redemption_id = fields.Integer(allow_none=True)
    imported_at = When()
    assigned_at = When(allow_none=True)
    voided_at = When(allow_none=True)


class CodeListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(("available", "assigned", "void")))


class RedeemSchema(BaseSchema):
    member_id = Id(required=True)
    item_id = Id(required=True)
    quantity = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=1, max=MAX_QUANTITY))


class RedemptionSchema(BaseSchema):
    id = Id()
    status = fields.String()
    member_id = fields.Integer()
    item_id = fields.Integer()
    item_name = fields.Function(lambda redemption: redemption.item.name)
    quantity = fields.Integer()
    unit_cost = fields.Integer()
    points_spent = fields.Integer()
    offer_label = fields.String(allow_none=True)
    voucher_codes = fields.Function(lambda redemption: [code.code for code in redemption.codes])
    created_at = When()
    cancelled_at = When(allow_none=True)


class RedemptionListArgs(PageArgs):
    member_id = fields.Integer(validate=validate.Range(min=1, max=MAX_INT))
    item_id = fields.Integer(validate=validate.Range(min=1, max=MAX_INT))
    status = fields.String(validate=validate.OneOf(("completed", "cancelled")))


class MemberItemSchema(ItemSchema):
    """An item as a signed-in member sees it: at their price, with what they lack."""

    regular_points_cost = fields.Integer()
    offer_label = fields.String(allow_none=True)
    limit_left = fields.Integer(allow_none=True)
    points_short = fields.Integer(metadata={"description": "Points the member still lacks for one unit (0: none)."})
