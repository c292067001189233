"""Audiences: which members a campaign, a list or an export is for, decided in SQL.

An ``Audience`` is a filter on members — tiers, lifecycle stages, tags (all of, any of,
none of) and a range of last-order times. Empty, it is every member. The one place a
filter becomes SQL is ``member_filter``; lists, counts, snapshots and exports all go
through it, so a member is in an audience for every caller or for none.

The lifecycle stage is computed in SQL by ``stage_expression`` with the same rule and
settings as ``Member.stage`` (``core.members.models.stage_of``), so a million members are
classified with one ``GROUP BY`` instead of being loaded into Python.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from marshmallow import ValidationError, fields, post_load, validate
from sqlalchemy.dialects import postgresql

from core.extensions import db
from core.i18n import lazy_
from core.members.models import STAGES, Member, stage_cutoffs
from core.schemas import BaseSchema, Text, TrimmedString, When
from core.validation_messages import MUST_BE_ONE_OF

_LISTS = ("tiers", "stages", "tags_all", "tags_any", "tags_none")
_TIMES = ("last_order_before", "last_order_after")


@dataclass(frozen=True)
class Audience:
    """Members by tier, stage, tags and last order. Every part that is set must hold."""

    tiers: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()  # prospect/new/active/at_risk/lapsed
    tags_all: tuple[str, ...] = ()
    tags_any: tuple[str, ...] = ()
    tags_none: tuple[str, ...] = ()
    last_order_before: datetime | None = None  # last order strictly before
    last_order_after: datetime | None = None  # last order at or after

    @classmethod
    def from_dict(cls, data: dict | None) -> "Audience":
        """From a stored or validated dict (``to_dict``'s form); None or {} is everyone."""
        data = data or {}
        values = {}
        for key in _LISTS:
            # A stored audience keeps the order it was given in; repeats mean nothing.
            values[key] = tuple(dict.fromkeys(data.get(key) or ()))
        for key in _TIMES:
            value = data.get(key)
            if isinstance(value, str):
                value = datetime.fromisoformat(value)
            values[key] = value
        return cls(**values)

    def to_dict(self) -> dict:
        """JSON-safe (times as ISO 8601); ``Audience.from_dict`` gives this audience back."""
        data = asdict(self)
        for key in _LISTS:
            data[key] = list(data[key])
        for key in _TIMES:
            data[key] = data[key].isoformat() if data[key] else None
        return data

    @property
    def is_everyone(self) -> bool:
        return not any(getattr(self, key) for key in _LISTS + _TIMES)


class _AudienceTime(When):
    """A time in an audience: dumps a stored ISO string as well as a datetime."""

    def _serialize(self, value, attr, obj, **kwargs):
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return super()._serialize(value, attr, obj, **kwargs)


def known_tier(value: str) -> None:
    # Checked per item, so the errors stay keyed by the item's index.
    known = current_app.config["TIERS"]
    if value not in known:
        raise ValidationError(MUST_BE_ONE_OF % {"choices": ", ".join(known)})


def _tags(**kwargs):
    return fields.List(Text(max_length=40), load_default=list, validate=validate.Length(max=50), **kwargs)


class AudienceSchema(BaseSchema):
    """An audience as clients send it; loads to ``Audience.to_dict()``'s JSON-safe form."""

    tiers = fields.List(TrimmedString(validate=known_tier), load_default=list, validate=validate.Length(max=20),
                        metadata={"description": "tiers from the TIERS setting; any of them", "label": lazy_("Tiers")})
    stages = fields.List(fields.String(validate=validate.OneOf(STAGES)), load_default=list,
                         metadata={"description": "lifecycle stages; any of them", "label": lazy_("Stages")})
    tags_all = _tags(metadata={"description": "the member has every one of these tags",
                               "label": lazy_("Has every tag")})
    tags_any = _tags(metadata={"description": "the member has at least one of these tags",
                               "label": lazy_("Has any of the tags")})
    tags_none = _tags(metadata={"description": "the member has none of these tags",
                                "label": lazy_("Has none of the tags")})
    last_order_before = _AudienceTime(load_default=None, allow_none=True,
                                      metadata={"description": "last paid order strictly before",
                                                "label": lazy_("Last order before")})
    last_order_after = _AudienceTime(load_default=None, allow_none=True,
                                     metadata={"description": "last paid order at or after",
                                               "label": lazy_("Last order at or after")})

    @post_load
    def _normalised(self, data, **kwargs):
        return Audience.from_dict(data).to_dict()


def stage_expression(now: datetime | None = None):
    """A SQL CASE giving each member's lifecycle stage at ``now``: ``Member.stage``'s rule."""
    cut = stage_cutoffs(now)
    return sa.case(
        (sa.or_(Member.last_order_at.is_(None), Member.orders_count == 0), "prospect"),
        (sa.and_(Member.orders_count == 1, Member.first_order_at > cut.new), "new"),
        (Member.last_order_at > cut.active, "active"),
        (Member.last_order_at > cut.at_risk, "at_risk"),
        else_="lapsed",
    )


def stage_condition(stages: tuple[str, ...], now: datetime | None = None):
    """A WHERE clause for members at any of ``stages`` at ``now``: the same rule as
    :func:`stage_expression`, written as ranges on the order columns.

    The planner knows how those columns are spread (a CASE it does not), so it sees how many
    members a stage holds and picks the plan to match: filtering on a CASE it guessed a handful of
    lapsed VIPs and read every VIP to find 51.
    """
    cut = stage_cutoffs(now)
    bought = sa.and_(Member.last_order_at.is_not(None), Member.orders_count != 0)
    new = sa.and_(Member.orders_count == 1, Member.first_order_at > cut.new)
    # "not new", spelled out: NOT (...) of a NULL first order would be NULL, not true.
    older = sa.or_(Member.orders_count != 1, Member.first_order_at.is_(None), Member.first_order_at <= cut.new)
    each = {
        "prospect": sa.or_(Member.last_order_at.is_(None), Member.orders_count == 0),
        "new": sa.and_(bought, new),
        "active": sa.and_(bought, older, Member.last_order_at > cut.active),
        "at_risk": sa.and_(bought, older, Member.last_order_at <= cut.active, Member.last_order_at > cut.at_risk),
        "lapsed": sa.and_(bought, older, Member.last_order_at <= cut.at_risk),
    }
    return sa.or_(*(each[stage] for stage in stages))


def _dialect() -> str:
    return db.engine.dialect.name


def _tag_list(tags: tuple[str, ...]):
    """The tags as a text array written into the statement, not sent as a parameter.

    A statement run often is prepared, and PostgreSQL then plans it once for any parameters; not
    knowing which tags, it guesses that few members have them, and a filter on a common tag
    (a third of a million members) read every one of them to sort 51. Written in, the tags are
    seen by the planner every time. The values are quoted by SQLAlchemy's literal rendering.
    """
    return sa.literal(list(tags), postgresql.ARRAY(sa.Text), literal_execute=True)


def _has_tag(tags: tuple[str, ...]):
    """True for members with at least one of ``tags`` (one tag: that tag)."""
    if _dialect() == "postgresql":
        # Served by the GIN index on (tags::jsonb) (migration core_0004).
        return sa.cast(Member.tags, postgresql.JSONB).has_any(_tag_list(tags))
    each = sa.func.json_each(Member.tags).table_valued("value")
    return sa.exists(sa.select(1).select_from(each).where(each.c.value.in_(tags)))


def _has_every_tag(tags: tuple[str, ...]):
    if _dialect() == "postgresql":
        return sa.cast(Member.tags, postgresql.JSONB).has_all(_tag_list(tags))  # tags are strings: as @>
    return sa.and_(*(_has_tag((tag,)) for tag in tags))


def member_filter(audience: Audience, now: datetime | None = None):
    """A WHERE clause on ``Member`` that holds for exactly the audience's members."""
    conditions = []
    if audience.tiers:
        conditions.append(Member.tier.in_(audience.tiers))
    if audience.stages:
        conditions.append(stage_condition(audience.stages, now))
    if audience.tags_all:
        conditions.append(_has_every_tag(audience.tags_all))
    if audience.tags_any:
        conditions.append(_has_tag(audience.tags_any))
    if audience.tags_none:
        conditions.append(sa.not_(_has_tag(audience.tags_none)))
    if audience.last_order_before:
        conditions.append(Member.last_order_at < audience.last_order_before)
    if audience.last_order_after:
        conditions.append(Member.last_order_at >= audience.last_order_after)
    return sa.and_(sa.true(), *conditions)


def member_ids(audience: Audience, now: datetime | None = None) -> sa.Select:
    """``SELECT members.id`` for the audience, e.g. for an ``INSERT ... SELECT`` snapshot."""
    return sa.select(Member.id).where(member_filter(audience, now))


def count(audience: Audience, now: datetime | None = None) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Member).where(member_filter(audience, now)))


