"""Alembic environment for the core and every installed plugin's branch."""
import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
if config.config_file_name:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
log = logging.getLogger("alembic.env")

db = current_app.extensions["migrate"].db
target_metadata = db.metadata


def _include_object(obj, name, type_, reflected, compare_to):
    # `-x only=<prefix>` limits autogenerate to one plugin's tables (or "core").
    only = context.get_x_argument(as_dictionary=True).get("only")
    if not only or type_ != "table":
        return True
    plugin_prefixes = tuple(f"{pid}_" for pid in current_app.extensions["memberday_plugins"].records)
    if only == "core":
        return not name.startswith(plugin_prefixes)
    return name.startswith(f"{only}_")


def run_migrations_offline():
    context.configure(url=str(db.engine.url), target_metadata=target_metadata, literal_binds=True,
                      include_object=_include_object)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    connectable = db.engine
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite",
                          include_object=_include_object, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
