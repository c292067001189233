"""The console's own pages: sign-in, dashboard, plugins, orders, coupons and the staff scanner.

Every page goes through ``gate``: signed-in operators only, staff only to the
scanner, and every POST with its CSRF token. Views call the domain services the
API calls; they hold no business rule of their own.
"""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (Blueprint, current_app, flash, g, has_request_context, jsonify, redirect, render_template,
                   request, session, url_for)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError
from sqlalchemy import or_, select

from core.auth.models import ROLES, Operator
from core.auth.services import (ADMIN, MANAGERS, PASSWORD_MIN_LENGTH, create_operator, revoke_operator,
                                revoke_operator_token, rotate_operator_token, set_operator_password,
                                verify_operator_password)
from core.console import auth, services
from core.console.forms import local_datetime, form_fields, problems, read_form
from core.database import utcnow
from core.errors import AppError, Forbidden, NotFound, Unauthorized, ValidationFailed
from core.extensions import db
from core.i18n import LOCALES, browser_locale, normalise
from core.idempotency import idempotent
from core.members import audience
from core.members import services as members
from core.members.models import STAGES, Member
from core.members.schemas import MemberUpdateSchema
from core.orders import services as orders
from core.orders.models import Order
from core.plugins import services as plugin_services
from core.plugins.host import current_host
from core.ratelimit import limit
from core.rewards import services as rewards
from core.rewards.models import Coupon, CouponTemplate
from core.rewards.schemas import CouponTemplateCreateSchema, PointsAdjustSchema

blp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                static_folder="static", static_url_path="/static")

# Pages anyone may open, and the only ones staff may.
PUBLIC = {"console.sign_in", "console.static", "console.language"}
STAFF_PAGES = {"console.scan", "console.scan_redeem", "console.scan_lookup", "console.sign_out", "console.account",
               "console.account_password", "console.account_token"}
PER_PAGE = 50


# ------------------------------------------------------------------ the gate


def gate():
    """Signed in and allowed by role (every POST's CSRF token is checked app-wide, in core.auth.web)."""
    if request.endpoint in PUBLIC:
        return None
    operator = auth.current_operator()
    if operator is None:
        if request.method == "GET" and request.accept_mimetypes.best != "application/json":
            return redirect(url_for("console.sign_in", next=request.full_path))
        raise Unauthorized(_("Sign in to the console first."))
    if operator.role not in MANAGERS and not staff_may_open(request.endpoint):
        raise Forbidden(_("Staff accounts reach only the scanner."))
    return None


blp.before_request(gate)


def staff_may_open(endpoint: str | None) -> bool:
    """The scanner, and the pages plugins open to staff (while the plugin is on)."""
    if endpoint in STAFF_PAGES:
        return True
    return any(endpoint in pages.staff_endpoints
               for _, pages in current_app.extensions.get("memberday_console_pages", []))


def require_admin():
    if g.console_operator.role not in ADMIN:
        raise Forbidden(_("Only admins may change this."))


def actor() -> str:
    operator = g.console_operator
    return f"operator:{operator.id}:{operator.name}"


CORE_MENU = (
    (_l("Dashboard"), "console.dashboard"),
    (_l("Members"), "console.member_list"),
    (_l("Orders"), "console.orders"),
    (_l("Coupons"), "console.coupons"),
    (_l("Plugins"), "console.plugins"),
    (_l("Operators"), "console.operators"),
    (_l("Scanner"), "console.scan"),
)


def console_menu() -> list[tuple[str, str, bool]]:
    """The navigation for the signed-in operator: (title, url, current) for each page they reach."""
    operator = auth.current_operator()
    if operator is None:
        return []
    manager = operator.role in MANAGERS
    entries = list(CORE_MENU[:-1]) if manager else []
    host = current_host()
    for plugin_id, pages in current_app.extensions.get("memberday_console_pages", []):
        if host.is_enabled(plugin_id):
            entries.extend((entry.title, entry.endpoint) for entry in pages.menu
                           if manager or entry.endpoint in pages.staff_endpoints)
    entries.append(CORE_MENU[-1])
    return [(str(title), url_for(endpoint), request.endpoint == endpoint) for title, endpoint in entries]


