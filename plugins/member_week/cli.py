"""``memberday member-week ...``: run a week's announcement or reminder here with a progress bar,
see how far a worker has come, move weeks by the clock, print the plan and the report."""
from __future__ import annotations

import json

import click
from flask.cli import with_appcontext


@click.group("member-week")
def member_week():
    """Member weeks: announcements, reminders, status, plan, report."""


def _run_with_bar(week_id: int, send, label: str) -> None:
    from plugins.member_week import services

    week = services.get_week(week_id)
    total = week.participants_count or 0
    done_before = week.notified_count if send is services.announce else week.reminded_count
    with click.progressbar(length=max(total - done_before, 0), label=label, show_pos=True) as bar:
        last = [0]

        def progress(sent: int, _total: int) -> None:
            bar.update(sent - last[0])
            last[0] = sent

        sent = send(week_id, progress=progress)
    click.echo(f"{sent} members told in this run; {_progress_line(week_id)}")


def _progress_line(week_id: int) -> str:
    from plugins.member_week import services

    p = services.progress_of(week_id)
    announced = "finished" if p["announced_at"] else "not finished"
    reminded = "finished" if p["reminded_at"] else "not finished"
    return (f"announcement {p['notified']}/{p['participants'] or 0} ({announced}), "
            f"reminder {p['reminded']}/{p['participants'] or 0} ({reminded})")


@member_week.command("announce")
@click.argument("week_id", type=int)
@with_appcontext
def announce(week_id):
    """Send WEEK_ID's announcement now (what is left of it), showing progress. Safe beside a worker."""
    from plugins.member_week import services

    _guard(week_id, "announced")
    _run_with_bar(week_id, services.announce, "Announcing")


@member_week.command("remind")
@click.argument("week_id", type=int)
@with_appcontext
def remind(week_id):
    """Send WEEK_ID's start reminder now (what is left of it), showing progress."""
    from plugins.member_week import services

    _guard(week_id, "running")
    _run_with_bar(week_id, services.remind, "Reminding")


def _guard(week_id: int, status: str) -> None:
    from core.errors import AppError
    from plugins.member_week import services

    try:
        week = services.get_week(week_id)
    except AppError as error:
        raise click.ClickException(error.message) from None
    if week.snapshot_at is None:
        raise click.ClickException(f"Week {week_id} is {week.status}: its audience is fixed when it is announced "
                                   "(at announce_at, by `memberday member-week tick`).")
    if status == "running" and week.status != "running":
        raise click.ClickException(f"Week {week_id} is {week.status}; the reminder goes out when it starts.")


@member_week.command("progress")
@click.argument("week_id", type=int)
@with_appcontext
def progress(week_id):
    """How far WEEK_ID's announcement and reminder have come (e.g. while a worker sends them)."""
    from core.errors import AppError

    try:
        click.echo(f"week {week_id}: {_progress_line(week_id)}")
    except AppError as error:
        raise click.ClickException(error.message) from None


@member_week.command("tick")
@with_appcontext
def tick():
    """Move every week whose time has come (what the periodic job does every minute)."""
    from plugins.member_week import services

    moved = services.tick()
    click.echo(", ".join(f"{key}: {value}" for key, value in moved.items()))


@member_week.command("plan")
@click.option("--months", default=12, show_default=True, type=click.IntRange(1, 24))
@with_appcontext
def plan(months):
    """Print the proposed windows for the coming months."""
    from plugins.member_week import services

    for proposal in services.plan(months):
        promotion = proposal["promotion"]["name"] if proposal["promotion"] else "-"
        clash = f"  overlaps week {proposal['overlaps_week_id']}" if proposal["overlaps_week_id"] else ""
        click.echo(f"{proposal['month']}  {proposal['starts_at']:%Y-%m-%d %H:%M} → {proposal['ends_at']:%Y-%m-%d %H:%M}"
                   f"  announce {proposal['announce_at']:%Y-%m-%d}  for {promotion}{clash}")


@member_week.command("report")
@click.argument("week_id", type=int)
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of JSON.")
@click.option("--refresh", is_flag=True, help="Compute it now rather than print the stored one.")
@with_appcontext
def report_command(week_id, as_csv, refresh):
    """Print WEEK_ID's report."""
    from core.errors import AppError
    from plugins.member_week import report

    try:
        figures = report.compute(week_id) if refresh else report.stored(week_id)
    except AppError as error:
        raise click.ClickException(error.message) from None
    if as_csv:
        click.echo(report.as_csv(figures), nl=False)
    else:
        click.echo(json.dumps(dict(figures, computed_at=figures["computed_at"].isoformat()), indent=2,
                              ensure_ascii=False))
