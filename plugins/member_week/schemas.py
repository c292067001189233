"""Member week payloads: promotions, weeks and their benefits, claims, the plan, settings."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate, validates_schema

from core.schemas import MAX_INT, MAX_POINTS, BaseSchema, Id, PageArgs, Text, When

MAX_DAYS = 14
MAX_BENEFITS = 20
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class MemberWeekSettingsSchema(BaseSchema):
    days_before_promotion = fields.Integer(load_default=3, validate=validate.Range(min=0, max=60), metadata={
        "label": _l("Days between a week and its promotion"),
        "description": "The planner ends a week this many days before the promotion it serves starts."})
    length_days = fields.Integer(load_default=7, validate=validate.Range(min=1, max=MAX_DAYS), metadata={
        "label": _l("Length of a planned week (days)"),
        "description": "How long the planner makes a week."})
    start_weekday = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(WEEKDAYS), metadata={
        "label": _l("Weekday a planned week starts on"),
        "choice_labels": {"monday": _l("Monday"), "tuesday": _l("Tuesday"), "wednesday": _l("Wednesday"),
                          "thursday": _l("Thursday"), "friday": _l("Friday"), "saturday": _l("Saturday"),
                          "sunday": _l("Sunday")},
        "description": "Move a planned week back so it starts on this weekday (none: start where it falls); "
                       "a month with no promotion gets a week starting on this weekday, from mid-month."})
    announce_days_before = fields.Integer(load_default=30, validate=validate.Range(min=0, max=120), metadata={
        "label": _l("Announce this many days before the start"),
        "description": "A week is announced this many days before it starts, unless announce_at is given."})
    notify_batch_size = fields.Integer(load_default=1000, validate=validate.Range(min=10, max=20_000), metadata={
        "label": _l("Members notified per batch"),
        "description": "Members notified per transaction by the announcement and the reminder."})


class LocalWhen(When):
    """A timestamp with an offset, or a plain date meaning that day's midnight in the brand's time zone.

    ``end=True`` reads a plain date as the end of that day (the next midnight), so ``"ends_at":
    "2027-01-16"`` includes the 16th.
    """

    def __init__(self, *, end: bool = False, **kwargs):
        self.end = end
        super().__init__(**kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and len(value) == 10:
            from flask import current_app

            try:
                day = datetime.strptime(value, "%Y-%m-%d").date()
            except ValueError:
                raise ValidationError("give a date (2027-01-10) or a time with its offset") from None
            if not 2000 <= day.year <= 2200:
                raise ValidationError("the year must be between 2000 and 2200")
            zone = ZoneInfo(current_app.config["BRAND_TIMEZONE"])
            return datetime.combine(day + timedelta(days=1 if self.end else 0), time(0), zone)
        return super()._deserialize(value, attr, data, **kwargs)


class Multiplier(fields.Decimal):
    """A points multiplier: a decimal string from 1 to 10 with at most two places ("2.5")."""

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {"example": "2.5", "description": "1 to 10, two decimal places"})
        super().__init__(places=2, as_string=True, allow_nan=False, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        result = super()._deserialize(value, attr, data, **kwargs)
        if not Decimal(1) <= result <= Decimal(10):
            raise ValidationError("must be between 1 and 10")
        return result


class PromotionSchema(BaseSchema):
    id = Id(dump_only=True)
    name = Text(required=True, max_length=120)
    starts_at = LocalWhen(required=True)
    ends_at = LocalWhen(required=True, end=True)

    @validates_schema
    def _window(self, data, **kwargs):
        if data.get("starts_at") and data.get("ends_at") and data["ends_at"] <= data["starts_at"]:
            raise ValidationError("must be after starts_at", field_name="ends_at")


class PromotionListArgs(PageArgs):
    upcoming = fields.Boolean(metadata={"description": "Only promotions that have not ended."})


class BenefitWriteSchema(BaseSchema):
    title = Text(required=True, max_length=120)
    kind = fields.String(required=True, validate=validate.OneOf(("coupon", "points", "mall_item")))
    coupon_template_id = Id(load_default=None, allow_none=True)
    stock = fields.Integer(strict=True, load_default=None, allow_none=True, validate=validate.Range(min=0, max=MAX_INT),
                           metadata={"description": "Coupons that can be claimed; null means unlimited."})
    points = fields.Integer(strict=True, load_default=None, allow_none=True,
                            validate=validate.Range(min=1, max=MAX_POINTS))
    item_id = Id(load_default=None, allow_none=True, metadata={"description": "A points mall item."})
    points_cost = fields.Integer(strict=True, load_default=None, allow_none=True,
                                 validate=validate.Range(min=1, max=MAX_POINTS),
                                 metadata={"description": "The item's price for participants during the week."})

    @validates_schema
    def _kind_fields(self, data, **kwargs):
        if data.get("kind") is None:  # a PATCH's partial load does not require it, but a benefit needs it
            raise ValidationError("Missing data for required field.", field_name="kind")
        required = {"coupon": ("coupon_template_id",), "points": ("points",),
                    "mall_item": ("item_id", "points_cost")}[data["kind"]]
        missing = {name: [f"required for a {data['kind']} benefit"] for name in required if data.get(name) is None}
        if missing:
            raise ValidationError(missing)
        if data["kind"] != "coupon" and data.get("stock") is not None:
            raise ValidationError("only coupon benefits have a stock", field_name="stock")


class AudienceField(fields.Dict):
    """The audience rule, validated by the core audience schema."""

    def _deserialize(self, value, attr, data, **kwargs):
        from core.members.audience import AudienceSchema

        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ValidationError("must be an object")
        try:
            return AudienceSchema().load(value)
        except ValidationError as error:
            raise ValidationError(error.messages) from None


class WeekWriteSchema(BaseSchema):
    """A week as an operator creates it; with ``partial=True``, as a PATCH changes it."""

    name = Text(required=True, max_length=120)
    starts_at = LocalWhen(required=True)
    ends_at = LocalWhen(required=True, end=True)
    announce_at = LocalWhen(load_default=None, allow_none=True, metadata={
        "description": "When the audience is fixed and told (default: announce_days_before before the start)."})
    points_multiplier = Multiplier()  # default 1 (the column's)
    audience = AudienceField(load_default=dict, metadata={
        "description": "tiers, stages, tags_all, tags_any, tags_none; empty: every member."})
    holdout_percent = fields.Integer(strict=True, load_default=10, validate=validate.Range(min=0, max=50))
    holdout_seed = fields.String(validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"), metadata={
        "description": "The seed of the holdout hash (default: random). Anyone can recompute who was held out "
                       "from it: md5(seed:member_id), first 32 bits, modulo 10000, below holdout_percent × 100."})
    keyword = Text(max_length=40, load_default=None, allow_none=True)
    promotion_id = Id(load_default=None, allow_none=True)
    benefits = fields.List(fields.Nested(BenefitWriteSchema), load_default=list,
                           validate=validate.Length(max=MAX_BENEFITS))

    @validates_schema
    def _window(self, data, partial=False, **kwargs):
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at:
            length = ends_at - starts_at
            if not timedelta(days=1) <= length <= timedelta(days=MAX_DAYS):
                raise ValidationError(f"a week lasts 1 to {MAX_DAYS} days", field_name="ends_at")
        if data.get("announce_at") and starts_at and data["announce_at"] > starts_at:
            raise ValidationError("must not be after starts_at", field_name="announce_at")


class WeekChangeSchema(WeekWriteSchema):
    """What a PATCH may change (any field of a new week), loaded with ``partial=True``."""


class BenefitSchema(BaseSchema):
    id = Id()
    title = fields.String()
    kind = fields.String()
    coupon_template_id = fields.Integer(allow_none=True)
    stock = fields.Integer(allow_none=True, metadata={"description": "Left to claim; null means unlimited."})
    claimed = fields.Integer()
    points = fields.Integer(allow_none=True)
    item_id = fields.Integer(allow_none=True)
    points_cost = fields.Integer(allow_none=True)


class MemberBenefitSchema(BenefitSchema):
    claimed_by_me = fields.Boolean()


class WeekSchema(BaseSchema):
    """A week as a member (or anyone) sees it."""

    id = Id()
    name = fields.String()
    status = fields.String()
    starts_at = When()
    ends_at = When()
    points_multiplier = fields.Decimal(as_string=True)
    keyword = fields.String(allow_none=True)
    benefits = fields.List(fields.Nested(BenefitSchema))


class OperatorWeekSchema(WeekSchema):
    announce_at = When()
    audience = fields.Dict()
    holdout_percent = fields.Integer()
    holdout_seed = fields.String()
    promotion_id = fields.Integer(allow_none=True)
    snapshot_at = When(allow_none=True)
    audience_size = fields.Integer(allow_none=True)
    held_out_count = fields.Integer(allow_none=True)
    participants_count = fields.Integer(allow_none=True)
    notified_count = fields.Integer()
    announced_at = When(allow_none=True)
    reminded_count = fields.Integer()
    reminded_at = When(allow_none=True)
    cancelled_at = When(allow_none=True)
    created_at = When()
    updated_at = When()


class WeekListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(("scheduled", "announced", "running", "ended", "cancelled")))


class ClaimRequestSchema(BaseSchema):
    benefit_id = Id(required=True)


class PlanArgs(BaseSchema):
    months = fields.Integer(load_default=12, validate=validate.Range(min=1, max=24))


class ReportArgs(BaseSchema):
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))
