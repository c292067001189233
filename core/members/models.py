"""A member: one identity across phone, email and WeChat, with tier, tags and consent."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from core.database import UTCDateTime, utcnow
from core.extensions import db


STAGES = ("prospect", "new", "active", "at_risk", "lapsed")


@dataclass(frozen=True)
class StageCutoffs:
    """The instants a stage's window starts at, for one ``now``.

    A member is ``new`` while ``(now - first_order_at).days <= STAGE_NEW_DAYS``; whole days
    counted down, that is ``first_order_at > now - (STAGE_NEW_DAYS + 1) days``. Comparing the
    stored timestamps with these instants is what lets SQL give the same answer as Python.
    """

    new: datetime
    active: datetime
    at_risk: datetime


def stage_cutoffs(now: datetime | None = None) -> StageCutoffs:
    from flask import current_app

    now = now or utcnow()
    cfg = current_app.config

    def start(days: int) -> datetime:
        return now - timedelta(days=days + 1)

    return StageCutoffs(new=start(cfg["STAGE_NEW_DAYS"]), active=start(cfg["STAGE_ACTIVE_DAYS"]),
                        at_risk=start(cfg["STAGE_AT_RISK_DAYS"]))


def stage_of(orders_count: int, first_order_at: datetime | None, last_order_at: datetime | None,
             cutoffs: StageCutoffs) -> str:
    """The stage rule: no order yet, one recent first order, then by the last order's age."""
    if not last_order_at or not orders_count:
        return "prospect"
    if orders_count == 1 and first_order_at is not None and first_order_at > cutoffs.new:
        return "new"
    if last_order_at > cutoffs.active:
        return "active"
    if last_order_at > cutoffs.at_risk:
        return "at_risk"
    return "lapsed"


class Member(db.Model):
    __tablename__ = "members"
    __table_args__ = (
        sa.CheckConstraint("points_balance >= 0", name="balance_not_negative"),
        sa.CheckConstraint("points_pending >= 0", name="pending_not_negative"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(100), nullable=False)
    phone = sa.Column(sa.String(32), unique=True)
    email = sa.Column(sa.String(254), unique=True)
    openid = sa.Column(sa.String(64), unique=True)
    unionid = sa.Column(sa.String(64), index=True)
    device_id = sa.Column(sa.String(128), index=True)
    tier = sa.Column(sa.String(20), nullable=False, default="member")
    tags = sa.Column(sa.JSON, nullable=False, default=list)
    marketing_consent = sa.Column(sa.Boolean, nullable=False, default=False)
    locale = sa.Column(sa.String(16))  # zh_Hant, zh_Hans or en; None: the browser's, then the brand's
    points_balance = sa.Column(sa.BigInteger, nullable=False, default=0)
    points_pending = sa.Column(sa.BigInteger, nullable=False, default=0)
    orders_count = sa.Column(sa.Integer, nullable=False, default=0)
    first_order_at = sa.Column(UTCDateTime)
    last_order_at = sa.Column(UTCDateTime)
    token_hash = sa.Column(sa.String(64), unique=True)  # None once revoked
    token_expires_at = sa.Column(UTCDateTime)  # None: the token does not expire
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)

    def stage(self, now: datetime | None = None) -> str:
        """The lifecycle stage from the order history and the windows in settings.

        The same rule, as SQL, is ``core.members.audience.stage_expression``.
        """
        return stage_of(self.orders_count, self.first_order_at, self.last_order_at, stage_cutoffs(now))

    def __repr__(self) -> str:
        return f"<Member {self.id} {self.name!r}>"


# Audiences' tag filters (@> and ?|) read tags through this expression; SQLite uses json_each.
sa.Index("ix_members_tags", sa.cast(Member.tags, JSONB), postgresql_using="gin").ddl_if(dialect="postgresql")
# Name fragments (ILIKE '%chen%') through trigrams (pg_trgm) of the name with space and hyphen swapped
# for the digits 0 and 1 (and those for them): trigrams then span words and keep their order, so
# "yi-ting chen" is not looked for among every "Chen Yi-ting". A swap loses nothing: the name holds q
# exactly when the swapped name holds the swapped q (core.members.services.search_condition).
# SQLite scans with LIKE.
NAME_WORDS = (" -01", "01 -")
sa.Index("ix_members_name_words_trgm",
         sa.func.translate(Member.name, sa.literal_column(f"'{NAME_WORDS[0]}'"),
                           sa.literal_column(f"'{NAME_WORDS[1]}'")).label("name_words"),
         postgresql_using="gin", postgresql_ops={"name_words": "gin_trgm_ops"}).ddl_if(dialect="postgresql")
