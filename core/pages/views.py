"""Server-rendered pages for members on their phones: home, join, sign-in, the member page,
coupons and the points history.

Members never see or type a token. They sign in with a one-time code sent to their
phone (``core.auth.codes``) or, inside WeChat, with WeChat's web sign-in (OAuth
``snsapi_base``). Joining needs a phone verified by the same code, or an openid from
WeChat's sign-in. What the browser has proved so far lives in its (signed) session:

- ``code_phone``: the phone a code was sent to, waiting for the code;
- ``pending_join``: a join form waiting for its phone to be verified;
- ``verified_phone`` / ``wechat_openid``: an identity proved, with no member yet.
"""
from __future__ import annotations

import io
import secrets
from datetime import timedelta

from flask import Blueprint, abort, current_app, redirect, render_template, request, session, url_for
from markupsafe import Markup, escape
from sqlalchemy import select

from core.auth import codes
from core.auth.services import Principal
from core.auth.sessions import current_subject, end_session, start_session
from core.database import transaction, utcnow
from core.errors import AppError
from core.extensions import db
from core.i18n import _, current_locale
from core.language import safe_next
from core.members import services as members
from core.members.models import Member
from core.notifications.services import inbox
from core.plugins.host import current_host
from core.ratelimit import check, limit
from core.rewards import services as rewards
from core.rewards.models import Coupon

blp = Blueprint("pages", __name__)

# How long a proved phone or openid may wait for the join form.
VERIFIED_MINUTES = 30


def signed_in_member() -> Member | None:
    """The member signed in in this browser (a server-side session), or None."""
    member_id = current_subject("member")
    return db.session.get(Member, member_id) if member_id else None


def sign_in(member: Member) -> None:
    """Start the member's session; an openid proved by WeChat's sign-in in this browser is linked."""
    openid = _proved("wechat_openid")
    if openid and member.openid is None and members.member_by_openid(openid) is None:
        with transaction():
            db.session.get(Member, member.id, with_for_update=True).openid = openid
    for key in ("code_phone", "pending_join", "verified_phone", "wechat_openid", "wechat_state"):
        session.pop(key, None)
    start_session("member", member.id)


def _prove(key: str, value: str) -> None:
    session[key] = {"value": value, "until": (utcnow() + timedelta(minutes=VERIFIED_MINUTES)).timestamp()}


def _proved(key: str) -> str | None:
    proof = session.get(key)
    if isinstance(proof, dict) and isinstance(proof.get("value"), str) and \
            float(proof.get("until") or 0) > utcnow().timestamp():
        return proof["value"]
    return None


def stage_words(stage: str) -> str:
    """The lifecycle stage in the member's own words."""
    return {"prospect": _("Welcome aboard"), "new": _("New member"), "active": _("Regular guest"),
            "at_risk": _("We miss you"), "lapsed": _("Welcome back")}.get(stage, _("Member"))


def tier_words(tier: str) -> str:
    return {"member": _("Member"), "silver": _("Silver member"), "gold": _("Gold member"),
            "platinum": _("Platinum member")}.get(tier, tier)


def channel_words(channel: str) -> str:
    return {"offline": _("In store only"), "online": _("Online only"),
            "any": _("In store or online")}.get(channel, channel)


def coupon_status_words(status: str) -> str:
    return {"issued": _("Ready to use"), "redeemed": _("Used"), "expired": _("Expired"),
            "void": _("Cancelled")}.get(status, status)


@blp.app_context_processor
def _member_words():
    return {"stage_words": stage_words, "tier_words": tier_words, "channel_words": channel_words,
            "coupon_status_words": coupon_status_words, "plugin_on": current_host().is_enabled}


@blp.route("/")
def home():
    return render_template("home.html", member=signed_in_member())


# ---------------------------------------------------------------- joining and signing in


def retry_after(exc: AppError) -> dict:
    """A rate-limited form says when to try again, as the API does."""
    seconds = exc.extra.get("retry_after") if exc.status == 429 else None
    return {"Retry-After": str(seconds)} if seconds else {}


