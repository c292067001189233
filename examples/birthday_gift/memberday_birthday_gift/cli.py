"""``memberday birthday-gift``: run the gift round now, e.g. after an outage."""
import click
from flask.cli import with_appcontext

from . import services


@click.group("birthday-gift")
def birthday_gift():
    """Birthday-month gifts (plugin birthday_gift)."""


@birthday_gift.command("send-due")
@click.option("--date", "on", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Act as if today were this date (brand time zone).")
@with_appcontext
def send_due(on):
    """Gift every member in their birthday month who has not had this year's gift."""
    result = services.send_due(on.date().isoformat() if on else None)
    click.echo(f"gifts given: {result['given']}, failed: {result['failed']}")
