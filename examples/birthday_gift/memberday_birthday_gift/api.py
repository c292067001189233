"""HTTP API of the birthday gift: a member's birthday, and a signed webhook for the brand's CRM."""
from flask import request

from core.auth.services import MANAGERS, require_self_or_operator
from core.members.services import get_member

from . import PLUGIN, services
from .schemas import BirthdayInSchema, BirthdaySchema, WebhookSchema

blp = PLUGIN.api_blueprint(__name__, description="Birthday-month gifts (plugin birthday_gift).")


@blp.route("/members/<int:member_id>/birthday", methods=["GET"])
@blp.response(200, BirthdaySchema)
def get_birthday(member_id):
    """The member's birthday and this year's gift, if given (the member or an operator)."""
    require_self_or_operator(member_id, *MANAGERS)
    return services.describe(member_id)


@blp.route("/members/<int:member_id>/birthday", methods=["PUT"])
@blp.arguments(BirthdayInSchema)
@blp.response(200, BirthdaySchema)
def put_birthday(data, member_id):
    """Set the birthday. A member sets it once (then `409 birthday_already_set`); operators may correct it."""
    principal = require_self_or_operator(member_id, *MANAGERS)
    get_member(member_id)
    services.set_birthday(member_id, data["month"], data["day"], set_by=principal.kind)
    return services.describe(member_id)


@blp.route("/webhook", methods=["POST"])
@blp.arguments(WebhookSchema)
@blp.response(200, BirthdaySchema)
def crm_webhook(data):
    """The CRM pushes a birthday, signed: `X-Birthday-Gift-Signature: sha256=<HMAC of the body>`."""
    services.check_signature(request.get_data(), request.headers.get(services.SIGNATURE_HEADER))
    get_member(data["member_id"])
    services.set_birthday(data["member_id"], data["month"], data["day"], set_by="webhook")
    return services.describe(data["member_id"])
