"""``memberday referral ...``: the referral plugin's commands."""
from __future__ import annotations

import shutil
import time

import click
from flask import current_app
from flask.cli import with_appcontext


@click.group()
def referral():
    """Referral programme tools."""


@referral.command("export-qr")
@click.option("--member", "member_ids", type=click.IntRange(min=1), multiple=True,
              help="A member id to export (repeat the option); leave out with --all.")
@click.option("--all", "everyone", is_flag=True, help="Export every member's QR code.")
@click.option("--format", "image_format", type=click.Choice(["png", "svg"]), default="png", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Copy the ZIP here when done.")
@click.option("--timeout", type=int, default=3600, show_default=True, help="Seconds to wait for the worker.")
@with_appcontext
def export_qr(member_ids, everyone, image_format, output, timeout):
    """Export QR codes for posters as a ZIP, showing progress.

    With REDIS_URL set the export runs as a job in a worker and this command follows its
    progress; without it, the export runs here.
    """
    import os

    from core.errors import AppError
    from plugins.referral import services

    if bool(member_ids) == everyone:
        raise click.UsageError("give --member ID (one or more) or --all")
    in_background = bool(current_app.config.get("REDIS_URL"))
    try:
        export = services.request_qr_export(list(member_ids) or None, image_format, requested_by="cli",
                                            run_in_background=in_background)
    except AppError as error:
        raise click.ClickException(f"{error.message} {error.fields or ''}".strip()) from None
    export_id = export.id
    click.echo(f"Export {export_id} {'queued' if in_background else 'started'}.")
    with click.progressbar(length=1, label="QR codes", show_pos=True) as bar:
        if in_background:
            deadline = time.monotonic() + timeout
            while True:
                export = services.get_export(export_id)
                if export.total:
                    bar.length = export.total
                    bar.update(export.done - bar.pos)
                if export.status in ("done", "failed"):
                    break
                if time.monotonic() > deadline:
                    raise click.ClickException(f"export {export_id} is still {export.status}; is a worker running?")
                time.sleep(0.5)
        else:
            def progress(done, total):
                bar.length = total
                bar.update(done - bar.pos)

            services.build_qr_export(export_id, progress=progress)
    export = services.get_export(export_id)
    if export.status != "done":
        raise click.ClickException(f"export {export_id} failed: {export.error}")
    path = services.export_path(export)
    if output:
        shutil.copyfile(path, output)
        path = os.path.abspath(output)
    click.echo(f"{export.total} QR codes written to {path}")


@referral.command("rebuild-rollups")
@with_appcontext
def rebuild_rollups():
    """Recount the funnel's and leaderboard's daily rollups from every click and referral.

    The writes keep them exact; run this after changing BRAND_TIMEZONE, whose days they count in.
    """
    from core.database import transaction
    from core.extensions import db
    from plugins.referral import rollup

    with transaction():
        rollup.rebuild(db.session.connection())
    click.echo("referral rollups rebuilt")
