"""Helpers for the points mall tests: members with points, items, and requests fired together."""
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
    """Make a member (through the core services) holding ``points``; returns id, token and headers."""
    from core.members.services import create_member
    from core.rewards.services import credit

    def make(points: int = 0, tier: str = "member", tags: list | None = None) -> dict:
        with memberday_app.app_context():
            member, token = create_member(f"Mall member {next(_names)}", tier=tier, tags=tags or [], phone=new_phone())
            if points:
                credit(member.id, points, "Welcome points", f"test:welcome:{member.id}")
            return {"id": member.id, "token": token, "headers": bearer(token), "phone": member.phone}

    return make


@pytest.fixture
def new_item(memberday_client, admin):
    """Create an item through the API (as an operator); returns the response body."""

    def make(**fields) -> dict:
        body = {"name": f"Item {next(_names)}", "points_cost": 100, **fields}
        response = memberday_client.post("/api/v1/mall/items", json=body, headers=admin)
        assert response.status_code == 201, response.get_json()
        return response.get_json()

    return make


@pytest.fixture
def configure(memberday_client, admin):
    def configure(plugin_id="points_mall", **settings):
        response = memberday_client.patch(f"/api/v1/plugins/{plugin_id}", json={"settings": settings}, headers=admin)
        assert response.status_code == 200, response.get_json()

    return configure
