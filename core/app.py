"""Assembling the app: extensions, core blueprints, the plugin host and its setup hooks."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import jinja2
from flask import Flask, request
from flask_smorest import Blueprint as ApiBlueprint
from sqlalchemy import event

from config import load_settings
from core.api import Api, BoundedIntConverter, health
from core.database import end_session
from core.errors import NotFound, register_error_handlers
from core.extensions import db, migrate
from core.jobs import JobRegistry
from core.plugins import PeriodicJob
from core.plugins.host import PluginHost, plugin_switched_off
from core.version import __version__

CORE_DIR = Path(__file__).parent
log = logging.getLogger(__name__)


def build_app(config: dict | None = None) -> Flask:
    instance_path = os.environ.get("MEMBERDAY_INSTANCE_PATH") or os.path.join(os.getcwd(), "instance")
    app = Flask("memberday", instance_path=os.path.abspath(instance_path),
                root_path=str(CORE_DIR), template_folder="templates", static_folder="static")
    load_settings(app, config)
    app.config.setdefault("API_SPEC_OPTIONS", {"info": {"description": "Memberday HTTP API."}})
    app.url_map.converters["int"] = BoundedIntConverter
    app.url_map.strict_slashes = False

    db.init_app(app)
    migrate.init_app(app, db, directory=str(CORE_DIR / "migrations"))
    with app.app_context():
        _tune_engine(app)

    api = Api(app)
    app.extensions["memberday_api"] = api
    register_error_handlers(app)
    from core import boundary, ratelimit
    from core.auth import web

    boundary.init_app(app)
    web.init_app(app)
    ratelimit.init_app(app)

    jobs = JobRegistry()
    app.extensions["memberday_jobs"] = jobs
    _register_core(app, api, jobs)

    host = PluginHost()
    app.extensions["memberday_plugins"] = host
    plugin_switched_off.connect(_tell_operators_of_switch_off, sender=host, weak=False)
    if app.config["PLUGINS_DISCOVER"]:
        host.discover()
    _setup_plugins(app, api, jobs, host)

    @app.before_request
    def _disabled_plugin_routes_are_gone():
        for name in request.blueprints:
            owner = host.blueprint_owner.get(name)
            if owner is not None and not host.is_enabled(owner):
                raise NotFound()

    @app.teardown_appcontext
    def _end_session(exc):
        end_session()

    return app


def _tune_engine(app: Flask) -> None:
    engine = db.engine
    if engine.dialect.name != "sqlite":
        return

    # The embedded default: one writer at a time, and foreign keys enforced.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def _register_core(app: Flask, api: Api, jobs: JobRegistry) -> None:
    from core.events import services as events
    from core.idempotency import purge_old_keys
    from core.language import blp as language
    from core.members.api import audiences
    from core.members.api import blp as members
    from core.messaging.api import blp as messages
    from core.messaging.api import wechat
    from core.notifications import services as notifications
    from core.notifications.api import blp as notification_api
    from core.orders.api import blp as orders
    from core.pages.views import blp as pages
    from core.plugins.api import blp as plugin_api
    from core.rewards import services as rewards
    from core.rewards.api import blp as rewards_api

    for blueprint in (health, members, audiences, rewards_api, orders, notification_api, plugin_api, messages):
        api.register_blueprint(blueprint)
    app.register_blueprint(wechat)
    app.register_blueprint(pages)
    app.register_blueprint(language)

    jobs.add("core.deliver_notification", notifications.deliver)
    jobs.add("core.expire_due", rewards.expire_due)
    jobs.add("core.purge_idempotency_keys", purge_old_keys)
    jobs.add("core.relay_events", events.relay)
    jobs.add("core.deliver_events", events.deliver_inline)
    jobs.add("core.purge_events", events.purge_done)
    jobs.periodic.extend([PeriodicJob("core.expire_due", interval=3600),
                          PeriodicJob("core.purge_idempotency_keys", interval=3600),
                          PeriodicJob("core.relay_events", interval=60),
                          PeriodicJob("core.purge_events", interval=86400)])

    from core.cli import register_cli

    register_cli(app)
    app.jinja_env.globals.update(brand=app.config["BRAND_NAME"], core_version=__version__)


def _setup_plugins(app: Flask, api: Api, jobs: JobRegistry, host: PluginHost) -> None:
    """Run the setup hooks of every installed plugin; a plugin that fails one is marked broken."""
    for plugin_id, blueprints in host.setup("memberday_blueprints", app=app):
        for blueprint in blueprints:
            host.blueprint_owner[blueprint.name] = plugin_id
            if isinstance(blueprint, ApiBlueprint):
                api.register_blueprint(blueprint)
            else:
                app.register_blueprint(blueprint)

    for plugin_id, job_map in host.setup("memberday_jobs"):
        for name, func in job_map.items():
            jobs.add(name, func, plugin_id, is_on=_plugin_is_on(host, plugin_id))
    for plugin_id, periodic in host.setup("memberday_periodic_jobs"):
        for job in periodic:
            if job.name not in jobs.jobs:
                log.error("plugin %s schedules unknown job %s", plugin_id, job.name)
                continue
            jobs.periodic.append(job)

    folders = [str(CORE_DIR / "templates")]
    for _, extra in host.setup("memberday_template_folders"):
        folders.extend(extra)
    app.jinja_loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(folders)])

    from core import i18n

    catalogs = []
    for plugin_id, directory in host.setup("memberday_translations"):
        if isinstance(directory, (str, Path)) and Path(directory).is_dir():
            catalogs.append(directory)
        else:
            log.error("plugin %s: memberday_translations must return a catalog directory, got %r",
                      plugin_id, directory)
    i18n.init_app(app, catalogs)

    from core.cli import register_plugin_commands
    from core.console import init_console

    register_plugin_commands(app, host)
    init_console(app, host)

    if _plugin_migrations not in migrate.configure_callbacks:
        migrate.configure(_plugin_migrations)


def _plugin_is_on(host: PluginHost, plugin_id: str):
    def is_on() -> bool:
        host.forget_state()  # a job may run long after the request that queued it: read the flags now
        return host.is_enabled(plugin_id)

    return is_on


def _tell_operators_of_switch_off(host: PluginHost, plugin_id: str, reason: str, failures: int) -> None:
    """The host switched a plugin off after failures in a row: operators get a notice (same transaction)."""
    from core.i18n import _, in_language
    from core.notifications.services import notify_operators

    with in_language(None):  # operators read the brand's language
        notify_operators(_("Plugin %(id)s was switched off", id=plugin_id),
                         _("Switched off: %(reason)s. Fix it, then switch it on again.", reason=reason))


def _plugin_migrations(config):
    """Alembic sees the core's versions folder and every installed plugin's."""
    from flask import current_app

    locations = [str(CORE_DIR / "migrations" / "versions")]
    host = current_app.extensions["memberday_plugins"]
    for _, folder in host.setup("memberday_migrations_folder"):
        locations.append(str(folder))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(locations))
    return config
