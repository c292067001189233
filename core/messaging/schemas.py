"""Inbound message payloads."""
from marshmallow import fields

from core.schemas import BaseSchema, Text


class InboundMessageSchema(BaseSchema):
    channel = Text(required=True, max_length=20)
    sender = Text(required=True, max_length=128, data_key="from")
    text = Text(required=True, max_length=2000, allow_empty=True)
    message_id = Text(required=True, max_length=128)


class ReplySchema(BaseSchema):
    reply = fields.String(allow_none=True)