def send_code_to(phone: str) -> None:
    """Send a sign-in code to ``phone`` (normalised), counted per client and per phone."""
    check("one_time_code", f"addr:{request.remote_addr or 'unknown'}")
    check("one_time_code", f"phone:{phone}")
    codes.send_code(phone, locale=current_locale())
    session["code_phone"] = phone


def begin_join(form, *, context: dict, device_id: str | None = None, then: str | None = None):
    """The join form was posted: create the member if an identity is proved, else send a code.

    Returns a redirect (to ``then``, a path on this site, once joined; else ``/me``); raises
    ``AppError`` (a clear message for the form) when the form is wrong. Campaign pages share it
    with ``/join``: referral's landing page passes its referral ``context``, an event's its page.
    """
    then = then if then and safe_next(then) == then else None  # a path on this site only
    name = (form.get("name") or "").strip()[:100]
    if not name:
        raise AppError(_("Please tell us your name."), code="validation_error")
    email = (form.get("email") or "").strip()[:254] or None
    consent = bool(form.get("consent"))
    phone, openid = _proved("verified_phone"), _proved("wechat_openid")
    if phone is None and openid is None:
        phone = members.normalise_phone((form.get("phone") or "").strip() or None)
        if phone is None:
            raise AppError(_("Please enter your mobile phone number: we send it a code."),
                           code="validation_error")
        if members.member_with_identity(phone=phone) is None:
            members.normalise_email(email)  # a wrong e-mail is told now, not after the code
        session["pending_join"] = {"name": name, "email": email, "consent": consent,
                                   "context": context, "device_id": device_id, "then": then}
        send_code_to(phone)
        return redirect(url_for("pages.enter_code"), code=303)
    member = _create(name, phone=phone, openid=openid, email=email, consent=consent, context=context,
                     device_id=device_id)
    sign_in(member)
    return redirect(then or url_for("pages.me"), code=303)


def _create(name, *, phone, openid, email, consent, context, device_id) -> Member:
    member, _token = members.create_member(  # the token is for API clients; pages never show it
        name, phone=phone, openid=openid, email=email, device_id=device_id, marketing_consent=consent,
        context=dict(context or {}, channel="web"))
    return member


@blp.route("/join", methods=["GET", "POST"])
@limit("join", methods=["POST"])
def join():
    """Join: a name and a phone, verified by a code (or an identity proved just before)."""
    error, status, headers = None, 200, {}
    if request.method == "POST":
        try:
            return begin_join(request.form, context={})
        except AppError as exc:
            error, status, headers = exc.translated(), exc.status, retry_after(exc)
    return render_template("join.html", error=error, verified_phone=_proved("verified_phone"),
                           wechat=bool(_proved("wechat_openid")), wechat_sign_in=wechat_configured()), status, headers


@blp.route("/me/login", methods=["GET", "POST"])
@limit("one_time_code", methods=["POST"])
def login():
    """Sign in: the member's phone, to which a code is sent."""
    error, status, headers = None, 200, {}
    if request.method == "POST":
        try:
            phone = members.normalise_phone((request.form.get("phone") or "").strip() or None)
            if phone is None:
                raise AppError(_("Please enter your mobile phone number."), code="validation_error")
            session.pop("pending_join", None)
            send_code_to(phone)
            return redirect(url_for("pages.enter_code"), code=303)
        except AppError as exc:
            error, status, headers = exc.translated(), exc.status, retry_after(exc)
    return render_template("login.html", error=error, wechat_sign_in=wechat_configured()), status, headers


