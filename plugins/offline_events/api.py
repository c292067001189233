"""Offline events endpoints: events, sign-ups, the door (online and offline), reverts and the report."""
from flask import jsonify, request

from core.auth.services import (MANAGERS, STAFF, current_principal, require_operator, require_principal,
                                require_self_or_operator)
from core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed, errors
from core.i18n import _
from core.idempotency import idempotent
from core.members.services import get_member
from core.schemas import page_of, page_of_list, shared
from plugins.offline_events import PLUGIN, services
from plugins.offline_events.schemas import (BatchAnswerSchema, BatchSchema, CheckInAnswerSchema, CheckInListSchema,
                                            CheckInRecordSchema, CheckInSchema, EventChangeSchema, EventListArgs, EventSchema,
                                            EventWriteSchema, OperatorEventSchema, RegisterSchema,
                                            RegistrantSchema, RegistrationListArgs, RegistrationSchema,
                                            ReportSchema)

blp = PLUGIN.api_blueprint(__name__, url_prefix="/api/v1",
                           description="Offline events: sign-up with a waitlist, QR tickets, check-in at the door.")


def _is_operator(principal) -> bool:
    return principal is not None and principal.is_operator(*MANAGERS)


@blp.route("/events", methods=["POST"])
@errors("forbidden", "keyword_taken")
@blp.arguments(EventWriteSchema)
@blp.response(201, OperatorEventSchema)
def create_event(data):
    """Create an event (operators). A keyword another open event uses → ``409 keyword_taken``."""
    require_operator(*MANAGERS)
    return services.create_event(data)


@blp.route("/events", methods=["GET"])
@errors("forbidden")
@blp.arguments(EventListArgs, location="query")
@blp.response(200)
def list_events(args):
    """Events open for sign-up now, with ``seats_left`` (a member sees those open to them;
    operators may add ``all=true`` for every event)."""
    principal = current_principal()
    if principal is None and request.headers.get("Authorization"):
        raise Unauthorized()
    if _is_operator(principal):
        events = services.event_list(everything=args["all"])
        dump = shared(OperatorEventSchema).dump
    else:
        member = get_member(principal.id) if principal is not None and principal.kind == "member" else None
        events = services.event_list(member=member)
        dump = shared(EventSchema).dump
    return page_of_list(events, args, dump)


@blp.route("/events/<int:event_id>", methods=["GET"])
@errors("forbidden")
@blp.response(200)
def get_event(event_id):
    """One event: with its counts for operators; anyone sees an event that is not cancelled."""
    principal = current_principal()
    event = services.get_event(event_id)
    if _is_operator(principal):
        return shared(OperatorEventSchema).dump(event)
    if event.status == "cancelled":
        raise NotFound(_("Event %(id)s does not exist.", id=event_id))
    return shared(EventSchema).dump(event)


@blp.route("/events/<int:event_id>", methods=["PATCH"])
@errors("forbidden", "keyword_taken", event_cancelled=409, capacity_below_confirmed=409)
@blp.arguments(EventChangeSchema(partial=True))
@blp.response(200, OperatorEventSchema)
def update_event(data, event_id):
    """Change an event (operators); a higher capacity seats the waitlist at once."""
    require_operator(*MANAGERS)
    if not data:
        raise ValidationFailed(_("Nothing to change."), fields={"_schema": ["give at least one field"]})
    return services.update_event(event_id, data)


@blp.route("/events/<int:event_id>/cancel", methods=["POST"])
@errors("forbidden", "idempotency_key_reused", already_cancelled=409)
@idempotent
@blp.response(200, OperatorEventSchema)
def cancel_event(event_id):
    """Cancel an event (operators): every registration is cancelled and its member told."""
    principal = require_operator(*MANAGERS)
    return services.cancel_event(event_id, actor=principal.key)


@blp.route("/events/<int:event_id>/registrations", methods=["POST"])
@errors("forbidden", "idempotency_key_reused", not_eligible=403, signup_closed=409)
@idempotent
@blp.arguments(RegisterSchema)
@blp.response(201, RegistrationSchema)
@blp.alt_response(200, schema=RegistrationSchema, description="The member was already signed up: the same "
                                                                "registration.")
def register(data, event_id):
    """Sign a member up (the member, or an operator for them; Idempotency-Key): confirmed while there are
    seats, then waitlisted. ``409 signup_closed``, ``403 not_eligible``."""
    principal = require_self_or_operator(data["member_id"], *MANAGERS)
    registration, created = services.register(event_id, data["member_id"],
                                              channel="api" if principal.kind == "member" else "operator")
    return registration, 201 if created else 200


