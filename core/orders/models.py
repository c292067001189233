"""Orders the brand's shop reports, keyed by the shop's own external id."""
import sqlalchemy as sa

from core.database import ClosedSet, UTCDateTime, one_of, utcnow
from core.extensions import db


class OrderStatus(ClosedSet):
    PAID = "paid"
    REFUNDED = "refunded"


class Order(db.Model):
    __tablename__ = "orders"
    __table_args__ = (one_of("status", OrderStatus),)

    id = sa.Column(sa.Integer, primary_key=True)
    external_id = sa.Column(sa.String(100), nullable=False, unique=True)
    member_id = sa.Column(sa.Integer, sa.ForeignKey("members.id"), nullable=False, index=True)
    amount = sa.Column(sa.Numeric(12, 2), nullable=False)
    status = sa.Column(sa.String(10), nullable=False, default="paid")
    multiplier = sa.Column(sa.Numeric(6, 2), nullable=False, default=1)
    points_earned = sa.Column(sa.BigInteger, nullable=False, default=0)
    paid_at = sa.Column(UTCDateTime, nullable=False, default=utcnow, index=True)
    refunded_at = sa.Column(UTCDateTime)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
