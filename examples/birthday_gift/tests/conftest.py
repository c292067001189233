"""The plugin is installed switched off; each test starts with an operator switching it on."""
import pytest

from core.testing import bearer


@pytest.fixture(autouse=True)
def birthday_gift_on(memberday_client, operator_token):
    response = memberday_client.patch("/api/v1/plugins/birthday_gift", json={"enabled": True},
                                      headers=bearer(operator_token))
    assert response.status_code == 200, response.get_json()
