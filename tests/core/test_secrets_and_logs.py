"""Secrets fit for production, a development key of its own, and logs without parameters, tokens or contacts."""
from __future__ import annotations

import logging
import os
import stat

import pytest
from sqlalchemy import text

from config import DEFAULT_SECRET_KEY, SettingsError
from core import create_app
from core.extensions import db
from core.testing import bearer

WECHAT = {"WECHAT_TOKEN": "brand-token-7f3a"}


@pytest.mark.parametrize("key", ["x", "s" * 31, DEFAULT_SECRET_KEY])
def test_production_refuses_a_short_or_published_secret_key(key):
    with pytest.raises(SettingsError, match="SECRET_KEY"):
        create_app({"ENV_NAME": "production", "DATABASE_URL": "sqlite://", "SECRET_KEY": key, **WECHAT})


def test_production_starts_with_a_key_of_32_bytes():
    app = create_app({"ENV_NAME": "production", "DATABASE_URL": "sqlite://", "SECRET_KEY": "s" * 32, **WECHAT})
    assert app.config["SECRET_KEY"] == "s" * 32


def test_development_makes_a_random_key_once_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("MEMBERDAY_INSTANCE_PATH", str(tmp_path))
    first = create_app({"ENV_NAME": "development", "DATABASE_URL": "sqlite://"})
    second = create_app({"ENV_NAME": "development", "DATABASE_URL": "sqlite://"})
    key = first.config["SECRET_KEY"]
    assert key != DEFAULT_SECRET_KEY and len(key) >= 32 and second.config["SECRET_KEY"] == key
    path = tmp_path / "secret_key"
    assert path.read_text().strip() == key
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    other = tmp_path / "other"
    monkeypatch.setenv("MEMBERDAY_INSTANCE_PATH", str(other))
    assert create_app({"ENV_NAME": "development", "DATABASE_URL": "sqlite://"}).config["SECRET_KEY"] != key


def test_a_failing_statement_is_logged_without_its_parameters(memberday_app, memberday_client, caplog):
    phone, email = "+886912345678", "secret.person@example.com"

    @memberday_app.route("/test-only/broken")
    def broken():
        db.session.execute(text("SELECT CAST(:phone AS integer), :email"), {"phone": phone, "email": email})
        return "unreachable"

    member = memberday_client.post("/api/v1/members", json={"name": "Logged"}).get_json()
    with caplog.at_level(logging.DEBUG):
        response = memberday_client.get("/test-only/broken?note=x", headers=bearer(member["token"]))
    assert response.status_code == 500 and response.get_json()["error"]["code"] == "internal_error"
    logged = caplog.text + "".join(str(record.exc_info[1]) for record in caplog.records if record.exc_info)
    assert "SELECT CAST" in logged  # the statement is there, to find the bug ...
    assert phone not in logged and email not in logged  # ... its values are not
    assert member["token"] not in logged
