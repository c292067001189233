"""Fixtures for the member week tests: members with a history, weeks made through the API, time moved
through the services' ``now=``."""
from __future__ import annotations

from itertools import count

import pytest

from core.testing import bearer, new_phone

_names = count(1)


@pytest.fixture
def admin(operator_token):
    return bearer(operator_token)


@pytest.fixture
def new_member(memberday_app):
    """Make a member through the core services; returns id, token and headers."""
    from core.members.services import create_member

    def make(tier: str = "member", tags: list | None = None, name: str | None = None, **identity) -> dict:
        with memberday_app.app_context():
            identity.setdefault("phone", new_phone())
            member, token = create_member(name or f"Week member {next(_names)}", tier=tier, tags=tags or [],
                                          **identity)
            return {"id": member.id, "token": token, "headers": bearer(token), "phone": member.phone}

    return make


@pytest.fixture
def coupon_template(memberday_app):
    def make(title: str = "Partner café coffee") -> int:
        from core.rewards.services import create_template

        with memberday_app.app_context():
            return create_template(title, value=120, channel="offline", valid_days=30).id

    return make


@pytest.fixture
def new_week(memberday_client, admin):
    """Create a week through the API (as an operator); returns the response body."""

    def make(**fields) -> dict:
        body = {"name": f"Week {next(_names)}", **fields}
        response = memberday_client.post("/api/v1/member-weeks", json=body, headers=admin)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def tick(memberday_app):
    """Run the status job at ``now`` (default: the real now)."""

    def run(now=None) -> dict:
        from plugins.member_week import services

        with memberday_app.app_context():
            return services.tick(now=now)

    return run


@pytest.fixture
def configure(memberday_client, admin):
    def configure(plugin_id="member_week", **settings):
        response = memberday_client.patch(f"/api/v1/plugins/{plugin_id}", json={"settings": settings}, headers=admin)
        assert response.status_code == 200, response.get_json()

    return configure
