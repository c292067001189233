"""The plugin's settings schema and its request and response payloads."""
from datetime import date

from marshmallow import ValidationError, fields, validate, validates_schema

from core.i18n import N_, lazy_
from core.schemas import BaseSchema, Id

# Shown translated wherever the error is shown (the API, the console), since it is marked here.
GIVE_SOMETHING = N_("Give points, a coupon template, or both.")


class BirthdayGiftSettings(BaseSchema):
    """What operators configure. Every field has a default, so the plugin works out of the box."""

    gift_points = fields.Integer(strict=True, load_default=200, validate=validate.Range(min=0, max=100_000),
                                 metadata={"description": "Points given in the birthday month.",
                                           "label": lazy_("Birthday points")})
    coupon_template_id = Id(load_default=None, allow_none=True,
                            metadata={"description": "A coupon template issued with the points (optional).",
                                      "label": lazy_("Coupon template id (optional)")})
    points_multiplier = fields.Integer(strict=True, load_default=2, validate=validate.Range(min=1, max=10),
                                       metadata={"description": "Points multiplier for orders paid in the "
                                                                "birthday month (1 turns it off).",
                                                 "label": lazy_("Points multiplier in the birthday month")})
    webhook_secret = fields.String(load_default=None, allow_none=True, validate=validate.Length(min=16, max=200),
                                   metadata={"secret": True,
                                             "description": "Shared secret a CRM signs birthday updates with.",
                                             "label": lazy_("Webhook secret")})

    @validates_schema
    def _gives_something(self, data, **kwargs):
        if not data.get("gift_points") and not data.get("coupon_template_id"):
            raise ValidationError(GIVE_SOMETHING, field_name="gift_points")


class BirthdayInSchema(BaseSchema):
    month = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=12))
    day = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=31))

    @validates_schema
    def _real_day(self, data, **kwargs):
        try:
            date(2000, data["month"], data["day"])  # a leap year, so 29 February is a birthday
        except (KeyError, ValueError):
            raise ValidationError("There is no such day in that month.", field_name="day") from None


class WebhookSchema(BirthdayInSchema):
    member_id = Id(required=True)


class GiftSchema(BaseSchema):
    year = fields.Integer()
    points = fields.Integer()
    coupon_code = fields.String(allow_none=True)


class BirthdaySchema(BaseSchema):
    member_id = fields.Integer()
    month = fields.Integer()
    day = fields.Integer()
    set_by = fields.String()
    gift = fields.Nested(GiftSchema, allow_none=True)
