"""Server-rendered pages for members on their phones: home, join, and the member page."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import select

from core.auth.services import authenticate
from core.auth.sessions import current_subject, end_session, start_session
from core.errors import AppError
from core.extensions import db
from core.members import services as members
from core.members.models import Member
from core.notifications.services import inbox
from core.plugins.host import current_host
from core.ratelimit import limit
from core.rewards.models import Coupon
from core.rewards.services import coupon_status, history

blp = Blueprint("pages", __name__)


def signed_in_member() -> Member | None:
    """The member signed in in this browser (a server-side session), or None."""
    member_id = current_subject("member")
    return db.session.get(Member, member_id) if member_id else None


def sign_in(member: Member) -> None:
    start_session("member", member.id)


@blp.route("/")
def home():
    return render_template("home.html", member=signed_in_member())


@blp.route("/join", methods=["GET", "POST"])
@limit("join", methods=["POST"])
def join():
    """Plain sign-up (campaign plugins bring their own landing pages)."""
    error = None
    if request.method == "POST":
        form = request.form
        name = (form.get("name") or "").strip()[:100]
        if not name:
            error = "Please tell us your name."
        else:
            try:
                member, _ = members.create_member(
                    name, phone=(form.get("phone") or "").strip() or None,
                    email=(form.get("email") or "").strip()[:254] or None,
                    marketing_consent=bool(form.get("consent")), context={"channel": "web"})
            except AppError as exc:
                error = exc.message
            else:
                sign_in(member)
                return redirect(url_for("pages.me"), code=303)
    return render_template("join.html", error=error), 400 if error else 200


@blp.route("/me/login", methods=["GET", "POST"])
@limit("sign_in", methods=["POST"])
def login():
    error = None
    if request.method == "POST":
        principal = authenticate((request.form.get("token") or "").strip())
        if principal and principal.kind == "member":
            sign_in(db.session.get(Member, principal.id))
            return redirect(url_for("pages.me"), code=303)
        error = "That member token is not valid."
    return render_template("login.html", error=error), 401 if error else 200


@blp.route("/me")
def me():
    """The member's page: points, coupons, inbox, and sections from enabled plugins."""
    member = signed_in_member()
    if member is None:
        return redirect(url_for("pages.login"))
    sections = []
    for _, result in current_host().call_each("memberday_member_page_sections", member=member):
        for section in result:
            html = section.html if isinstance(section.html, Markup) else escape(section.html)
            sections.append((section.title, html))
    coupons = db.session.scalars(select(Coupon).where(Coupon.member_id == member.id)
                                 .order_by(Coupon.id.desc()).limit(20)).all()
    entries = db.session.scalars(history(member.id).limit(10)).all()
    notes = db.session.scalars(inbox(member.id).limit(10)).all()
    return render_template("me.html", member=member, sections=sections, coupons=coupons,
                           coupon_status=coupon_status, entries=entries, notes=notes)


@blp.route("/me/logout", methods=["POST"])
def logout():
    end_session()
    return redirect(url_for("pages.home"), code=303)
