"""Referral payloads: the programme's settings and the API's requests and answers."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validate, validates, validates_schema

from core.schemas import MAX_INT, MAX_POINTS, BaseSchema, Id, Money, PageArgs, Text, When
from plugins.referral.models import STATUSES

PERIODS = ("day", "week", "month", "all")


class MilestoneSchema(BaseSchema):
    count = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=100_000))
    points = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_POINTS))


class ReferralSettingsSchema(BaseSchema):
    """The referral programme, as the operator sets it up (every field has a default)."""

    qualify_on = fields.String(load_default="first_order", validate=validate.OneOf(["signup", "first_order"]),
                               metadata={"label": _l("Qualify on"),
                                         "choice_labels": {"signup": _l("when the friend joins"),
                                                           "first_order": _l("at the friend's first order")},
                                         "help": _l("signup: joining qualifies; first_order: the first paid order "
                                                    "of at least the minimum amount"),
                                         "description": "signup: joining qualifies; first_order: the first "
                                                        "paid order of at least min_order_amount"})
    min_order_amount = Money(load_default="0.00",
                             metadata={"label": _l("Minimum order amount")})
    hold_days = fields.Integer(load_default=14, strict=True, validate=validate.Range(min=0, max=365),
                               metadata={"label": _l("Hold (days)")})
    referrer_points = fields.Integer(load_default=200, strict=True, validate=validate.Range(min=0, max=MAX_POINTS),
                                     metadata={"label": _l("Referrer points")})
    referee_points = fields.Integer(load_default=100, strict=True, validate=validate.Range(min=0, max=MAX_POINTS),
                                    metadata={"label": _l("Referee points")})
    referrer_coupon_template_id = Id(load_default=None, allow_none=True,
                                     metadata={"label": _l("Referrer coupon template id")})
    referee_coupon_template_id = Id(load_default=None, allow_none=True,
                                    metadata={"label": _l("Referee coupon template id")})
    attribution_window_days = fields.Integer(load_default=30, strict=True, validate=validate.Range(min=1, max=365),
                                             metadata={"label": _l("Attribution window (days)")})
    max_referrals_per_day = fields.Integer(load_default=10, allow_none=True, strict=True,
                                           validate=validate.Range(min=1, max=100_000),
                                           metadata={"label": _l("Max referrals per day"),
                                                     "help": _l("Per referrer; empty for no limit."),
                                                     "description": "per referrer; null for no limit"})
    max_referrals_per_month = fields.Integer(load_default=50, allow_none=True, strict=True,
                                             validate=validate.Range(min=1, max=1_000_000),
                                             metadata={"label": _l("Max referrals per month"),
                                                       "help": _l("Per referrer; empty for no limit."),
                                                       "description": "per referrer; null for no limit"})
    landing_url = Text(max_length=500, load_default=None, allow_none=True,
                       metadata={"label": _l("Landing page"),
                                 "help": _l("Where share links lead; empty: the plugin's own join page."),
                                 "description": "where /r/{code} leads; empty: the plugin's own join page"})
    milestones = fields.List(fields.Nested(MilestoneSchema), load_default=list, validate=validate.Length(max=20),
                             metadata={"label": _l("Milestones"),
                                       "help": _l('Extra points for the referrer, e.g. [{"count": 3, "points": 200}]'),
                                       "description": 'extra referrer points, e.g. [{"count": 3, "points": 200}]'})
    clawback_after_release = fields.Boolean(load_default=False,
                                            metadata={"label": _l("Take rewards back after a late refund")})

    @validates("landing_url")
    def _landing_url(self, value, **kwargs):
        # An operator's own page (absolute http/https) or a path on this site; "{code}" is filled in.
        if value is None or (value.startswith("/") and not value.startswith("//")):
            return
        validate.URL(schemes={"http", "https"}, require_tld=False,
                     error="an http(s) address or a path starting with /")(value.replace("{code}", "CODE"))

    @validates("milestones")
    def _distinct_counts(self, value, **kwargs):
        counts = [m.get("count") for m in value if isinstance(m, dict) and "count" in m]
        if len(counts) != len(set(counts)):
            raise ValidationError("each count may appear once")

    @validates_schema
    def _caps_agree(self, data, **kwargs):
        day, month = data.get("max_referrals_per_day"), data.get("max_referrals_per_month")
        if day and month and day > month:
            raise ValidationError("the daily limit cannot be above the monthly one",
                                  field_name="max_referrals_per_day")


class StatsSchema(BaseSchema):
    clicks = fields.Integer()
    scans = fields.Integer()
    signups = fields.Integer()
    qualified = fields.Integer()
    rewarded = fields.Integer()


class MemberReferralSchema(BaseSchema):
    member_id = fields.Integer()
    code = fields.String()
    share_url = fields.String()
    qr_png_url = fields.String()
    qr_svg_url = fields.String()
    stats = fields.Nested(StatsSchema)


class ReferralSchema(BaseSchema):
    id = fields.Integer()
    referrer_id = fields.Integer()
    referee_id = fields.Integer()
    code = fields.String()
    channel = fields.String()
    status = fields.String()
    reason = fields.String(allow_none=True)
    qualifying_order = fields.String(allow_none=True)
    created_at = When()
    qualified_at = When(allow_none=True)
    hold_until = When(allow_none=True)
    rewarded_at = When(allow_none=True)
    reversed_at = When(allow_none=True)


def QueryId():
    # Query strings are text: an id there is parsed, unlike the strict ids of JSON bodies.
    return fields.Integer(validate=validate.Range(min=1, max=MAX_INT))


class ReferralListArgs(PageArgs):
    referrer_id = QueryId()
    referee_id = QueryId()
    status = fields.String(validate=validate.OneOf(STATUSES))


class PeriodArgs(BaseSchema):
    period = fields.String(load_default="month", validate=validate.OneOf(PERIODS))


class LeaderboardArgs(PeriodArgs):
    limit = fields.Integer(load_default=10, validate=validate.Range(min=1, max=100))


class QrExportCreateSchema(BaseSchema):
    member_ids = fields.List(Id(), load_default=None, allow_none=True, validate=validate.Length(min=1, max=100_000),
                             metadata={"description": "the members to export; leave out for every member",
                                       "label": _l("Member ids")})
    image_format = fields.String(load_default="png", validate=validate.OneOf(["png", "svg"]),
                                 metadata={"label": _l("Image format")})


class QrExportSchema(BaseSchema):
    id = fields.Integer()
    status = fields.String()
    image_format = fields.String()
    total = fields.Integer()
    done = fields.Integer()
    error = fields.String(allow_none=True)
    created_at = When()
    finished_at = When(allow_none=True)
