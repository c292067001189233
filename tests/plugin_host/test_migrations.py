"""``memberday db upgrade`` brings the core and every installed plugin's Alembic branch to head."""
import os
import secrets
import subprocess
import sys

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text

from core.testing import ADMIN_PG, make_app


@pytest.fixture
def empty_database():
    name = f"memberday_upgrade_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN_PG.rsplit("/", 1)[0] + "/" + name
    yield url
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def memberday(*args, url):
    command = os.path.join(os.path.dirname(sys.executable), "memberday")
    env = dict(os.environ, MEMBERDAY_ENV="testing", DATABASE_URL=url)
    result = subprocess.run([command, *args], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_db_upgrade_applies_every_head_of_core_and_installed_plugins(empty_database):
    memberday("db", "upgrade", url=empty_database)

    def revisions(*args):
        return {line.split()[0] for line in memberday("db", *args, url=empty_database).splitlines() if line.strip()}

    heads = revisions("heads")
    assert "birthday_gift_0001" in heads
    assert len({head for head in heads if head.startswith("core_")}) == 1  # the core is one line
    # ``current`` lists what the database is at, counting a branch point reached through a plugin's depends_on.
    assert revisions("current") == heads

    engine = create_engine(make_app(empty_database).config["SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as conn:
        applied = set(conn.scalars(text("SELECT version_num FROM alembic_version")))
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert applied <= heads and "birthday_gift_0001" in applied

    # Every model of the core and of each plugin that loads has its table.
    from core.extensions import db

    assert {table.name for table in db.metadata.sorted_tables} <= tables
    # A second run has nothing left to do.
    memberday("db", "upgrade", url=empty_database)
