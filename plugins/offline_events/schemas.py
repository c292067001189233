"""Offline events payloads: events, registrations, check-ins at the door and offline, the report."""
from marshmallow import ValidationError, fields, validate, validates_schema

from core.members.audience import AudienceSchema
from core.schemas import MAX_POINTS, BaseSchema, Id, PageArgs, Text, When
from plugins.offline_events import services
from plugins.offline_events.models import CHECKIN_RESULTS, REGISTRATION_STATUSES

MAX_BATCH = 500
MAX_CAPACITY = 1_000_000


class EventWriteSchema(BaseSchema):
    """An event as an operator creates it; with ``partial=True``, as a PATCH changes it."""

    title = Text(required=True, max_length=120)
    venue = Text(max_length=200, allow_empty=True, load_default="")
    description = Text(max_length=2000, allow_empty=True, load_default="")
    starts_at = When(required=True)
    ends_at = When(required=True)
    capacity = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=MAX_CAPACITY))
    signup_opens_at = When(allow_none=True, load_default=None,
                           metadata={"description": "Default: sign-up opens when the event is created."})
    signup_closes_at = When(allow_none=True, load_default=None,
                            metadata={"description": "Default: sign-up closes when the event starts."})
    checkin_opens_at = When(allow_none=True, load_default=None,
                            metadata={"description": "Default: two hours before the start."})
    checkin_closes_at = When(allow_none=True, load_default=None, metadata={"description": "Default: the end."})
    signup_keyword = Text(max_length=services.MAX_KEYWORD_LENGTH, allow_none=True, load_default=None,
                          metadata={"description": "A message with this text signs the sender up (e.g. 報名)."})
    coupon_keyword = Text(max_length=services.MAX_KEYWORD_LENGTH, allow_none=True, load_default=None,
                          metadata={"description": "A message with this text gets the event's online coupon, "
                                                   "once per member (e.g. 精粉節)."})
    coupon_template_id = Id(allow_none=True, load_default=None,
                            metadata={"description": "The coupon the coupon keyword issues."})
    attendance_points = fields.Integer(strict=True, load_default=0, validate=validate.Range(min=0, max=MAX_POINTS),
                                       metadata={"description": "Points a check-in grants."})
    attendance_coupon_template_id = Id(allow_none=True, load_default=None,
                                       metadata={"description": "The coupon a check-in grants."})
    audience = fields.Nested(AudienceSchema, load_default=dict,
                             metadata={"description": "Who may sign up (empty: every member)."})


class EventChangeSchema(EventWriteSchema):
    """An event as a PATCH changes it (used with ``partial=True``)."""


class EventSchema(BaseSchema):
    """An event as anyone sees it."""

    id = Id()
    title = fields.String()
    venue = fields.String()
    description = fields.String()
    starts_at = When()
    ends_at = When()
    capacity = fields.Integer()
    seats_left = fields.Integer()
    status = fields.String(metadata={"description": "open / cancelled"})
    signup_open = fields.Function(lambda event: services.signup_open(event))
    signup_opens_at = fields.Function(lambda event: When()._serialize(services.signup_window(event)[0], None, None))
    signup_closes_at = fields.Function(lambda event: When()._serialize(services.signup_window(event)[1], None, None))
    signup_keyword = fields.String(allow_none=True)
    coupon_keyword = fields.String(allow_none=True)
    event_url = fields.Function(lambda event: services.event_url(event.id))


class OperatorEventSchema(EventSchema):
    """An event as operators see it: with its rewards, audience and counts."""

    checkin_opens_at = fields.Function(
        lambda event: When()._serialize(services.checkin_window(event)[0], None, None))
    checkin_closes_at = fields.Function(
        lambda event: When()._serialize(services.checkin_window(event)[1], None, None))
    coupon_template_id = fields.Integer(allow_none=True)
    attendance_points = fields.Integer()
    attendance_coupon_template_id = fields.Integer(allow_none=True)
    audience = fields.Dict()
    confirmed = fields.Integer(attribute="confirmed_count")
    counts = fields.Function(lambda event: services.counts(event.id))
    created_at = When()
    updated_at = When()
    cancelled_at = When(allow_none=True)


class EventListArgs(PageArgs):
    all = fields.Boolean(load_default=False, metadata={"description": "Operators: every event, not only those "
                                                                      "open for sign-up."})


class RegisterSchema(BaseSchema):
    member_id = Id(required=True)


class RegistrationSchema(BaseSchema):
    """A registration as its member and operators see it, with the ticket."""

    id = Id()
    event_id = fields.Integer()
    member_id = fields.Integer()
    name = fields.Function(lambda registration: registration.member.name)
    event_title = fields.Function(lambda registration: registration.event.title)
    status = fields.String(metadata={"description": "confirmed / waitlisted / cancelled / checked_in"})
    waitlist_position = fields.Function(services.waitlist_position, allow_none=True)
    ticket_code = fields.String()
    ticket_url = fields.Function(lambda registration: services.ticket_url(registration.ticket_code))
    ticket_qr_url = fields.Function(lambda registration: services.ticket_qr_url(registration.ticket_code))
    channel = fields.String()
    created_at = When()
    confirmed_at = When(allow_none=True)
    cancelled_at = When(allow_none=True)
    checked_in_at = When(allow_none=True)


