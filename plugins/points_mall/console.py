"""The points mall's console pages: items and stock, voucher-code imports, redemptions and cancelling them."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import func, select

from core.console.forms import form_fields, read_form
from core.database import utcnow
from core.errors import AppError, NotFound
from core.extensions import db
from core.members.models import Member
from core.plugins import ConsolePages, Headline, MenuEntry
from plugins.points_mall import PLUGIN, services
from plugins.points_mall.models import Redemption
from plugins.points_mall.schemas import ItemWriteSchema

# The plugin's name and description as the console's list of plugins shows them (found there by msgid).
LISTED_AS = (_l("Points mall"),
             _l("A catalogue members buy with points, with third-party voucher code pools."))

console = Blueprint("points_mall_console", __name__)


def _actor() -> str:
    return f"operator:{g.console_operator.id}"


def _item_values(item) -> dict:
    return {name: getattr(item, name) for name in ItemWriteSchema().fields}


def _redemptions(item_id: int | None = None):
    rows = db.session.scalars(services.redemption_list(item_id=item_id).limit(50)).all()
    names = dict(db.session.execute(select(Member.id, Member.name)
                                    .where(Member.id.in_({row.member_id for row in rows}))).all())
    return rows, names


@console.route("/")
def items(form=None, status=200):
    redemptions, names = _redemptions()
    return render_template(PLUGIN.template("console_items.html"), items=services.operator_catalogue(),
                           form=form or form_fields(ItemWriteSchema()), redemptions=redemptions,
                           names=names), status


@console.route("/items", methods=["POST"])
def item_create():
    schema = ItemWriteSchema()
    data = read_form(schema, request.form)
    try:
        item = services.create_item(schema.load(data))
    except ValidationError as error:
        flash(_("The item was not added: see the marked fields."), "error")
        return items(form_fields(schema, data, error.messages), 400)
    flash(_("“%(name)s” added.", name=item.name), "ok")
    return redirect(url_for("points_mall_console.item", item_id=item.id), code=303)


@console.route("/items/<int:item_id>", methods=["GET", "POST"])
def item(item_id):
    report = services.item_report(item_id)
    schema = ItemWriteSchema()
    errors, values, status = {}, _item_values(report.item), 200
    if request.method == "POST":
        data = read_form(schema, request.form)
        try:
            services.update_item(item_id, schema.load(data))
        except ValidationError as error:
            errors, values, status = error.messages, data, 400
        except AppError as error:
            errors, values, status = error.fields or {"_schema": [error.translated()]}, data, error.status
        else:
            flash(_("Saved."), "ok")
            return redirect(url_for("points_mall_console.item", item_id=item_id), code=303)
        flash(_("Not saved: see the marked fields."), "error")
    redemptions, names = _redemptions(item_id)
    return render_template(PLUGIN.template("console_item.html"), report=report, form=form_fields(schema, values, errors),
                           redemptions=redemptions, names=names), status


@console.route("/items/<int:item_id>/codes", methods=["POST"])
def codes_import(item_id):
    services.get_item(item_id)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        flash(_("Choose a CSV file of codes to import."), "error")
        return redirect(url_for("points_mall_console.item", item_id=item_id), code=303)
    try:
        result = services.import_codes(item_id, services.codes_from_csv(upload.read()))
    except AppError as error:
        flash(_("Nothing was imported: %(problem)s", problem=error.translated()), "error")
    else:
        flash(_("Imported %(imported)s codes; %(duplicates)s refused as duplicates; %(left)s available now.",
                imported=result["imported"], duplicates=result["duplicates"], left=result["codes_left"]), "ok")
    return redirect(url_for("points_mall_console.item", item_id=item_id), code=303)


@console.route("/redemptions/<int:redemption_id>/cancel", methods=["POST"])
def redemption_cancel(redemption_id):
    redemption = db.session.get(Redemption, redemption_id)
    if redemption is None:
        raise NotFound(_("No such redemption."))
    try:
        services.cancel(redemption_id, actor=_actor())
    except AppError as error:
        flash(error.translated(), "error")
    else:
        flash(_("Redemption %(id)s cancelled: points and stock are back.", id=redemption_id), "ok")
    target = request.form.get("back") == "item"
    return redirect(url_for("points_mall_console.item", item_id=redemption.item_id) if target
                    else url_for("points_mall_console.items"), code=303)


def headline() -> Headline:
    local = utcnow().astimezone(ZoneInfo(current_app.config["BRAND_TIMEZONE"]))
    since = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    count = db.session.scalar(select(func.count(Redemption.id))
                              .where(Redemption.status == "completed", Redemption.created_at >= since)) or 0
    return Headline(_l("Mall redemptions this month"), count, "points_mall_console.items")


PAGES = ConsolePages(console, menu=(MenuEntry(_l("Points mall"), "points_mall_console.items"),), headline=headline)
