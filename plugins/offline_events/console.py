"""Offline events in the console: the events with their live check-in count and report, and the door scanner.

The door scanner is open to store and event staff. It checks tickets in through
``services.check_in`` with a nonce per scan; with no connection it keeps scans in
the phone (IndexedDB), tells the door what it can from the event's check-in list
(ticket hashes, never phones or e-mails), and uploads them in one batch later.
"""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, g, jsonify, render_template, request
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from core.database import utcnow
from core.errors import ValidationFailed
from core.extensions import db
from core.plugins import ConsolePages, Headline, MenuEntry
from plugins.offline_events import PLUGIN, services
from plugins.offline_events.models import OfflineEvent, Registration

# The plugin's name and description as the console's list of plugins shows them (found there by msgid).
LISTED_AS = (_l("Offline events"),
             _l("Fan parties with keyword sign-up, a waitlist, QR tickets and check-in that grants online rights."))

console = Blueprint("offline_events_console", __name__, static_folder="static", static_url_path="/static")

MAX_BATCH = 500
REGISTRATION_NAMES = {"confirmed": _l("confirmed"), "waitlisted": _l("waitlisted"), "cancelled": _l("cancelled"),
                      "checked_in": _l("checked in")}
# What the door is told, for each result of services.check_in (and a guest-list status offline).
DOOR_REASONS = {"already_redeemed": _l("Already checked in"), "canceled": _l("Cancelled registration"),
                "cancelled": _l("Cancelled registration"), "waitlisted": _l("On the waitlist"),
                "wrong_event": _l("Ticket for another event"), "not_open": _l("Check-in is not open"),
                "invalid": _l("Not a ticket")}


def _names(table: dict) -> dict:
    return {key: str(value) for key, value in table.items()}


def _actor() -> str:
    return f"operator:{g.console_operator.id}"


@console.route("/")
def events():
    rows = db.session.scalars(select(OfflineEvent).order_by(OfflineEvent.starts_at.desc()).limit(100)).all()
    return render_template(PLUGIN.template("console_events.html"), events=rows,
                           counts={event.id: services.counts(event.id) for event in rows})


@console.route("/<int:event_id>")
def event(event_id):
    found = services.get_event(event_id)
    status = request.args.get("status") or None
    registrations = db.session.scalars(services.registration_list(event_id, status=status).limit(200)).all()
    return render_template(PLUGIN.template("console_event.html"), event=found, report=services.report(event_id),
                           registrations=registrations, status=status, registration_names=_names(REGISTRATION_NAMES))


@console.route("/<int:event_id>/live")
def live(event_id):
    """The door's figures, polled by the event page."""
    by_status = services.counts(services.get_event(event_id).id)
    return jsonify({"checked_in": by_status.get("checked_in", 0),
                    "expected": by_status.get("confirmed", 0) + by_status.get("checked_in", 0)})


@console.route("/scan")
def scan():
    now = utcnow()
    open_events = [event for event in db.session.scalars(
        select(OfflineEvent).where(OfflineEvent.status != "cancelled").order_by(OfflineEvent.starts_at))
        if services.checkin_window(event)[1] >= now]
    return render_template(PLUGIN.template("console_scan.html"), events=open_events, reasons=_names(DOOR_REASONS))


@console.route("/scan/<int:event_id>/list")
def checkin_list(event_id):
    return jsonify(services.checkin_list(event_id))


def _nonce(value) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 100 or not value.isprintable():
        raise ValidationFailed(fields={"nonce": ["1-100 printable characters"]})
    return value


@console.route("/scan/<int:event_id>/checkin", methods=["POST"])
def checkin(event_id):
    body = request.get_json(silent=True) or {}
    ticket = body.get("ticket") if isinstance(body.get("ticket"), str) else ""
    answer = services.check_in(event_id, _nonce(body.get("nonce")), ticket=ticket, actor=_actor())
    return jsonify(answer.body), answer.status_code


@console.route("/scan/<int:event_id>/batch", methods=["POST"])
def checkin_batch(event_id):
    body = request.get_json(silent=True) or {}
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise ValidationFailed(fields={"items": [f"a list of 1 to {MAX_BATCH} scans"]})
    clean = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("ticket"), str):
            raise ValidationFailed(fields={"items": ["each scan has a ticket, a nonce and scanned_at"]})
        try:
            scanned_at = datetime.fromisoformat(item["scanned_at"]) if item.get("scanned_at") else None
        except (TypeError, ValueError):
            scanned_at = None
        if scanned_at is not None and scanned_at.tzinfo is None:
            scanned_at = None
        clean.append({"ticket": item["ticket"][:200], "nonce": _nonce(item.get("nonce")), "scanned_at": scanned_at})
    return jsonify({"items": services.check_in_batch(services.get_event(event_id).id, clean, actor=_actor())})


def headline() -> Headline:
    checked_in = db.session.scalar(select(func.count(Registration.id)).where(Registration.status == "checked_in"))
    return Headline(_l("Event check-ins"), checked_in or 0, "offline_events_console.events")


PAGES = ConsolePages(console, menu=(MenuEntry(_l("Offline events"), "offline_events_console.events"),
                                    MenuEntry(_l("Door scanner"), "offline_events_console.scan")),
                     headline=headline,
                     staff_endpoints=("offline_events_console.scan", "offline_events_console.checkin_list",
                                      "offline_events_console.checkin", "offline_events_console.checkin_batch",
                                      "offline_events_console.static"))