STATUS_NAMES = {"issued": _l("issued"), "redeemed": _l("redeemed"), "expired": _l("expired"), "void": _l("void")}
CHANNEL_NAMES = {"online": _l("online"), "offline": _l("in store"), "any": _l("online and in store")}
ROLE_NAMES = {"admin": _l("admin"), "operator": _l("operator"), "staff": _l("staff")}
# The default tiers (settings: TIERS); a brand's own tier names are shown as they are written.
TIER_NAMES = {"member": _l("member"), "silver": _l("silver"), "gold": _l("gold"), "platinum": _l("platinum")}
STAGE_NAMES = {"prospect": _l("prospect"), "new": _l("new"), "active": _l("active"), "at_risk": _l("at risk"),
               "lapsed": _l("lapsed")}


def console_labels() -> dict:
    """Names of statuses, channels and roles in the page's language (console pages only)."""
    if not has_request_context() or not request.path.startswith("/console"):
        return {}
    return {name: {key: str(text) for key, text in table.items()}
            for name, table in (("status_names", STATUS_NAMES), ("channel_names", CHANNEL_NAMES),
                                ("role_names", ROLE_NAMES), ("stage_names", STAGE_NAMES),
                                ("tier_names", TIER_NAMES))}


def console_time(value) -> str:
    """A stored UTC time as the brand's local date and minute."""
    if not value:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["BRAND_TIMEZONE"])).strftime("%Y-%m-%d %H:%M")


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    if target and not parts.scheme and not parts.netloc and parts.path.startswith("/console"):
        return target
    return url_for("console.dashboard")


# ------------------------------------------------------------------ signing in


@blp.route("/sign-in", methods=["GET", "POST"])
@limit("sign_in", methods=["POST"])
def sign_in():
    error = None
    if request.method == "POST":
        operator = auth.sign_in_with_password((request.form.get("name") or "").strip(),
                                              request.form.get("password") or "")
        if operator is not None:
            home = url_for("console.scan") if operator.role not in MANAGERS else None
            return redirect(home or _safe_next(request.args.get("next")), code=303)
        # The same words whether the name is unknown, the password wrong or the account revoked.
        error = _("That name and password do not match.")
    return render_template("console/sign_in.html", error=error), 401 if error else 200


@blp.route("/sign-out", methods=["POST"])
def sign_out():
    auth.sign_out()
    return redirect(url_for("console.sign_in"), code=303)


LANGUAGE_NAMES = {"zh_Hant": "繁體中文", "zh_Hans": "简体中文", "en": "English"}


@blp.route("/language", methods=["POST"])
def language():
    """Keep the console's language for this browser (each language named in itself)."""
    chosen = normalise(request.form.get("locale"))
    if chosen in LOCALES:
        session[auth.LOCALE_KEY] = chosen
    return redirect(_safe_next(request.form.get("next")), code=303)


def console_locale() -> str | None:
    """The console's language: the browser's choice, else its Accept-Language; None outside the console."""
    if not has_request_context() or not request.path.startswith("/console"):
        return None
    return normalise(session.get(auth.LOCALE_KEY)) or browser_locale()


# ------------------------------------------------------------------ dashboard


@blp.route("/")
def dashboard():
    host = current_host()
    headlines = []
    for plugin_id, pages in current_app.extensions.get("memberday_console_pages", []):
        if pages.headline is not None and host.is_enabled(plugin_id):
            try:
                headlines.append(pages.headline())
            except Exception as exc:  # one campaign's figure must not take the dashboard down
                host.record_failure(plugin_id, "console headline", exc)
    by_stage = audience.count_by_stage(audience.Audience())
    stages = [{"name": str(STAGE_NAMES[stage]), "value": by_stage.get(stage, 0)} for stage in STAGES]
    return render_template("console/dashboard.html", points=services.points_liability(),
                           orders=services.orders_by_day(), headlines=headlines, stages=stages)