@blp.route("/me/login/code", methods=["GET", "POST"])
@limit("sign_in", methods=["POST"])
def enter_code():
    """The code sent to the phone: signs the member in, or finishes joining."""
    phone = session.get("code_phone")
    if not isinstance(phone, str):
        return redirect(url_for("pages.login"))
    error, status = None, 200
    if request.method == "POST":
        try:
            codes.check_code(phone, request.form.get("code") or "")
            return _phone_proved(phone)
        except AppError as exc:
            error, status = exc.translated(), exc.status
    return render_template("code.html", error=error, phone=codes.mask(phone),
                           joining=bool(session.get("pending_join"))), status


def _phone_proved(phone: str):
    member = members.member_with_identity(phone=phone)
    pending = session.get("pending_join")
    if member is None and isinstance(pending, dict):
        member = _create(pending.get("name") or "", phone=phone, openid=_proved("wechat_openid"),
                         email=pending.get("email"), consent=bool(pending.get("consent")),
                         context=pending.get("context") or {}, device_id=pending.get("device_id"))
    if member is None:
        session.pop("code_phone", None)
        _prove("verified_phone", phone)
        return redirect(url_for("pages.join"), code=303)
    then = pending.get("then") if isinstance(pending, dict) else None
    sign_in(member)
    return redirect(then if isinstance(then, str) and then.startswith("/") and not then.startswith("//")
                    else url_for("pages.me"), code=303)


@blp.route("/me/logout", methods=["POST"])
def logout():
    end_session()
    return redirect(url_for("pages.home"), code=303)


# ---------------------------------------------------------------- WeChat's web sign-in


def wechat_configured() -> bool:
    return bool(current_app.config.get("WECHAT_OAUTH_APP_ID") and current_app.config.get("WECHAT_OAUTH_SECRET"))


def wechat_oauth(state: str = ""):
    """wechatpy's OAuth client on the configured endpoints (a short timeout: it runs in the request)."""
    from functools import partial

    from wechatpy.oauth import WeChatOAuth

    config = current_app.config
    client = WeChatOAuth(config["WECHAT_OAUTH_APP_ID"], config["WECHAT_OAUTH_SECRET"],
                         url_for("pages.wechat_callback", _external=True), scope="snsapi_base", state=state)
    client.API_BASE_URL = config.get("WECHAT_OAUTH_API_BASE") or WeChatOAuth.API_BASE_URL
    client.OAUTH_BASE_URL = config.get("WECHAT_OAUTH_BASE") or WeChatOAuth.OAUTH_BASE_URL
    client._http.request = partial(client._http.request, timeout=5)
    return client


@blp.route("/me/wechat")
@limit("sign_in")
def wechat_sign_in():
    """Send the browser to WeChat, which sends it back to the callback with a code."""
    if not wechat_configured():
        abort(404)
    state = secrets.token_urlsafe(16)
    session["wechat_state"] = state
    return redirect(wechat_oauth(state).authorize_url, code=302)


@blp.route("/me/wechat/callback")
@limit("sign_in")
def wechat_callback():
    """WeChat's answer: check the state, trade the code for the openid, find or link the member."""
    from wechatpy.exceptions import WeChatOAuthException

    if not wechat_configured():
        abort(404)
    expected = session.pop("wechat_state", None)
    state, code = request.args.get("state") or "", request.args.get("code") or ""
    if not (isinstance(expected, str) and secrets.compare_digest(expected.encode(), state.encode())):
        raise AppError(_("This sign-in link has expired. Please try again."), code="state_mismatch")
    if not code or len(code) > 200:
        raise AppError(_("WeChat did not let you sign in. Please try again."), code="wechat_refused")
    try:
        openid = wechat_oauth().fetch_access_token(code)["openid"]
    except (WeChatOAuthException, KeyError, ValueError, OSError):
        raise AppError(_("WeChat did not let you sign in. Please try again."), code="wechat_refused",
                       status=502) from None
    member = members.member_by_openid(openid)
    if member is None:
        member = signed_in_member()  # a signed-in member links their WeChat account
    _prove("wechat_openid", openid)
    if member is None:
        return redirect(url_for("pages.join"), code=303)
    sign_in(member)
    return redirect(url_for("pages.me"), code=303)


