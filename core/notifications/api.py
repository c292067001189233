"""Inbox endpoints."""
from flask_smorest import Blueprint

from core.auth.services import MANAGERS, require_operator, require_self_or_operator
from core.errors import errors
from core.members.services import get_member
from core.notifications import services
from core.notifications.schemas import NotificationSchema
from core.schemas import PageArgs, page_of, shared

blp = Blueprint("notifications", __name__, url_prefix="/api/v1", description="Member and operator inboxes.")


@blp.route("/members/<int:member_id>/notifications", methods=["GET"])
@errors("forbidden")
@blp.arguments(PageArgs, location="query")
@blp.response(200)
def member_inbox(args, member_id):
    """The member's inbox, newest first."""
    require_self_or_operator(member_id)
    get_member(member_id)
    return page_of(services.inbox(member_id), args, shared(NotificationSchema).dump)


@blp.route("/notifications", methods=["GET"])
@errors("forbidden")
@blp.arguments(PageArgs, location="query")
@blp.response(200)
def operators_inbox(args):
    """Notifications for operators (e.g. a plugin switched off after failures)."""
    require_operator(*MANAGERS)
    return page_of(services.operators_inbox(), args, shared(NotificationSchema).dump)