# ------------------------------------------------------------------ plugins


@blp.route("/plugins")
def plugins():
    records = current_host().records.values()
    return render_template("console/plugins.html", plugins=[plugin_services.describe(r) for r in records],
                           audit=db.session.scalars(plugin_services.audit_log().limit(30)).all())


@blp.route("/plugins/<string:plugin_id>/switch", methods=["POST"])
def plugin_switch(plugin_id):
    require_admin()
    enabled = request.form.get("enabled") == "1"
    try:
        plugin_services.set_enabled(plugin_id, enabled, actor())
    except AppError as error:
        if error.status == 404:
            raise
        flash(error.translated(), "error")
    else:
        flash(_("%(plugin)s is on.", plugin=plugin_id) if enabled else _("%(plugin)s is off.", plugin=plugin_id),
              "ok")
    return redirect(url_for("console.plugins"), code=303)


@blp.route("/plugins/<string:plugin_id>", methods=["GET", "POST"])
def plugin_settings(plugin_id):
    record = plugin_services.get_record(plugin_id)
    schema_class = record.info.settings_schema if record.info else None
    errors, values, status = {}, None, 200
    if request.method == "POST":
        require_admin()
        if schema_class is None or not record.usable:
            raise NotFound(_("This plugin has no settings."))
        changes = read_form(schema_class(), request.form)
        try:
            plugin_services.update_settings(plugin_id, changes, actor())
        except ValidationFailed as error:
            errors, values, status = error.fields or {}, changes, 400
            flash(_("The settings were not saved: see the marked fields."), "error")
        else:
            flash(_("Settings saved."), "ok")
            return redirect(url_for("console.plugin_settings", plugin_id=plugin_id), code=303)
    form = None
    if schema_class is not None and record.usable:
        saved = current_host().settings(plugin_id)
        form = form_fields(schema_class(), values if values is not None else saved, errors)
        if values is not None:  # keep showing which secrets are set after a refused save
            for item in form:
                item.secret_set = item.kind == "password" and bool(saved.get(item.name))
    audit = db.session.scalars(plugin_services.audit_log(plugin_id).limit(50)).all()
    return render_template("console/plugin.html", plugin=plugin_services.describe(record), form=form,
                           audit=audit), status


# ------------------------------------------------------------------ members


@blp.route("/members")
def member_list():
    """Members, newest first: a name, phone or e-mail search, and tier, stage and tag filters."""
    args = request.args
    wanted = {"tiers": [value for value in args.getlist("tier") if value][:20],
              "stages": [value for value in args.getlist("stage") if value][:5],
              "tags_all": [tag.strip() for tag in args.get("tag", "").split(",") if tag.strip()][:20]}
    text = (args.get("q") or "").strip()[:100]
    try:
        chosen = audience.Audience.from_dict(audience.AudienceSchema().load(wanted))
    except ValidationError as error:
        raise ValidationFailed(problems(error.messages, audience.AudienceSchema()), fields=error.messages) from None
    query = select(Member).where(audience.member_filter(chosen)).order_by(Member.id.desc()).limit(PER_PAGE + 1)
    if text:
        query = query.where(members.search_condition(text))
    before = args.get("before", type=int)
    if before:
        query = query.where(Member.id < before)
    rows = db.session.scalars(query).all()
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    return render_template("console/members.html", members=rows, q=text, wanted=wanted,
                           tiers=current_app.config["TIERS"], stages=STAGES, tag=args.get("tag", ""),
                           next_before=rows[-1].id if more else None)


