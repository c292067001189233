"""Referral pages: the share link, its QR images, and the join page a friend lands on."""
from __future__ import annotations

import secrets

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from core.errors import AppError, NotFound
from core.extensions import db
from core.i18n import _
from core.members import services as members
from core.members.models import Member
from core.pages.views import begin_join
from core.ratelimit import limit
from plugins.referral import PLUGIN, services

pages = Blueprint("referral", __name__, url_prefix="/r")

QR_FORMATS = {"png": "image/png", "svg": "image/svg+xml"}
DEVICE_COOKIE_DAYS = 400  # browsers cap cookie lifetimes at about this


def not_found():
    """A friendly page for any share link that leads nowhere (always a page, never an error body)."""
    return render_template(PLUGIN.template("not_found.html")), 404, {"Cache-Control": "no-store"}


@pages.errorhandler(NotFound)
def _refused_path(error):
    # The input boundary refuses a share code holding NUL or bad bytes before any view runs.
    return not_found()


@pages.route("", strict_slashes=False)
@pages.route("/<path:anything>")
def unknown(anything=""):
    return not_found()


@pages.route("/<string(maxlength=200):code>")
@limit("share_link")
def share_link(code):
    """Count the visit, remember who invited this browser (first click wins), send it to the landing page."""
    found = services.find_code(code)
    if found is None:
        return not_found()
    source = "qr" if request.args.get("src") == "qr" else "link"
    services.record_click(found, source, request.headers.get("User-Agent"), request.remote_addr)
    response = redirect(services.landing_url(found.code), code=303)
    response.headers["Cache-Control"] = "no-store"  # every visit must reach us to be counted
    if services.attributed_code(request.cookies.get(services.ATTRIBUTION_COOKIE)) is None:
        window = services.settings()["attribution_window_days"]
        response.set_cookie(services.ATTRIBUTION_COOKIE, services.attribution_cookie_value(found.code),
                            max_age=window * 86400, httponly=True, samesite="Lax",
                            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


@pages.route("/<string(maxlength=200):code>/qr.<string(maxlength=4):image_format>")
@limit("qr")
def qr_image(code, image_format):
    """The share link as a QR image (marked as a scan); cacheable, revalidated with its ETag."""
    mimetype = QR_FORMATS.get(image_format)
    found = services.find_code(code) if mimetype else None
    if found is None:
        return not_found()
    data = services.scan_url(found.code)
    etag = services.qr_etag(data, image_format)
    headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=86400"}
    if etag in request.if_none_match:
        return "", 304, headers
    return services.qr_image(data, image_format), 200, dict(headers, **{"Content-Type": mimetype})


@pages.route("/<string(maxlength=200):code>/join", methods=["GET", "POST"])
@limit("join", methods=["POST"])
def join(code):
    """The landing page: who invited you, and a sign-up form that joins with their code."""
    found = services.find_code(code)
    if found is None:
        return not_found()
    referrer = db.session.get(Member, found.member_id)
    device = request.cookies.get(services.DEVICE_COOKIE) or ""
    if not (device.startswith("web-") and len(device) <= 64):
        device = "web-" + secrets.token_urlsafe(16)
    error, already_member, status = None, False, 200
    if request.method == "POST":
        form = request.form
        phone = (form.get("phone") or "").strip() or None
        email = (form.get("email") or "").strip()[:254] or None
        try:
            existing = members.member_with_identity(phone, email) if (phone or email) else None
            if existing is not None:
                # Someone who already has an account: the friend is told, the refusal recorded.
                already_member, status = True, 409
                services.record_existing_member(found, existing)
            else:
                # The phone is verified by a code before the member exists (core.pages.views).
                return _with_device(begin_join(form, context={"referral_code": found.code}, device_id=device),
                                    device)
        except AppError as exc:
            error, status = exc.translated(), exc.status
    return _with_device(current_app.make_response((render_template(
        PLUGIN.template("join.html"), referrer_name=_first_name(referrer.name if referrer else ""), code=found.code,
        error=error, already_member=already_member, settings=services.settings()), status)), device)


def _with_device(response, device: str):
    """Remember this browser: several accounts joining from it count as one device."""
    response.set_cookie(services.DEVICE_COOKIE, device, max_age=DEVICE_COOKIE_DAYS * 86400, httponly=True,
                        samesite="Lax", secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


def _first_name(name: str) -> str:
    # A share page is public: the friend sees who invited them, not their full name.
    return (name or "").split()[0] if (name or "").split() else _("A friend")