# ---------------------------------------------------------------- the member's own pages


def member_or_login():
    member = signed_in_member()
    if member is None:
        abort(redirect(url_for("pages.login")))
    return member


@blp.route("/me")
def me():
    """The member's page: points, coupons, inbox, and sections from enabled plugins."""
    member = member_or_login()
    sections = []
    for _plugin, result in current_host().call_each("memberday_member_page_sections", member=member):
        for section in result:
            html = section.html if isinstance(section.html, Markup) else escape(section.html)
            sections.append((section.title, html))
    coupons = db.session.scalars(select(Coupon).where(Coupon.member_id == member.id)
                                 .order_by(Coupon.id.desc()).limit(5)).all()
    entries = db.session.scalars(rewards.history(member.id).limit(5)).all()
    notes = db.session.scalars(inbox(member.id).limit(5)).all()
    return render_template("me.html", member=member, sections=sections, coupons=coupons,
                           coupon_status=rewards.coupon_status, entries=entries, notes=notes)


@blp.route("/me/coupons")
def coupons():
    """Coupons with a QR code and a barcode for the till, and a button where they work online."""
    member = member_or_login()
    rows = db.session.scalars(select(Coupon).where(Coupon.member_id == member.id)
                              .order_by(Coupon.id.desc()).limit(50)).all()
    return render_template("coupons.html", member=member, coupons=rows, coupon_status=rewards.coupon_status,
                           redeemed=request.args.get("redeemed"), error=None)


def _own_coupon(member: Member, code: str) -> Coupon:
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == code[:64], Coupon.member_id == member.id))
    if coupon is None:
        abort(404)
    return coupon


@blp.route("/me/coupons/<string(maxlength=64):code>/qr.svg")
def coupon_qr(code):
    member = member_or_login()
    coupon = _own_coupon(member, code)
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(coupon.code, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2)
    return image.to_string(), 200, {"Content-Type": "image/svg+xml", "Cache-Control": "private, max-age=3600"}


@blp.route("/me/coupons/<string(maxlength=64):code>/barcode.svg")
def coupon_barcode(code):
    member = member_or_login()
    coupon = _own_coupon(member, code)
    from barcode import Code128
    from barcode.writer import SVGWriter

    out = io.BytesIO()
    Code128(coupon.code, writer=SVGWriter()).write(out, options={"module_height": 18, "font_size": 0,
                                                                 "text_distance": 0, "quiet_zone": 4})
    return out.getvalue(), 200, {"Content-Type": "image/svg+xml", "Cache-Control": "private, max-age=3600"}


@blp.route("/me/coupons/<string(maxlength=64):code>/redeem", methods=["POST"])
def redeem_coupon(code):
    """Use a coupon online: the same service as the API's ``POST /coupons/{code}/redeem``."""
    member = member_or_login()
    coupon = _own_coupon(member, code)
    try:
        rewards.redeem_coupon(coupon.code, Principal(kind="member", id=member.id, name=member.name))
    except AppError as exc:
        rows = db.session.scalars(select(Coupon).where(Coupon.member_id == member.id)
                                  .order_by(Coupon.id.desc()).limit(50)).all()
        return render_template("coupons.html", member=member, coupons=rows, coupon_status=rewards.coupon_status,
                               redeemed=None, error=_redeem_refusal(exc)), exc.status
    return redirect(url_for("pages.coupons", redeemed=coupon.code), code=303)


def _redeem_refusal(exc: AppError) -> str:
    return {"already_redeemed": _("This coupon has already been used."),
            "expired": _("This coupon has expired."),
            "wrong_channel": _("This coupon can only be used in store.")}.get(exc.code, exc.translated())


@blp.route("/me/points")
def points():
    """The points history: what, when, and when it expires."""
    member = member_or_login()
    entries = db.session.scalars(rewards.history(member.id).limit(100)).all()
    return render_template("points.html", member=member, entries=entries)
