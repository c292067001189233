"""Member payloads."""
from marshmallow import fields, post_load, validate, validates

from core.i18n import lazy_
from core.members.audience import Audience, AudienceSchema, known_tier
from core.members.models import STAGES
from core.schemas import BaseSchema, CommaSeparated, Id, PageArgs, Text, TrimmedString, When


class MemberCreateSchema(BaseSchema):
    name = Text(required=True, max_length=100)
    phone = Text(max_length=40, load_default=None, allow_none=True,
                 metadata={"description": "any usual spelling; stored in E.164 (DEFAULT_PHONE_REGION for local numbers)"})
    email = Text(max_length=254, load_default=None, allow_none=True,
                 metadata={"description": "checked and stored case-folded with an IDNA domain"})
    openid = Text(max_length=64, load_default=None, allow_none=True)
    unionid = Text(max_length=64, load_default=None, allow_none=True)
    referral_code = Text(max_length=32, load_default=None, allow_none=True)
    device_id = Text(max_length=128, load_default=None, allow_none=True)
    marketing_consent = fields.Boolean(load_default=False)


class Language(fields.String):
    """A member's language: ``zh-Hant``, ``zh-Hans`` or ``en`` (``null``: the browser's, then the brand's)."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.OneOf(["zh-Hant", "zh-Hans", "en"]), allow_none=True,
                         metadata={"description": "zh-Hant, zh-Hans or en; null: the browser's, then the brand's",
                                   "enum": ["zh-Hant", "zh-Hans", "en", None]}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        value = super()._deserialize(value, attr, data, **kwargs)
        return value.replace("-", "_")

    def _serialize(self, value, attr, obj, **kwargs):
        from core.i18n import html_lang

        return html_lang(value) if value else None

    def _validate(self, value):
        super()._validate(value.replace("_", "-") if isinstance(value, str) else value)


class MemberUpdateSchema(BaseSchema):
    name = Text(max_length=100, metadata={"label": lazy_("Name")})
    tier = Text(max_length=20, metadata={"label": lazy_("Tier")})
    tags = fields.List(Text(max_length=40), validate=validate.Length(max=50), metadata={"label": lazy_("Tags")})
    marketing_consent = fields.Boolean(metadata={"label": lazy_("Marketing messages")})
    locale = Language()

    @validates("tier")
    def _known_tier(self, value, **kwargs):
        known_tier(value)


class MemberSchema(BaseSchema):
    id = Id()
    name = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)
    openid = fields.String(allow_none=True)
    tier = fields.String()
    tags = fields.List(fields.String())
    marketing_consent = fields.Boolean()
    locale = Language(dump_only=True)
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
    """Member targeting: the audience's parts as query parameters, and search."""

    q = Text(max_length=100, metadata={"description": "an exact phone or e-mail address, or a fragment of the name"})
    tier = CommaSeparated(TrimmedString(validate=known_tier), metadata={"description": "tiers, comma-separated"})
    stage = CommaSeparated(fields.String(validate=validate.OneOf(STAGES)),
                           metadata={"description": "lifecycle stages, comma-separated"})
    tag = Text(max_length=40, metadata={"description": "a tag the member has (as tags_all)"})
    tags_all = CommaSeparated(metadata={"description": "tags the member has every one of, comma-separated"})
    tags_any = CommaSeparated(metadata={"description": "tags the member has at least one of, comma-separated"})
    tags_none = CommaSeparated(metadata={"description": "tags the member has none of, comma-separated"})
    last_order_before = When(metadata={"description": "last paid order strictly before"})
    last_order_after = When(metadata={"description": "last paid order at or after"})

    @post_load
    def _audience(self, data, **kwargs):
        """Split the parameters into paging, search and an ``Audience``."""
        tags_all = list(data.pop("tags_all", [])) + ([data.pop("tag")] if "tag" in data else [])
        data["audience"] = Audience(
            tiers=tuple(data.pop("tier", ())), stages=tuple(data.pop("stage", ())), tags_all=tuple(dict.fromkeys(tags_all)),
            tags_any=tuple(data.pop("tags_any", ())), tags_none=tuple(data.pop("tags_none", ())),
            last_order_before=data.pop("last_order_before", None), last_order_after=data.pop("last_order_after", None))
        return data


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


class TokenRequestSchema(BaseSchema):
    expires_in_days = fields.Integer(strict=True, load_default=None, allow_none=True,
                                     validate=validate.Range(min=1, max=3650),
                                     metadata={"description": "The new token expires after this many days; "
                                                              "absent: MEMBER_TOKEN_DAYS (unset: never)."})


class NewTokenSchema(BaseSchema):
    token = fields.String(metadata={"description": "The new API token, shown only in this response."})
    expires_at = When(allow_none=True, metadata={"description": "When the token stops working; null: never."})
