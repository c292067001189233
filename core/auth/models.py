"""Operators of the brand (admin, operator, staff), their hashed API tokens, and sign-in sessions."""
import sqlalchemy as sa

from core.database import ClosedSet, UTCDateTime, one_of, utcnow
from core.extensions import db

class Role(ClosedSet):
    ADMIN = "admin"
    OPERATOR = "operator"
    STAFF = "staff"


ROLES = tuple(Role.values())


class Operator(db.Model):
    __tablename__ = "operators"
    __table_args__ = (one_of("role", Role),)

    id = sa.Column(sa.Integer, primary_key=True)
    name = sa.Column(sa.String(100), nullable=False, unique=True)
    role = sa.Column(sa.String(20), nullable=False)
    token_hash = sa.Column(sa.String(64), unique=True)  # None once revoked
    token_expires_at = sa.Column(UTCDateTime)  # None: the token does not expire
    password_hash = sa.Column(sa.String(255))  # scrypt, for the console; None: no password sign-in
    revoked_at = sa.Column(UTCDateTime)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)


SESSION_KINDS = ("member", "operator")


class SignInSession(db.Model):
    """A signed-in browser: the cookie holds a random id, this row holds its digest.

    Ending the row (sign-out, revocation, expiry) ends the session, whatever the
    browser still sends.
    """

    __tablename__ = "sign_in_sessions"
    __table_args__ = (
        sa.CheckConstraint("kind IN ('member', 'operator')", name="kind_known"),
        sa.Index("ix_sign_in_sessions_subject", "kind", "subject_id"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    kind = sa.Column(sa.String(10), nullable=False)
    subject_id = sa.Column(sa.Integer, nullable=False)
    id_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = sa.Column(UTCDateTime)
    ended_at = sa.Column(UTCDateTime)


class OneTimeCode(db.Model):
    """A sign-in code sent to a phone: stored as an HMAC of the phone and the code, used once.

    The newest code for a phone is the one that counts; sending another ends the
    ones before it. ``attempts`` counts wrong tries; at ``MAX_ATTEMPTS`` the code is locked.
    """

    __tablename__ = "one_time_codes"
    __table_args__ = (
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.Index("ix_one_time_codes_phone", "phone", "id"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    phone = sa.Column(sa.String(32), nullable=False)
    code_hash = sa.Column(sa.String(64), nullable=False)
    attempts = sa.Column(sa.Integer, nullable=False, default=0)
    created_at = sa.Column(UTCDateTime, nullable=False, default=utcnow)
    expires_at = sa.Column(UTCDateTime, nullable=False)
    used_at = sa.Column(UTCDateTime)  # used, or replaced by a newer code