@blp.route("/events/<int:event_id>/registrations", methods=["GET"])
@errors("forbidden")
@blp.arguments(RegistrationListArgs, location="query")
@blp.response(200)
def list_registrations(args, event_id):
    """An event's registrations (operators), filterable by ``status``; door staff find one by
    name or phone with ``q`` (they see no ticket, only the phone's last digits)."""
    principal = require_operator(*STAFF)
    query = services.registration_list(event_id, args.get("status"), args.get("q"))
    schema = RegistrationSchema() if principal.is_operator(*MANAGERS) else RegistrantSchema()
    return page_of(query, args, schema.dump, descending=False)  # in the order they signed up


@blp.route("/members/<int:member_id>/registrations", methods=["GET"])
@errors("forbidden")
@blp.arguments(RegistrationListArgs, location="query")
@blp.response(200)
def member_registrations(args, member_id):
    """A member's registrations with their tickets (the member, or an operator)."""
    require_self_or_operator(member_id, *MANAGERS)
    query = services.member_registrations(member_id)
    if args.get("status"):
        query = query.where(services.Registration.status == args["status"])
    return page_of(query, args, shared(RegistrationSchema).dump)


def _own_registration(registration_id: int):
    principal = require_principal()
    registration = services.get_registration(registration_id)
    if principal.kind == "member":
        if registration.member_id != principal.id:
            raise NotFound(_("Registration %(id)s does not exist.", id=registration_id))
    elif not principal.is_operator(*MANAGERS):
        raise Forbidden()
    return principal, registration


@blp.route("/registrations/<int:registration_id>", methods=["GET"])
@errors("forbidden")
@blp.response(200, RegistrationSchema)
def get_registration(registration_id):
    return _own_registration(registration_id)[1]


@blp.route("/registrations/<int:registration_id>/cancel", methods=["POST"])
@errors("forbidden", "idempotency_key_reused", already_cancelled=409, already_checked_in=409)
@idempotent
@blp.response(200, RegistrationSchema)
def cancel_registration(registration_id):
    """Give up a registration (the member, or an operator): the first waitlisted member gets the seat
    and is told. Again → ``409 already_cancelled``."""
    principal, _registration = _own_registration(registration_id)
    return services.cancel_registration(registration_id, actor=principal.key)


@blp.route("/checkins", methods=["POST"])
@errors("forbidden", nonce_reused=409)
@blp.arguments(CheckInSchema)
@blp.response(201, CheckInAnswerSchema)
@blp.alt_response(409, schema=CheckInAnswerSchema, description="Known but not usable now: ``already_redeemed``, "
                  "``canceled``, ``waitlisted``, ``wrong_event`` or ``not_open``.")
@blp.alt_response(404, schema=CheckInAnswerSchema, description="Not a ticket: ``invalid``.")
def check_in(data):
    """Check a ticket in at the door (staff). The same ``nonce`` again → the first answer. An ``ok``
    grants the event's attendance points and coupon in the same transaction, once."""
    principal = require_operator(*STAFF)
    answer = services.check_in(data["event_id"], data["nonce"], ticket=data.get("ticket"),
                               registration_id=data.get("registration_id"), actor=principal.key)
    response = jsonify(answer.body)
    response.status_code = answer.status_code
    return response


@blp.route("/checkins/batch", methods=["POST"])
@errors("forbidden", nonce_reused=409)
@blp.arguments(BatchSchema)
@blp.response(200, BatchAnswerSchema)
def check_in_batch(data):
    """Upload what a scanner checked in while offline (staff): each item is answered as
    ``POST /checkins`` answers it (plus its ``http_status``); a retried batch gets the same answers."""
    principal = require_operator(*STAFF)
    return jsonify({"items": services.check_in_batch(data["event_id"], data["items"], actor=principal.key)})


@blp.route("/checkins/<int:checkin_id>/revert", methods=["POST"])
@errors("forbidden", "idempotency_key_reused", already_reverted=409)
@idempotent
@blp.response(200, CheckInRecordSchema)
def revert_checkin(checkin_id):
    """Undo a check-in (operators): the ticket is usable again and what it granted is taken back, once.
    Again → ``409 already_reverted``."""
    principal = require_operator(*MANAGERS)
    return services.revert_checkin(checkin_id, actor=principal.key)


@blp.route("/events/<int:event_id>/checkin-list", methods=["GET"])
@errors("forbidden")
@blp.response(200, CheckInListSchema)
def checkin_list(event_id):
    """What a scanner keeps to check in offline (staff): per registration the SHA-256 of its ticket
    code, its status and the holder's display name -- no phone, no e-mail."""
    require_operator(*STAFF)
    return services.checkin_list(event_id)


@blp.route("/events/<int:event_id>/report", methods=["GET"])
@errors("forbidden")
@blp.response(200, ReportSchema)
def report(event_id):
    """The funnel from sign-up to the door, and attendees' against no-shows' online orders from the
    event's start to 30 days after its end (operators)."""
    require_operator(*MANAGERS)
    return services.report(event_id)
