"""Fixtures for the offline events tests: members, events made through the API, staff at the door."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from itertools import count

import pytest

from core.testing import bearer, create_operator_token, new_phone

_names = count(1)


@pytest.fixture
def admin(operator_token):
    return bearer(operator_token)


@pytest.fixture
def staff(memberday_app):
    return bearer(create_operator_token(memberday_app, "staff"))


@pytest.fixture
def new_member(memberday_app):
    """Make a member through the core services; returns id, token, headers and name."""
    from core.members.services import create_member

    def make(tier: str = "member", openid: str | None = None, phone: str | None = None, name: str | None = None,
             **fields) -> dict:
        with memberday_app.app_context():
            member, token = create_member(name or f"Fan {next(_names)}", tier=tier, openid=openid, phone=phone or new_phone(),
                                          **fields)
            return {"id": member.id, "token": token, "headers": bearer(token), "name": member.name,
                    "phone": member.phone}

    return make


@pytest.fixture
def coupon_template(memberday_app):
    from core.rewards.services import create_template

    def make(title: str = "Party drink", channel: str = "any") -> int:
        with memberday_app.app_context():
            return create_template(title, value=50, channel=channel, valid_days=30).id

    return make


def hours(n: float) -> timedelta:
    return timedelta(hours=n)


def iso(value: datetime) -> str:
    return value.isoformat()


@pytest.fixture
def new_event(memberday_client, admin):
    """Create an event through the API (starting in a day unless told otherwise); returns the body."""

    def make(**fields) -> dict:
        starts = fields.pop("starts_at", datetime.now(timezone.utc) + timedelta(days=1))
        body = {"title": f"Fan party {next(_names)}", "venue": "Xinyi store", "capacity": 50,
                "starts_at": iso(starts), "ends_at": iso(starts + hours(3)), **fields}
        response = memberday_client.post("/api/v1/events", json=body, headers=admin)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make
