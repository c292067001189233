"""Settings: defaults, per-environment files and environment overrides.

``load_settings(app, overrides)`` fills ``app.config`` in this order, later wins:
``config.defaults``, the environment's file (``MEMBERDAY_ENV``: development,
testing or production), environment variables (``DATABASE_URL``, ``REDIS_URL``,
``SECRET_KEY`` and any ``MEMBERDAY_*``), then explicit overrides.
"""
from __future__ import annotations

import json
import os

ENVIRONMENTS = {
    "development": "config.development",
    "testing": "config.testing",
    "production": "config.production",
}

DEFAULT_SECRET_KEY = "memberday-development-secret-change-me"


class SettingsError(RuntimeError):
    """Raised when the settings cannot be used to start the platform."""


def load_settings(app, overrides: dict | None = None) -> None:
    """Fill ``app.config`` from defaults, the environment file, env vars and overrides."""
    env_name = (overrides or {}).get("ENV_NAME") or os.environ.get("MEMBERDAY_ENV", "development")
    if env_name not in ENVIRONMENTS:
        raise SettingsError(f"MEMBERDAY_ENV must be one of {sorted(ENVIRONMENTS)}, not {env_name!r}")
    app.config.from_object("config.defaults")
    app.config.from_object(ENVIRONMENTS[env_name])
    app.config["ENV_NAME"] = env_name

    for plain in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        if os.environ.get(plain):
            app.config[plain] = os.environ[plain]
    # MEMBERDAY_POINTS_PER_UNIT=2 -> POINTS_PER_UNIT=2 (JSON values are decoded).
    app.config.from_prefixed_env("MEMBERDAY", loads=_loads)

    if overrides:
        app.config.update(overrides)

    if not app.config.get("DATABASE_URL"):
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["DATABASE_URL"] = "sqlite:///" + os.path.join(app.instance_path, "memberday.sqlite")
    app.config["SQLALCHEMY_DATABASE_URI"] = _sqlalchemy_url(app.config["DATABASE_URL"])

    if app.config.get("REQUIRE_SECRET_KEY") and app.config["SECRET_KEY"] == DEFAULT_SECRET_KEY:
        raise SettingsError("production refuses to start with the default SECRET_KEY: set SECRET_KEY")


def _loads(value: str):
    try:
        return json.loads(value)
    except ValueError:
        return value


def _sqlalchemy_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL URLs given in the usual ``postgresql://`` form."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url
