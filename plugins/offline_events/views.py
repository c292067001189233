"""Offline events pages: the ticket a member shows at the door, the event page and its sign-up, and the
member page section."""
from __future__ import annotations

import base64

from flask import current_app, redirect, render_template, request, url_for
from markupsafe import Markup
from sqlalchemy import select

from core.errors import AppError
from core.extensions import db
from core.i18n import _
from core.members import services as members
from core.members.models import Member
from core.pages.views import begin_join, sign_in, signed_in_member
from plugins.offline_events import PLUGIN, services
from plugins.offline_events.models import Registration

pages = PLUGIN.page_blueprint(__name__, url_prefix=None)  # its pages are /t/<ticket> and /e/<id>

PRIVATE = {"Cache-Control": "private, no-cache", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}


def _ticket_or_404(code: str) -> Registration | None:
    found = services.ticket_code_of(code)
    if found is None or found != code:
        return None
    return services.registration_by_ticket(code)


def _not_found():
    return render_template(PLUGIN.template("not_found.html")), 404, PRIVATE


@pages.route("/t/<string(maxlength=60):code>")
def ticket(code):
    """The ticket page: the QR is inline, so the page saved or screenshotted still scans at the door."""
    registration = _ticket_or_404(code)
    if registration is None:
        return _not_found()
    qr = base64.b64encode(services.qr_png(registration.ticket_code)).decode("ascii")
    return render_template(PLUGIN.template("ticket.html"), registration=registration, event=registration.event,
                           qr_data_uri=f"data:image/png;base64,{qr}", when=services.local_time,
                           position=services.waitlist_position(registration),
                           ends=services.end_time(registration.event)), 200, PRIVATE


@pages.route("/t/<string(maxlength=60):code>/qr.png")
def ticket_qr(code):
    """The ticket's QR image; it encodes only the ticket code."""
    registration = _ticket_or_404(code)
    if registration is None:
        return _not_found()
    headers = dict(PRIVATE, **{"Content-Type": "image/png", "Cache-Control": "private, max-age=86400",
                               "Content-Disposition": f'inline; filename="ticket-{registration.id}.png"'})
    return services.qr_png(registration.ticket_code), 200, headers


def _event_page(event, member, message=None, status=200):
    registration = None
    if member is not None:
        registration = db.session.scalar(select(Registration).where(Registration.event_id == event.id,
                                                                    Registration.member_id == member.id))
    return render_template(PLUGIN.template("event.html"), event=event, member=member, registration=registration,
                           message=message, when=services.local_time, signup_open=services.signup_open(event),
                           join_token=request.args.get("t", "")), status


@pages.route("/e/<int:event_id>")
def event_page(event_id):
    event = db.session.get(services.OfflineEvent, event_id)
    if event is None or event.status == "cancelled":
        return _not_found()
    return _event_page(event, signed_in_member())


@pages.route("/e/<int:event_id>/register", methods=["POST"])
def register(event_id):
    """The sign-up button of the member page and the event page (a signed-in member)."""
    event = db.session.get(services.OfflineEvent, event_id)
    if event is None or event.status == "cancelled":
        return _not_found()
    member = signed_in_member()
    if member is None:
        return redirect(url_for("offline_events_pages.join", event_id=event_id), code=303)
    try:
        registration, _created = services.register(event_id, member.id, channel="page")
    except AppError as error:
        return _event_page(event, member, _refusal_text(error, event), error.status)
    return redirect(url_for("offline_events_pages.ticket", code=registration.ticket_code), code=303)


def _refusal_text(error: AppError, event) -> str:
    if error.code == "signup_closed":
        return _("Sign-up for %(title)s is closed.", title=event.title)
    if error.code == "not_eligible":
        return _("Sorry, %(title)s is not open to your membership.", title=event.title)
    return error.translated()


def _join_page(event, **context) -> str:
    return render_template(PLUGIN.template("join.html"), event=event, when=services.local_time, **context)


@pages.route("/e/<int:event_id>/join", methods=["GET", "POST"])
def join(event_id):
    """Join and sign up in one go; from a keyword reply's link, the account is tied to the sender's chat."""
    event = db.session.get(services.OfflineEvent, event_id)
    if event is None or event.status == "cancelled":
        return _not_found()
    token = request.args.get("t")
    identity = services.read_join_token(token, event_id)
    if token and identity is None:
        return _join_page(event, error=_(
            "This link has expired. Send the keyword again for a new one."), expired=True), 400
    openid = identity["s"] if identity else None
    if openid and members.member_by_openid(openid) is not None:
        return _join_page(event, already=True, error=None), 200
    error, status = None, 200
    if request.method == "POST" and openid is None:
        # From the web, the phone is verified by a code first; then the event's page, to sign up.
        try:
            return begin_join(request.form, context={"event_id": event_id},
                              then=url_for("offline_events_pages.event_page", event_id=event_id))
        except AppError as exc:
            error, status = exc.translated(), exc.status
    elif request.method == "POST":
        form = request.form
        name = (form.get("name") or "").strip()[:100]
        if not name:
            error, status = _("Please tell us your name."), 400
        else:
            try:
                member, _token = members.create_member(
                    name, phone=(form.get("phone") or "").strip() or None,
                    email=(form.get("email") or "").strip().lower()[:254] or None, openid=openid,
                    marketing_consent=bool(form.get("consent")),
                    context={"channel": identity["c"] if identity else "web", "event_id": event_id})
            except AppError as exc:
                error, status = exc.translated(), exc.status
            else:
                sign_in(member)
                try:
                    registration, _created = services.register(event_id, member.id, channel="join")
                except AppError as exc:
                    return _event_page(event, member, _refusal_text(exc, event), exc.status)
                return redirect(url_for("offline_events_pages.ticket", code=registration.ticket_code), code=303)
    return _join_page(event, error=error, wechat=openid is not None), status


def member_section(member: Member) -> Markup | None:
    """The member page: their tickets for events to come, and events they can still sign up for."""
    now = services.utcnow()
    mine = [registration for registration in db.session.scalars(services.member_registrations(member.id)).all()
            if registration.event.ends_at > now and registration.event.status == "open"
            and registration.status != "cancelled"]
    taken = {registration.event_id for registration in mine}
    open_events = [event for event in services.event_list(member=member) if event.id not in taken]
    if not mine and not open_events:
        return None
    return Markup(render_template(PLUGIN.template("section.html"), mine=mine, open_events=open_events,
                                  when=services.local_time, position=services.waitlist_position,
                                  public_url=current_app.config["PUBLIC_URL"]))
