"""Member payloads."""
from marshmallow import ValidationError, fields, validate, validates

from core.members.audience import AudienceSchema
from core.schemas import BaseSchema, Id, PageArgs, Text, When


class MemberCreateSchema(BaseSchema):
    name = Text(required=True, max_length=100)
    phone = Text(max_length=32, load_default=None, allow_none=True)
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    openid = Text(max_length=64, load_default=None, allow_none=True)
    unionid = Text(max_length=64, load_default=None, allow_none=True)
    referral_code = Text(max_length=32, load_default=None, allow_none=True)
    device_id = Text(max_length=128, load_default=None, allow_none=True)
    marketing_consent = fields.Boolean(load_default=False)


class MemberUpdateSchema(BaseSchema):
    name = Text(max_length=100)
    tier = Text(max_length=20)
    tags = fields.List(Text(max_length=40), validate=validate.Length(max=50))
    marketing_consent = fields.Boolean()

    @validates("tier")
    def _known_tier(self, value, **kwargs):
        from flask import current_app

        if value not in current_app.config["TIERS"]:
            raise ValidationError(f"one of {', '.join(current_app.config['TIERS'])}")


class MemberSchema(BaseSchema):
    id = Id()
    name = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    openid = fields.String(allow_none=True)
    tier = fields.String()
    tags = fields.List(fields.String())
    marketing_consent = fields.Boolean()
    stage = fields.Method("get_stage")
    points_balance = fields.Integer()
    points_pending = fields.Integer()
    orders_count = fields.Integer()
    last_order_at = When(allow_none=True)
    created_at = When()

    def get_stage(self, member):
        return member.stage()


class NewMemberSchema(MemberSchema):
    token = fields.String(metadata={"description": "The member's API token, shown only in this response."})


class MemberListArgs(PageArgs):
    tier = Text(max_length=20)
    q = Text(max_length=100, metadata={"description": "name, phone or email contains"})


class AudiencePreviewSchema(BaseSchema):
    audience = fields.Nested(AudienceSchema, load_default=dict, metadata={"description": "empty: every member"})
    compare = fields.Nested(AudienceSchema, load_default=None, allow_none=True,
                            metadata={"description": "a second audience; the answer then has their overlap"})


class _StageCounts(BaseSchema):
    prospect = fields.Integer()
    new = fields.Integer()
    active = fields.Integer()
    at_risk = fields.Integer()
    lapsed = fields.Integer()


class _Overlap(BaseSchema):
    a = fields.Integer(metadata={"description": "members in the audience"})
    b = fields.Integer(metadata={"description": "members in the compared audience"})
    both = fields.Integer(metadata={"description": "members in both"})


class AudiencePreviewResultSchema(BaseSchema):
    count = fields.Integer()
    by_stage = fields.Nested(_StageCounts)
    overlap = fields.Nested(_Overlap)