def _audience_from_form(prefix: str) -> dict:
    """One audience of the preview form, as AudienceSchema loads it."""
    form = request.args
    def listed(name):
        return [part.strip() for part in form.get(f"{prefix}{name}", "").split(",") if part.strip()]
    data = {"tiers": form.getlist(f"{prefix}tiers"), "stages": form.getlist(f"{prefix}stages"),
            "tags_all": listed("tags_all"), "tags_any": listed("tags_any"), "tags_none": listed("tags_none")}
    for name in ("last_order_before", "last_order_after"):
        value = form.get(f"{prefix}{name}", "").strip()
        if value:
            data[name] = local_datetime(value)
    return data


@blp.route("/members/audiences")
def audience_preview():
    results, errors = {}, {}
    shown = {"a": _audience_from_form("a_"), "b": _audience_from_form("b_")}
    compare = request.args.get("compare") == "1"
    if request.args:
        loaded = {}
        for key in ("a", "b") if compare else ("a",):
            try:
                loaded[key] = audience.Audience.from_dict(audience.AudienceSchema().load(shown[key]))
            except ValidationError as error:
                errors[key] = problems(error.messages, audience.AudienceSchema())
        if not errors:
            now = utcnow()
            for key, target in loaded.items():
                by_stage = audience.count_by_stage(target, now)
                results[key] = {"count": sum(by_stage.values()), "by_stage": by_stage}
            if compare:
                results["overlap"] = audience.overlap(loaded["a"], loaded["b"], now)
    return render_template("console/audiences.html", shown=shown, results=results, errors=errors,
                           compare=compare, tiers=current_app.config["TIERS"], stages=STAGES), 400 if errors else 200


@blp.route("/members/<int:member_id>")
def member(member_id):
    found = members.get_member(member_id)
    return render_template(
        "console/member.html", member=found, stage=found.stage(),
        entries=db.session.scalars(rewards.history(member_id).limit(50)).all(),
        coupons=db.session.scalars(select(Coupon).where(Coupon.member_id == member_id)
                                   .order_by(Coupon.id.desc()).limit(50)).all(),
        orders=db.session.scalars(select(Order).where(Order.member_id == member_id)
                                  .order_by(Order.id.desc()).limit(50)).all(),
        coupon_status=rewards.coupon_status, tiers=current_app.config["TIERS"],
        nonce=secrets.token_urlsafe(16))


@blp.route("/members/<int:member_id>/points", methods=["POST"])
def member_points(member_id):
    members.get_member(member_id)
    nonce = (request.form.get("nonce") or "")[:64]
    try:
        data = PointsAdjustSchema().load({"points": request.form.get("points", type=int),
                                          "reason": request.form.get("reason", "")})
        if not nonce:
            raise ValidationFailed(fields={"nonce": ["required"]})
        # The form's nonce names the effect: a form sent twice books once.
        entry = rewards.adjust(member_id, data["points"], data["reason"],
                               f"adjustment:console:{g.console_operator.id}:{nonce}")
    except ValidationError as error:
        flash(_("Not booked: %(problem)s", problem=problems(error.messages, PointsAdjustSchema())), "error")
    except AppError as error:
        if error.status == 404:
            raise
        flash(_("Not booked: %(problem)s", problem=error.translated()), "error")
    else:
        flash(_("Booked %(points)+d points.", points=entry.points), "ok")
    return redirect(url_for("console.member", member_id=member_id), code=303)


@blp.route("/members/<int:member_id>/profile", methods=["POST"])
def member_profile(member_id):
    members.get_member(member_id)
    tags = [tag.strip() for tag in (request.form.get("tags") or "").split(",") if tag.strip()]
    try:
        data = MemberUpdateSchema().load({"tier": request.form.get("tier", ""), "tags": tags})
    except ValidationError as error:
        flash(_("Not saved: %(problem)s", problem=problems(error.messages, MemberUpdateSchema())), "error")
    else:
        members.update_member(member_id, **data)
        flash(_("Saved."), "ok")
    return redirect(url_for("console.member", member_id=member_id), code=303)


