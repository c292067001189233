"""The ``memberday`` command line: a Flask CLI group with the platform's commands."""
from __future__ import annotations

import os
import sys
import types

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext


def _create_app():
    from core import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False,
             set_debug_flag=False)
def main():
    """Memberday: members, rewards and campaign plugins."""


def register_cli(app) -> None:
    app.cli.add_command(operators)
    app.cli.add_command(demo)
    app.cli.add_command(cron)
    app.cli.add_command(plugins)
    app.cli.add_command(worker)
    _upgrade_every_branch()


def _upgrade_every_branch() -> None:
    """Make ``memberday db upgrade`` mean every head: the core's branch and each installed plugin's.

    Flask-Migrate's default target is ``head``, which Alembic refuses as soon as a
    plugin adds a branch of its own.
    """
    from flask_migrate.cli import upgrade

    for param in upgrade.params:
        if param.name == "revision":
            param.default = "heads"


@click.group()
def operators():
    """Operators, their API tokens and console passwords."""


def _read_password(password_stdin: bool) -> str | None:
    if not password_stdin:
        return None
    return sys.stdin.readline().rstrip("\r\n")


def _expiry_note(operator) -> str:
    return f", expires {operator.token_expires_at.isoformat(timespec='minutes')}" if operator.token_expires_at else ""


@operators.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(["admin", "operator", "staff"]), default="operator", show_default=True)
@click.option("--password-stdin", is_flag=True, help="Read a console password from the first line of stdin.")
@click.option("--expires-in-days", type=click.FloatRange(min=1, max=3650), default=None,
              help="The token expires after this many days (default: OPERATOR_TOKEN_DAYS, unset = never).")
@with_appcontext
def create_operator(name, role, password_stdin, expires_in_days):
    """Create an operator; the token is printed as the last line (it is not shown again)."""
    from core.auth.services import create_operator as create
    from core.errors import AppError

    try:
        operator, token = create(name, role, password=_read_password(password_stdin),
                                 expires_in_days=expires_in_days)
    except AppError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Created {role} {operator.name!r} (id {operator.id}{_expiry_note(operator)}). Token:")
    click.echo(token)


@operators.command("list")
@with_appcontext
def list_operators():
    """Every operator: name, role, whether their access stands, token expiry, console password."""
    from core.auth.services import list_operators as every

    rows = [("NAME", "ROLE", "STATUS", "TOKEN EXPIRES", "PASSWORD")]
    for operator in every():
        status = "revoked" if operator.revoked_at else "active"
        expires = operator.token_expires_at.isoformat(timespec="minutes") if operator.token_expires_at else "-"
        rows.append((operator.name, operator.role, status, expires if operator.token_hash else "-",
                     "yes" if operator.password_hash else "no"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(value.ljust(width) for value, width in zip(row, widths)).rstrip())


@operators.command("revoke")
@click.argument("name")
@with_appcontext
def revoke_operator(name):
    """Take an operator's access away: token, password sign-in and console sessions end now."""
    from core.auth.services import revoke_operator as revoke
    from core.errors import AppError

    try:
        operator = revoke(name)
    except AppError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Revoked {operator.name!r}: the token and every console session no longer work.")


@operators.command("rotate")
@click.argument("name")
@click.option("--expires-in-days", type=click.FloatRange(min=1, max=3650), default=None,
              help="The new token expires after this many days (default: OPERATOR_TOKEN_DAYS).")
@with_appcontext
def rotate_operator(name, expires_in_days):
    """Issue a new token (the last line); the old one stops working. Reinstates a revoked operator."""
    from core.auth.services import rotate_operator_token
    from core.errors import AppError

    try:
        operator, token = rotate_operator_token(name, expires_in_days=expires_in_days)
    except AppError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"New token for {operator.name!r}{_expiry_note(operator)}; the previous one no longer works:")
    click.echo(token)


@operators.command("set-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from the first line of stdin.")
@with_appcontext
def set_password(name, password_stdin):
    """Set the password an operator signs in to the console with."""
    from core.auth.services import set_operator_password
    from core.errors import AppError

    try:
        operator = set_operator_password(name, _read_password(password_stdin))
    except AppError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Password set for {operator.name!r}.")


@click.command()
@with_appcontext
def demo():
    """Seed a believable brand (members in every stage, orders, coupons) and print an admin token."""
    from core.demo import DEMO_ADMIN, seed

    summary, token = seed()
    click.echo(summary)
    click.echo(f"Open {current_app.config['PUBLIC_URL']}/ ; API docs at {current_app.config['PUBLIC_URL']}"
               "/api/openapi.json")
    import secrets

    from core.auth.services import set_operator_password

    password = secrets.token_urlsafe(12)
    set_operator_password(DEMO_ADMIN, password)
    click.echo(f"Operators' console: {current_app.config['PUBLIC_URL']}/console -- sign in as "
               f"{DEMO_ADMIN!r} with the password {password} (a new one each run).")
    from core.demo import PEOPLE

    click.echo(f"Members sign in at {current_app.config['PUBLIC_URL']}/me/login with a demo phone, e.g. "
               f"{PEOPLE[5][1]}; the one-time code is printed in the server's log while no SMS plugin is on.")
    click.echo("Operator (admin) API token:")
    click.echo(token)