def contains(audience: Audience, member_id: int, now: datetime | None = None) -> bool:
    """Whether the member is in the audience (False for a member that does not exist)."""
    query = sa.select(Member.id).where(Member.id == member_id, member_filter(audience, now))
    return db.session.scalar(sa.select(query.exists())) or False


def count_by_stage(audience: Audience, now: datetime | None = None) -> dict[str, int]:
    """How many of the audience's members are at each stage (every stage named, zeros too)."""
    stage = stage_expression(now).label("stage")
    rows = db.session.execute(
        sa.select(stage, sa.func.count()).select_from(Member).where(member_filter(audience, now)).group_by(stage))
    counts = dict.fromkeys(STAGES, 0)
    counts.update({name: n for name, n in rows})
    return counts


def overlap(a: Audience, b: Audience, now: datetime | None = None) -> dict[str, int]:
    """``{"a": n, "b": n, "both": n}``: the size of each audience and of their intersection."""
    in_a, in_b = member_filter(a, now), member_filter(b, now)
    row = db.session.execute(
        sa.select(sa.func.count().filter(in_a), sa.func.count().filter(in_b),
                  sa.func.count().filter(sa.and_(in_a, in_b)))
        .select_from(Member).where(sa.or_(in_a, in_b))).one()
    return {"a": row[0], "b": row[1], "both": row[2]}