# ------------------------------------------------------------------ orders


def _member_filter(text: str):
    """Orders matching a search: the shop's order id, a member id (#12), or a member's phone or e-mail."""
    if text.startswith("#") and text[1:].isdigit() and len(text) < 11:
        return Order.member_id == int(text[1:])
    members = select(Member.id).where(or_(Member.phone == text, Member.email == text.lower()))
    return or_(Order.external_id == text, Order.member_id.in_(members))


@blp.route("/orders", endpoint="orders")
def order_list():
    query_text = (request.args.get("q") or "").strip()[:200]
    before = request.args.get("before", type=int)
    query = select(Order).order_by(Order.id.desc()).limit(PER_PAGE + 1)
    if query_text:
        query = query.where(_member_filter(query_text))
    if before:
        query = query.where(Order.id < before)
    rows = db.session.scalars(query).all()
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    names = dict(db.session.execute(select(Member.id, Member.name)
                                    .where(Member.id.in_({row.member_id for row in rows}))).all())
    return render_template("console/orders.html", orders=rows, names=names, q=query_text,
                           next_before=rows[-1].id if more else None)


@blp.route("/orders/<int:order_id>/refund", methods=["GET", "POST"])
def refund(order_id):
    order = db.session.get(Order, order_id)
    if order is None:
        raise NotFound(_("No such order."))
    if request.method == "POST":
        try:
            refunded = orders.refund_order(order.external_id)
        except AppError as error:
            if error.status == 404:
                raise
            flash(error.translated(), "error")
        else:
            flash(_("Order %(order)s is refunded; the points it earned were taken back.",
                    order=refunded.external_id), "ok")
        return redirect(url_for("console.orders", q=order.external_id), code=303)
    member = db.session.get(Member, order.member_id)
    return render_template("console/refund.html", order=order, member=member)


# ------------------------------------------------------------------ coupons


def _template_choices():
    return db.session.scalars(select(CouponTemplate).order_by(CouponTemplate.id.desc())).all()


@blp.route("/coupons", methods=["GET"])
def coupons():
    return _coupons_page()


def _coupons_page(template_form=None, status=200):
    code = (request.args.get("code") or "").strip().upper()[:32]
    found = db.session.scalar(select(Coupon).where(Coupon.code == code)) if code else None
    owner = db.session.get(Member, found.member_id) if found else None
    return render_template(
        "console/coupons.html", templates=_template_choices(), code=code, coupon=found, owner=owner,
        coupon_status=rewards.coupon_status,
        template_form=template_form or form_fields(CouponTemplateCreateSchema()),
        nonce=secrets.token_urlsafe(16)), status


@blp.route("/coupons/templates", methods=["POST"])
def coupon_template_create():
    schema = CouponTemplateCreateSchema()
    data = read_form(schema, request.form)
    try:
        loaded = schema.load(data)
    except ValidationError as error:
        flash(_("The template was not created: see the marked fields."), "error")
        return _coupons_page(template_form=form_fields(schema, data, error.messages), status=400)
    template = rewards.create_template(**loaded)
    flash(_("Template “%(title)s” created.", title=template.title), "ok")
    return redirect(url_for("console.coupons"), code=303)


@blp.route("/coupons/issue", methods=["POST"])
def coupon_issue():
    member_id = request.form.get("member_id", type=int)
    template_id = request.form.get("template_id", type=int)
    nonce = (request.form.get("nonce") or "")[:64]
    if not member_id or not template_id or not nonce or db.session.get(Member, member_id) is None:
        flash(_("Choose a template and give the id of an existing member."), "error")
        return redirect(url_for("console.coupons"), code=303)
    # The form's nonce makes a double-submitted form issue one coupon.
    coupon = rewards.issue_coupon(member_id, template_id, source=f"console:{g.console_operator.id}:{nonce}")
    flash(_("Coupon %(code)s issued to member %(member)s.", code=coupon.code, member=member_id), "ok")
    return redirect(url_for("console.coupons", code=coupon.code), code=303)


