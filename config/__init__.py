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
DEFAULT_WECHAT_TOKEN = "memberday"
MIN_SECRET_KEY_BYTES = 32


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
    # Whatever the engine options, a logged SQL error shows the statement, never its values
    # (token hashes, phones, e-mails).
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = dict(_engine_options(app.config), hide_parameters=True)

    _check_secrets(app)


def _check_secrets(app) -> None:
    """Production refuses published or weak secrets; development makes its own key once."""
    config = app.config
    key = config.get("SECRET_KEY") or ""
    if config.get("REQUIRE_SECRET_KEY"):
        if key == DEFAULT_SECRET_KEY:
            raise SettingsError("production refuses to start with the default SECRET_KEY: set SECRET_KEY")
        if len(key.encode("utf-8") if isinstance(key, str) else key) < MIN_SECRET_KEY_BYTES:
            raise SettingsError(f"production refuses a SECRET_KEY shorter than {MIN_SECRET_KEY_BYTES} bytes")
    elif key == DEFAULT_SECRET_KEY:
        config["SECRET_KEY"] = _instance_secret_key(app.instance_path)
    if config.get("REQUIRE_WECHAT_TOKEN"):
        token = config.get("WECHAT_TOKEN")
        if not token or token == DEFAULT_WECHAT_TOKEN:
            raise SettingsError("production refuses to start without a WECHAT_TOKEN of its own "
                                "(the default is published): set MEMBERDAY_WECHAT_TOKEN")
    if bool(config.get("WECHAT_ENCODING_AES_KEY")) != bool(config.get("WECHAT_APP_ID")):
        raise SettingsError("WeChat safe mode needs both WECHAT_ENCODING_AES_KEY and WECHAT_APP_ID")


def _instance_secret_key(instance_path: str) -> str:
    """A random key made on first start and kept in the instance folder (readable by its owner only)."""
    import secrets

    path = os.path.join(instance_path, "secret_key")
    os.makedirs(instance_path, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    with open(path) as handle:
        key = handle.read().strip()
    if len(key) < MIN_SECRET_KEY_BYTES:  # a file being written by a process starting at the same moment
        import time

        time.sleep(0.2)
        with open(path) as handle:
            key = handle.read().strip()
    return key


def _engine_options(config) -> dict:
    """The connection pool of a server database, from the DB_* settings (SQLite keeps its defaults)."""
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return options
    options.setdefault("pool_size", int(config["DB_POOL_SIZE"]))
    options.setdefault("max_overflow", int(config["DB_MAX_OVERFLOW"]))
    options.setdefault("pool_timeout", float(config["DB_POOL_TIMEOUT"]))
    options.setdefault("pool_recycle", int(config["DB_POOL_RECYCLE"]))
    connect_args = dict(options.get("connect_args") or {})
    connect_args.setdefault("connect_timeout", int(config["DB_CONNECT_TIMEOUT"]))
    options["connect_args"] = connect_args
    return options


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
