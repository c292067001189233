"""Points and coupon payloads."""
from flask_babel import lazy_gettext as _l
from marshmallow import fields, validate

from core.rewards.models import CHANNELS, EntryKind
from core.schemas import BaseSchema, Id, Money, OneOf, PageSchema, Points, Text, When


class PointsAdjustSchema(BaseSchema):
    points = Points(required=True, metadata={"label": _l("Points")})
    reason = Text(required=True, max_length=200, metadata={"label": _l("Reason")})


class PointsEntrySchema(BaseSchema):
    id = Id()
    kind = OneOf(EntryKind)
    points = fields.Integer()
    pending_points = fields.Integer()
    reason = fields.String(metadata={"description": "as it was booked (English for the platform's own reasons)"})
    reason_text = fields.Method("get_reason_text", metadata={
        "description": "the reason in the request's language, as a member reads it"})
    source = fields.String()
    created_at = When()
    expires_at = When(allow_none=True)


    def get_reason_text(self, entry):
        from core.i18n import translate_stored

        return translate_stored(entry.reason)


class PointsSchema(PageSchema):
    balance = fields.Integer()
    pending = fields.Integer()
    items = fields.List(fields.Nested(PointsEntrySchema))


class CouponTemplateCreateSchema(BaseSchema):
    title = Text(required=True, max_length=120,
                 metadata={"label": _l("Title")})
    description = Text(max_length=500, load_default="", allow_empty=True,
                       metadata={"label": _l("Description")})
    value = Money(load_default="0",
                  metadata={"label": _l("Value")})
    channel = fields.String(load_default="any", validate=validate.OneOf(CHANNELS),
                            metadata={"label": _l("Channel"),
                                      "choice_labels": {"online": _l("online"), "offline": _l("in store"),
                                                        "any": _l("online and in store")}})
    valid_days = fields.Integer(strict=True, allow_none=True, load_default=None,
                                validate=validate.Range(min=1, max=3650),
                                metadata={"label": _l("Valid for (days)"),
                                          "help": _l("Days an issued coupon stays valid.")})
    valid_until = When(allow_none=True, load_default=None,
                       metadata={"label": _l("Valid until"),
                                 "help": _l("The last moment any coupon of this template is valid.")})


class CouponTemplateSchema(CouponTemplateCreateSchema):
    id = Id()
    created_at = When()


class CouponIssueSchema(BaseSchema):
    template_id = Id(required=True)


class CouponSchema(BaseSchema):
    id = Id()
    code = fields.String()
    title = fields.Function(lambda coupon: coupon.template.title)
    value = fields.Function(lambda coupon: str(coupon.template.value))
    channel = fields.Function(lambda coupon: coupon.template.channel)
    status = fields.Method("get_status")
    issued_at = When()
    expires_at = When(allow_none=True)
    redeemed_at = When(allow_none=True)

    def get_status(self, coupon):
        from core.rewards.services import coupon_status

        return coupon_status(coupon)


class CouponAtTillSchema(BaseSchema):
    """What the till needs to accept a coupon: nothing about its owner."""

    code = fields.String()
    title = fields.Function(lambda coupon: coupon.template.title)
    channel = fields.Function(lambda coupon: coupon.template.channel)
    status = fields.Method("get_status")
    expires_at = When(allow_none=True)

    def get_status(self, coupon):
        from core.rewards.services import coupon_status

        return coupon_status(coupon)


class RedeemResultSchema(BaseSchema):
    status = fields.String()
    code = fields.String()
    member_id = fields.Integer()
    title = fields.String()
    channel = fields.String()
