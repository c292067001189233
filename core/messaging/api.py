"""Inbound messages: a JSON endpoint for any channel, and the WeChat official-account callback."""
from __future__ import annotations

import hashlib
import hmac
import time

from defusedxml import ElementTree
from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, request
from flask_smorest import Blueprint

from core.auth.services import MANAGERS, require_operator
from core.errors import Forbidden, ValidationFailed
from core.messaging import services
from core.messaging.schemas import InboundMessageSchema, ReplySchema

blp = Blueprint("messages", __name__, url_prefix="/api/v1/messages", description="Inbound keyword messages.")
wechat = FlaskBlueprint("wechat", __name__)


@blp.route("", methods=["POST"])
@blp.arguments(InboundMessageSchema)
@blp.response(200, ReplySchema)
def receive(data):
    """An inbound message from a channel integration; the same message_id is handled once."""
    require_operator(*MANAGERS)
    reply = services.handle_message(data["channel"], data["sender"], data["text"], data["message_id"])
    return {"reply": reply}


def _signature_ok() -> bool:
    token = current_app.config["WECHAT_TOKEN"]
    parts = [token, request.args.get("timestamp", ""), request.args.get("nonce", "")]
    expected = hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()
    return hmac.compare_digest(expected, request.args.get("signature", ""))


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@wechat.route("/wechat", methods=["GET", "POST"])
def wechat_callback():
    """WeChat's server check (GET echoes echostr) and text messages (POST, XML in and out)."""
    if not _signature_ok():
        raise Forbidden("The WeChat signature does not match.")
    if request.method == "GET":
        return Response(request.args.get("echostr", ""), mimetype="text/plain")
    try:
        root = ElementTree.fromstring(request.get_data())
    except Exception:
        raise ValidationFailed("The body is not a WeChat XML message.") from None
    field = {child.tag: (child.text or "") for child in root}
    if field.get("MsgType") != "text" or not field.get("FromUserName"):
        return Response("success", mimetype="text/plain")  # events and media: acknowledged, not answered
    message_id = field.get("MsgId") or f"{field['FromUserName']}:{field.get('CreateTime', '')}"
    reply = services.handle_message("wechat", field["FromUserName"][:128], field.get("Content", "")[:2000],
                                    message_id[:128])
    if not reply:
        return Response("success", mimetype="text/plain")
    xml = ("<xml>"
           f"<ToUserName>{_cdata(field['FromUserName'])}</ToUserName>"
           f"<FromUserName>{_cdata(field.get('ToUserName', ''))}</FromUserName>"
           f"<CreateTime>{int(time.time())}</CreateTime>"
           f"<MsgType>{_cdata('text')}</MsgType>"
           f"<Content>{_cdata(reply)}</Content>"
           "</xml>")
    return Response(xml, mimetype="application/xml")
