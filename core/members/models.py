"""A member: one identity across phone, email and WeChat, with tier, tags and consent."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from core.database import UTCDateTime, utcnow
from core.extensions import db


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
    points_balance = sa.Column(sa.BigInteger, nullable=False, default=0)
    points_pending = sa.Column(sa.BigInteger, nullable=False, default=0)
    orders_count = sa.Column(sa.Integer, nullable=False, default=0)
    first_order_at = sa.Column(UTCDateTime)
    last_order_at = sa.Column(UTCDateTime)
    token_hash = sa.Column(sa.String(64), unique=True)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)

    def stage(self, now: datetime | None = None) -> str:
        """The lifecycle stage from the order history and the windows in settings."""
        from flask import current_app

        if not self.last_order_at or not self.orders_count:
            return "prospect"
        now = now or utcnow()
        cfg = current_app.config
        days = (now - self.last_order_at).days
        if self.orders_count == 1 and (now - self.first_order_at).days <= cfg["STAGE_NEW_DAYS"]:
            return "new"
        if days <= cfg["STAGE_ACTIVE_DAYS"]:
            return "active"
        if days <= cfg["STAGE_AT_RISK_DAYS"]:
            return "at_risk"
        return "lapsed"

    def __repr__(self) -> str:
        return f"<Member {self.id} {self.name!r}>"