class RegistrantSchema(BaseSchema):
    """A registration as door staff find it: no ticket, only the phone's last digits."""

    id = Id()
    event_id = fields.Integer()
    member_id = fields.Integer()
    name = fields.Function(lambda registration: registration.member.name)
    phone_ends_with = fields.Function(
        lambda registration: registration.member.phone[-4:] if registration.member.phone else None)
    status = fields.String()
    waitlist_position = fields.Function(services.waitlist_position, allow_none=True)
    checked_in_at = When(allow_none=True)


class RegistrationListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(REGISTRATION_STATUSES))
    q = Text(max_length=100, metadata={"description": "A name fragment, or a phone number (its last digits)."})


class CheckInSchema(BaseSchema):
    event_id = Id(required=True)
    nonce = Text(required=True, max_length=100,
                 metadata={"description": "Unique per scan; a retry with the same nonce gets the first answer."})
    ticket = fields.String(validate=validate.Length(min=1, max=services.MAX_TICKET_TEXT),
                           metadata={"description": "What the scanner read: the ticket code or the ticket link."})
    registration_id = Id(metadata={"description": "Instead of a ticket: a registration staff found by name or "
                                                  "phone."})

    @validates_schema
    def _one_way_in(self, data, **kwargs):
        if ("ticket" in data) == ("registration_id" in data):
            raise ValidationError("give either ticket or registration_id", field_name="ticket")


class BatchItemSchema(BaseSchema):
    ticket = fields.String(required=True, validate=validate.Length(min=1, max=services.MAX_TICKET_TEXT))
    nonce = Text(required=True, max_length=100)
    scanned_at = When(load_default=None, allow_none=True)


class BatchSchema(BaseSchema):
    event_id = Id(required=True)
    items = fields.List(fields.Nested(BatchItemSchema), required=True,
                        validate=validate.Length(min=1, max=MAX_BATCH))

    @validates_schema
    def _distinct_nonces(self, data, **kwargs):
        nonces = [item["nonce"] for item in data.get("items", [])]
        if len(nonces) != len(set(nonces)):
            raise ValidationError("each item needs a nonce of its own", field_name="items")


class GrantedSchema(BaseSchema):
    points = fields.Integer()
    coupons = fields.List(fields.Dict())


class CheckInAnswerSchema(BaseSchema):
    """The door's answer: ``ok`` (201), or an error with its reason (409, or 404 for ``invalid``)."""

    status = fields.String(metadata={"description": "ok / error"})
    reason = fields.String(validate=validate.OneOf(CHECKIN_RESULTS[1:]))
    nonce = fields.String()
    checkin_id = fields.Integer()
    member_id = fields.Integer()
    name = fields.String()
    registration_id = fields.Integer()
    event_id = fields.Integer()
    checked_in_at = fields.String(metadata={"description": "ok: now; already_redeemed: when it was."})
    granted = fields.Nested(GrantedSchema)
    waitlist_position = fields.Integer(metadata={"description": "waitlisted: the holder's place in line."})
    checkin_opens_at = fields.String(metadata={"description": "not_open: when the door opens."})
    checkin_closes_at = fields.String(metadata={"description": "not_open: when the door closes."})


class BatchAnswerItemSchema(CheckInAnswerSchema):
    http_status = fields.Integer(metadata={"description": "The status POST /checkins would have answered."})


class BatchAnswerSchema(BaseSchema):
    items = fields.List(fields.Nested(BatchAnswerItemSchema))


class CheckInRecordSchema(BaseSchema):
    id = Id()
    registration_id = fields.Integer()
    event_id = fields.Integer()
    member_id = fields.Integer()
    offline = fields.Boolean()
    scanned_at = When()
    points_granted = fields.Integer()
    coupon_id = fields.Integer(allow_none=True)
    reverted_at = When(allow_none=True)
    points_reversed = fields.Integer(allow_none=True)
    coupon_voided = fields.Boolean(allow_none=True)


class CheckInListEntrySchema(BaseSchema):
    registration_id = fields.Integer()
    ticket_hash = fields.String(metadata={"description": "SHA-256 of the ticket code, hex."})
    status = fields.String()
    name = fields.String()


class CheckInListSchema(BaseSchema):
    event = fields.Dict()
    hash = fields.String()
    generated_at = fields.String()
    items = fields.List(fields.Nested(CheckInListEntrySchema))


class OnlineSchema(BaseSchema):
    members = fields.Integer()
    ordered_within_30_days = fields.Integer()
    conversion_rate = fields.Float(allow_none=True)
    orders = fields.Integer()
    revenue = fields.String()
    aov = fields.String(allow_none=True)


class ReportSchema(BaseSchema):
    event_id = fields.Integer()
    registered = fields.Integer()
    confirmed = fields.Integer()
    waitlisted = fields.Integer()
    cancelled = fields.Integer()
    checked_in = fields.Integer()
    no_shows = fields.Integer()
    attendance_rate = fields.Float(allow_none=True)
    window = fields.Dict()
    attendees_online = fields.Nested(OnlineSchema)
    absentees_online = fields.Nested(OnlineSchema)
    computed_at = fields.String()