# ------------------------------------------------------------------ operators


def _operators_page(new_token=None, token_for=None, error=None, status=200):
    rows = db.session.scalars(select(Operator).order_by(Operator.name)).all()
    return render_template("console/operators.html", operators=rows, new_token=new_token, token_for=token_for,
                           error=error, roles=ROLES, min_length=PASSWORD_MIN_LENGTH), status


def _operator(operator_id: int) -> Operator:
    operator = db.session.get(Operator, operator_id)
    if operator is None:
        raise NotFound(_("No such operator."))
    return operator


def _password_problem(error: AppError) -> str:
    if "password" in (error.fields or {}):
        return _("A password has at least %(count)s characters.", count=PASSWORD_MIN_LENGTH)
    return error.translated()


@blp.route("/operators", methods=["GET", "POST"])
def operators():
    if request.method == "GET":
        return _operators_page()
    require_admin()
    password = request.form.get("password") or None
    try:
        created, new_token = create_operator((request.form.get("name") or "").strip(), request.form.get("role", ""),
                                             password=password)
    except AppError as failure:
        if "password" in (failure.fields or {}):
            return _operators_page(error=_password_problem(failure), status=400)
        if failure.code == "operator_exists":
            return _operators_page(error=_("An operator with this name exists."), status=409)
        return _operators_page(error=_("Give a name (up to 100 characters) and a role."), status=400)
    flash(_("Operator %(name)s created. Their API token is shown below, this once.", name=created.name), "ok")
    return _operators_page(new_token=new_token, token_for=created.name)


@blp.route("/operators/<int:operator_id>/password", methods=["POST"])
def operator_password(operator_id):
    """An admin sets another operator's password; every session they hold ends."""
    require_admin()
    operator = _operator(operator_id)
    try:
        set_operator_password(operator.name, request.form.get("password") or "")
    except ValidationFailed as failure:
        flash(_password_problem(failure), "error")
        return redirect(url_for("console.operators"), code=303)
    if operator.id == g.console_operator.id:
        auth.start_for(operator.id)
    flash(_("New password set for %(name)s; they were signed out everywhere.", name=operator.name), "ok")
    return redirect(url_for("console.operators"), code=303)


@blp.route("/operators/<int:operator_id>/token", methods=["POST"])
def operator_token(operator_id):
    """An admin gives an operator a new API token (shown once) or withdraws it."""
    require_admin()
    operator = _operator(operator_id)
    if operator.revoked_at is not None:
        raise ValidationFailed(_("This operator is revoked."))
    if request.form.get("action") == "revoke":
        revoke_operator_token(operator.name)
        flash(_("The API token of %(name)s no longer works.", name=operator.name), "ok")
        return redirect(url_for("console.operators"), code=303)
    token = rotate_operator_token(operator.name)[1]
    flash(_("New API token for %(name)s; the previous one no longer works.", name=operator.name), "ok")
    return _operators_page(new_token=token, token_for=operator.name)


@blp.route("/operators/<int:operator_id>/revoke", methods=["POST"])
def operator_revoke(operator_id):
    """An admin takes an operator's access away: token, password sign-in and sessions end at once."""
    require_admin()
    operator = _operator(operator_id)
    if operator.id == g.console_operator.id:
        flash(_("You cannot revoke yourself; ask another admin."), "error")
        return redirect(url_for("console.operators"), code=303)
    revoke_operator(operator.name)
    flash(_("%(name)s is revoked: their token, password and sessions no longer work.", name=operator.name), "ok")
    return redirect(url_for("console.operators"), code=303)


# ------------------------------------------------------------------ one's own account


