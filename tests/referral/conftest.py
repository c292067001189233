"""Helpers for the referral tests: programme settings, a referrer with a code, friends joining."""
from __future__ import annotations

import pytest
from core.testing import bearer
from referral_helpers import join


@pytest.fixture
def admin(operator_token):
    return bearer(operator_token)


@pytest.fixture
def configure(memberday_client, admin):
    """Set the referral programme's settings through the plugin API (as an operator would)."""

    def configure(**settings):
        response = memberday_client.patch("/api/v1/plugins/referral", json={"settings": settings}, headers=admin)
        assert response.status_code == 200, response.get_json()
        return response.get_json()["settings"]

    return configure


@pytest.fixture
def referrer(memberday_client):
    """A member with a referral code (fetched through their own referral endpoint)."""
    body = join(memberday_client, "Ada Referrer", phone="+886900000001", device_id="device-ada")
    response = memberday_client.get(f"/api/v1/members/{body['id']}/referral", headers=bearer(body["token"]))
    assert response.status_code == 200, response.get_json()
    body["code"] = response.get_json()["code"]
    return body