@click.command()
@click.option("--once", is_flag=True, help="Run every periodic job once, now, and exit.")
@with_appcontext
def cron(once):
    """Periodic jobs. ``--once`` runs each now; on a schedule use ``rq cron core.cron``."""
    from core.jobs import registry, run

    if not once:
        raise click.UsageError("On a schedule, run: rq cron --url $REDIS_URL core.cron  (or use --once)")
    failed = 0
    for job in registry().periodic:
        try:
            result = run(job.name)
            click.echo(f"{job.name}: {result!r}")
        except Exception as exc:  # report every job, then fail the command
            failed += 1
            click.echo(f"{job.name}: FAILED {exc!r}", err=True)
    if failed:
        sys.exit(1)


@click.command()
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
@with_appcontext
def worker(burst):
    """Run an rq worker on the configured queue, with rq's scheduler (needs REDIS_URL).

    The scheduler is what runs a job again after it failed or its worker died: rq puts the
    retry on a schedule, and only a worker with the scheduler moves it back onto the queue.
    """
    if not current_app.config.get("REDIS_URL"):
        raise click.ClickException("REDIS_URL is not set: jobs run inline and need no worker.")
    from rq import Worker

    from core.jobs import queue, redis_connection

    Worker([queue()], connection=redis_connection()).work(burst=burst, with_scheduler=True)


@click.group()
def plugins():
    """List plugins and switch them on or off."""


@plugins.command("list")
@with_appcontext
def plugins_list():
    from core.plugins.host import current_host
    from core.plugins.services import describe

    for record in current_host().records.values():
        row = describe(record)
        state = "on " if row["enabled"] else "off"
        line = f"{state} {row['id']:<18} {row['version']:<10} {row['status']:<12} {row['name']}"
        if row["error"]:
            line += f"  ({row['error']})"
        if row["keywords"]:
            line += f"  keywords: {', '.join(row['keywords'])}"
        click.echo(line)
        for clash in row["keyword_clashes"]:
            click.echo(f"    keyword clash: {clash}")


def _change(plugin_id, enabled):
    from core.errors import AppError
    from core.plugins.services import set_enabled

    try:
        set_enabled(plugin_id, enabled, actor=f"cli:{os.environ.get('USER', 'unknown')}")
    except AppError as error:
        raise click.ClickException(error.message) from None
    click.echo(f"{plugin_id} is {'on' if enabled else 'off'}")


@plugins.command("enable")
@click.argument("plugin_id")
@with_appcontext
def plugins_enable(plugin_id):
    _change(plugin_id, True)


@plugins.command("disable")
@click.argument("plugin_id")
@with_appcontext
def plugins_disable(plugin_id):
    _change(plugin_id, False)


@plugins.command("settings")
@click.argument("plugin_id")
@click.argument("assignments", nargs=-1)
@with_appcontext
def plugins_settings(plugin_id, assignments):
    """Show settings (secrets masked), or set some: ``NAME=VALUE`` (VALUE as JSON when it parses)."""
    import json

    from core.errors import AppError
    from core.plugins.host import current_host
    from core.plugins.services import get_record, public_settings, update_settings

    try:
        record = get_record(plugin_id)
        if assignments:
            changes = {}
            for assignment in assignments:
                name, sep, value = assignment.partition("=")
                if not sep:
                    raise click.UsageError(f"{assignment!r} is not NAME=VALUE")
                try:
                    changes[name] = json.loads(value)
                except ValueError:
                    changes[name] = value
            shown = update_settings(plugin_id, changes, actor=f"cli:{os.environ.get('USER', 'unknown')}")
        else:
            shown = public_settings(record, current_host().settings(plugin_id))
    except AppError as error:
        detail = f" {json.dumps(error.fields, ensure_ascii=False)}" if error.fields else ""
        raise click.ClickException(error.message + detail) from None
    click.echo(json.dumps(shown, indent=2, ensure_ascii=False, sort_keys=True))


@plugins.command("new")
@click.argument("plugin_id")
@click.option("--path", "parent", type=click.Path(file_okay=False), default=".", show_default=True,
              help="The folder to create the package in.")
def plugins_new(plugin_id, parent):
    """Write a new plugin package, memberday-<id>, ready to install and test (``make check``)."""
    from pathlib import Path

    from core.plugins.kit import KitError, new_plugin

    try:
        target = new_plugin(plugin_id, Path(parent))
    except KitError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Wrote {target}. Next: cd {target} && make check")


@plugins.command("makemigration")
@click.argument("plugin_id")
@click.option("-m", "--message", required=True, help="What the revision changes.")
@with_appcontext
def plugins_makemigration(plugin_id, message):
    """Autogenerate the next revision on a plugin's own migration branch (a scratch database, no setup)."""
    from core.plugins.kit import KitError, make_migration

    try:
        path = make_migration(plugin_id, message)
    except KitError as error:
        raise click.ClickException(str(error)) from None
    if path is None:
        click.echo(f"The tables of {plugin_id} match its migrations: nothing to write.")
    else:
        click.echo(f"Wrote {path}: read it through before you release it.")


def register_plugin_commands(app, host) -> None:
    """Add each plugin's commands; one of a disabled plugin refuses to run."""
    for plugin_id, commands in host.setup("memberday_cli_commands"):
        for command in commands:
            _guard(command, plugin_id)
            app.cli.add_command(command)


def _guard(command: click.Command, plugin_id: str) -> None:
    if getattr(command, "_memberday_plugin", None):
        return
    command._memberday_plugin = plugin_id
    original = command.invoke

    def invoke(self, ctx):
        from flask.cli import ScriptInfo

        app = ctx.ensure_object(ScriptInfo).load_app()
        with app.app_context():
            from core.plugins.host import current_host

            if not current_host().is_enabled(plugin_id):
                raise click.ClickException(f"plugin {plugin_id} is disabled")
        return original(ctx)

    command.invoke = types.MethodType(invoke, command)
