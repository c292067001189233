"""Settings, health, migrations and the embedded default."""
import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from config import SettingsError
from core import create_app
from core.extensions import db
from core.testing import csrf_token, join_browser


def test_production_refuses_the_default_secret_key(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(SettingsError):
        create_app({"ENV_NAME": "production", "DATABASE_URL": "sqlite://"})


def test_environment_variables_override_defaults(monkeypatch):
    monkeypatch.setenv("MEMBERDAY_POINTS_PER_UNIT", "3")
    monkeypatch.setenv("MEMBERDAY_BRAND_NAME", "Lotus Tea")
    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": "sqlite://"})
    assert app.config["POINTS_PER_UNIT"] == 3
    assert app.config["BRAND_NAME"] == "Lotus Tea"


def test_healthz_answers_when_the_database_does(memberday_client):
    response = memberday_client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json()["checks"]["database"] == "ok"


def test_healthz_checks_redis_when_configured(memberday_app, memberday_worker):
    response = memberday_app.test_client().get("/healthz")
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def test_the_migrations_match_the_models(memberday_app):
    with memberday_app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_the_openapi_document_lists_the_core_paths(memberday_client):
    paths = memberday_client.get("/api/openapi.json").get_json()["paths"]
    for path in ("/api/v1/members", "/api/v1/members/{member_id}/points", "/api/v1/orders",
                 "/api/v1/orders/{external_id}/refund", "/api/v1/coupons/{code}/redeem", "/api/v1/plugins",
                 "/api/v1/messages"):
        assert path in paths


def test_the_embedded_default_starts_from_the_command_line(tmp_path):
    """`memberday db upgrade` and `memberday demo` on a SQLite file, with no servers at all."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(MEMBERDAY_INSTANCE_PATH=str(tmp_path / "instance"), MEMBERDAY_ENV="development")
    memberday = os.path.join(os.path.dirname(sys.executable), "memberday")
    upgrade = subprocess.run([memberday, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    demo = subprocess.run([memberday, "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert demo.returncode == 0, demo.stderr
    token = demo.stdout.strip().splitlines()[-1]
    assert token.startswith("op_")
    assert (tmp_path / "instance" / "memberday.sqlite").exists()

    app = create_app({"ENV_NAME": "development",
                      "DATABASE_URL": f"sqlite:///{tmp_path / 'instance' / 'memberday.sqlite'}"})
    client = app.test_client()
    members = client.get("/api/v1/members?per_page=100", headers={"Authorization": f"Bearer {token}"}).get_json()
    stages = {m["stage"] for m in members["items"]}
    assert stages >= {"prospect", "new", "active", "at_risk", "lapsed"}
    again = subprocess.run([memberday, "demo"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] != token


def test_the_member_page_shows_points_after_joining_on_the_web(memberday_client):
    joined = join_browser(memberday_client, "/join", name="Web Joiner")
    assert joined.status_code == 303
    page = memberday_client.get(joined.headers["Location"])
    assert page.status_code == 200
    assert "Web Joiner" in page.get_data(as_text=True)
    assert "points" in page.get_data(as_text=True)


def test_an_unknown_page_is_a_friendly_404(memberday_client):
    response = memberday_client.get("/no/such/page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert "couldn" in response.get_data(as_text=True)
