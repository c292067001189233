"""``memberday mall ...``: the mall's command line (importing voucher codes from a vendor's CSV)."""
import click
from flask.cli import with_appcontext


@click.group("mall")
def mall():
    """Points mall: voucher code pools."""


@mall.command("import-codes")
@click.argument("item_id", type=int)
@click.argument("file", type=click.File("rb"))
@with_appcontext
def import_codes(item_id, file):
    """Import voucher codes for ITEM_ID from FILE (CSV: the first column, an optional header row)."""
    from core.errors import AppError
    from plugins.points_mall import services

    try:
        services.get_item(item_id)
        result = services.import_codes(item_id, services.codes_from_csv(file.read()))
    except AppError as error:
        detail = f" {error.fields}" if error.fields else ""
        raise click.ClickException(error.message + detail) from None
    click.echo(f"Imported {result['imported']} codes; {result['duplicates']} duplicates refused. "
               f"{result['codes_left']} codes left for item {item_id}.")
    for code in result["duplicate_codes"]:
        click.echo(f"duplicate: {code}")