def _account_page(new_token=None, error=None, status=200):
    return render_template("console/account.html", new_token=new_token, error=error,
                           min_length=PASSWORD_MIN_LENGTH), status


@blp.route("/account")
def account():
    return _account_page()


@blp.route("/account/password", methods=["POST"])
@limit("sign_in", methods=["POST"])
def account_password():
    """Change one's own password: the current one first. Every other session of the account ends."""
    operator = g.console_operator
    new = request.form.get("new_password") or ""
    if verify_operator_password(operator.name, request.form.get("current_password") or "") is None:
        return _account_page(error=_("The current password is not right."), status=400)
    if new != (request.form.get("repeat_password") or ""):
        return _account_page(error=_("The two new passwords differ."), status=400)
    try:
        set_operator_password(operator.name, new)
    except ValidationFailed as failure:
        return _account_page(error=_password_problem(failure), status=400)
    auth.start_for(operator.id)  # this browser stays signed in, under a new session id
    flash(_("Password changed. Every other browser signed in as you was signed out."), "ok")
    return redirect(url_for("console.account"), code=303)


@blp.route("/account/token", methods=["POST"])
def account_token():
    """A new API token for oneself (shown once), or withdraw it."""
    operator = g.console_operator
    if request.form.get("action") == "revoke":
        revoke_operator_token(operator.name)
        flash(_("Your API token no longer works."), "ok")
        return redirect(url_for("console.account"), code=303)
    token = rotate_operator_token(operator.name)[1]
    return _account_page(new_token=token)


# ------------------------------------------------------------------ staff scanner


REASONS = {
    "already_redeemed": _l("Already redeemed"),
    "expired": _l("Expired"),
    "void": _l("Void"),
    "wrong_channel": _l("Not valid in store"),
    "not_found": _l("Unknown code"),
}


def scanned_code(text: str) -> str:
    """The coupon code in what the camera read: the code itself, or a link ending in it."""
    text = (text or "").strip()
    if "/" in text:
        text = urlsplit(text).path.rstrip("/").rsplit("/", 1)[-1]
    return text.upper()[:32]


def _till_view(coupon: Coupon) -> dict:
    """What the till needs of a coupon, and nothing of its member."""
    return {"title": coupon.template.title, "channel": coupon.template.channel,
            "status": rewards.coupon_status(coupon),
            "expires_at": coupon.expires_at.isoformat() if coupon.expires_at else None}


@blp.route("/scan")
def scan():
    return render_template("console/scan.html", reasons={key: str(text) for key, text in REASONS.items()})


@blp.route("/scan/lookup")
def scan_lookup():
    code = scanned_code(request.args.get("code", ""))
    coupon = db.session.scalar(select(Coupon).where(Coupon.code == code)) if code else None
    if coupon is None:
        raise NotFound(str(REASONS["not_found"]))
    return jsonify(_till_view(coupon))


@blp.route("/scan/redeem", methods=["POST"])
@idempotent
def scan_redeem():
    """Redeem a scanned coupon (staff, in store) through the coupon service; the page's nonce is the
    Idempotency-Key, so a scan sent twice redeems once and answers the same."""
    body = request.get_json(silent=True) or {}
    code = scanned_code(body.get("code") if isinstance(body.get("code"), str) else "")
    try:
        coupon = rewards.redeem_coupon(code, g.principal)
    except AppError as error:
        reason = error.code if error.code in REASONS else "not_found" if error.status == 404 else error.code
        answer = {"status": "error", "reason": reason, "message": str(REASONS.get(reason, error.translated()))}
        known = db.session.scalar(select(Coupon).where(Coupon.code == code)) if error.status == 409 else None
        if known is not None:  # what the till needs to explain the refusal
            answer.update(_till_view(known))
        return jsonify(answer), error.status
    return jsonify({"status": "redeemed", "message": _("Redeemed"), **_till_view(coupon)})
