"""Operators of the brand (admin, operator, staff) and their hashed API tokens."""
import sqlalchemy as sa

from core.database import UTCDateTime, utcnow
from core.extensions import db

ROLES = ("admin", "operator", "staff")


class Operator(db.Model):
    __tablename__ = "operators"

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(100), nullable=False, unique=True)
    role = sa.Column(sa.String(20), nullable=False)
    token_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
