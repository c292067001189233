"""Order payloads."""
from marshmallow import fields

from core.orders.models import OrderStatus
from core.schemas import BaseSchema, Id, Money, OneOf, Text, When


class OrderCreateSchema(BaseSchema):
    external_id = Text(required=True, max_length=100)
    member_id = Id(required=True)
    amount = Money(required=True)
    paid_at = When(load_default=None, allow_none=True)


class OrderSchema(BaseSchema):
    id = Id()
    external_id = fields.String()
    member_id = fields.Integer()
    amount = Money()
    status = OneOf(OrderStatus)
    multiplier = fields.Decimal(as_string=True)
    points_earned = fields.Integer()
    paid_at = When()
    refunded_at = When(allow_none=True)
