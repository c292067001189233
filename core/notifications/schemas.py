"""Notification payloads."""
from marshmallow import fields

from core.notifications.models import NotificationStatus
from core.schemas import BaseSchema, Id, OneOf, When


class NotificationSchema(BaseSchema):
    id = Id()
    title = fields.String()
    body = fields.String()
    channel = fields.String(allow_none=True)
    status = OneOf(NotificationStatus)
    created_at = When()
    sent_at = When(allow_none=True)
    read_at = When(allow_none=True)
