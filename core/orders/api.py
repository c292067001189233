"""Order endpoints for the brand's shop."""
from flask_smorest import Blueprint

from core.auth.services import MANAGERS, require_operator
from core.errors import errors
from core.idempotency import idempotent
from core.orders import services
from core.orders.schemas import OrderCreateSchema, OrderSchema

blp = Blueprint("orders", __name__, url_prefix="/api/v1/orders", description="Orders reported by the shop.")


@blp.route("", methods=["POST"])
@errors("forbidden", "order_member_mismatch", "idempotency_key_reused")
@idempotent
@blp.arguments(OrderCreateSchema)
@blp.response(201, OrderSchema)
@blp.alt_response(200, schema=OrderSchema, description="The order was already reported: the same order.")
def report_order(data):
    """The shop reports a paid order; reporting it again books nothing twice."""
    require_operator(*MANAGERS)
    order, created = services.report_paid_order(data["external_id"], data["member_id"], data["amount"],
                                                data["paid_at"])
    return order, 201 if created else 200


@blp.route("/<string:external_id>", methods=["GET"])
@errors("forbidden")
@blp.response(200, OrderSchema)
def get_order(external_id):
    require_operator(*MANAGERS)
    return services.get_order(external_id)


@blp.route("/<string:external_id>/refund", methods=["POST"])
@errors("forbidden", "already_refunded", "idempotency_key_reused")
@idempotent
@blp.response(200, OrderSchema)
def refund_order(external_id):
    """Refund: the points this order earned (what remains of them) are taken back (Idempotency-Key)."""
    require_operator(*MANAGERS)
    return services.refund_order(external_id)
