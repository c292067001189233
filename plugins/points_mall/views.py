"""The mall for members on their phones: what they can take now, what is a few points away,
redeeming with a confirmation, and their vouchers with their codes.

Redeeming goes through ``services.redeem`` -- the service behind ``POST /api/v1/mall/redemptions``
-- under an Idempotency-Key the confirmation form carries, so a double tap redeems once.
"""
import secrets

from flask import Blueprint, abort, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select

from core.errors import AppError
from core.extensions import db
from core.i18n import _
from core.idempotency import once
from core.pages.views import member_or_login
from plugins.points_mall import PLUGIN, services
from plugins.points_mall.models import Redemption

SHOWN = 6

pages = Blueprint("points_mall_pages", __name__, url_prefix="/me/mall")


def member_section(member) -> Markup:
    takeable, short = services.member_catalogue(member)
    return Markup(render_template(PLUGIN.template("section.html"), member=member,
                                  takeable=takeable[:SHOWN], short=short[:3]))


def _vouchers(member_id: int) -> list[Redemption]:
    return db.session.scalars(select(Redemption).where(Redemption.member_id == member_id)
                              .order_by(Redemption.id.desc()).limit(20)).all()


@pages.route("")
def mall():
    member = member_or_login()
    takeable, short = services.member_catalogue(member)
    return render_template("points_mall/mall.html", member=member, takeable=takeable, short=short,
                           redemptions=_vouchers(member.id))


def _listing(member, item_id: int):
    takeable, short = services.member_catalogue(member)
    for listing in takeable + short:
        if listing.item.id == item_id:
            return listing
    abort(404)


@pages.route("/<int:item_id>", methods=["GET", "POST"])
def confirm(item_id):
    """The confirmation step; its form carries a fresh Idempotency-Key, so a double tap redeems once."""
    member = member_or_login()
    error, status = None, 200
    if request.method == "POST":
        key = request.form.get("idempotency_key") or ""
        try:
            result = once(key, lambda: {"redemption_id": services.redeem(
                member.id, item_id, 1, actor=f"member:{member.id}").id},
                scope=f"member:{member.id}", endpoint="page POST /me/mall/<item_id>", fingerprint=str(item_id))
            return redirect(url_for("points_mall_pages.voucher", redemption_id=result["redemption_id"]), code=303)
        except AppError as exc:
            error, status = _refusal(exc), exc.status
    listing = _listing(member, item_id)
    return render_template("points_mall/confirm.html", member=member, listing=listing, error=error,
                           idempotency_key=secrets.token_urlsafe(18)), status


def _refusal(exc: AppError) -> str:
    return {"insufficient_points": _("You do not have enough points for this yet."),
            "out_of_stock": _("Sorry, this is all gone."),
            "limit_reached": _("You have already taken as many as one member may."),
            "not_eligible": _("This reward is not offered to you."),
            "not_on_sale": _("This reward is not on offer now.")}.get(exc.code, exc.translated())


@pages.route("/vouchers/<int:redemption_id>")
def voucher(redemption_id):
    member = member_or_login()
    redemption = db.session.get(Redemption, redemption_id)
    if redemption is None or redemption.member_id != member.id:
        abort(404)
    return render_template("points_mall/voucher.html", member=member, redemption=redemption)
