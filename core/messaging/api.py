"""Inbound messages: a JSON endpoint for any channel, and the WeChat official-account callback."""
from __future__ import annotations

import time

from defusedxml import ElementTree
from flask import Blueprint as FlaskBlueprint
from flask import Response, request
from flask_smorest import Blueprint

from core.auth.services import MANAGERS, require_operator
from core.errors import ValidationFailed, errors
from core.i18n import _
from core.messaging import services, wechat_security
from core.messaging.schemas import InboundMessageSchema, ReplySchema
from core.ratelimit import limit

blp = Blueprint("messages", __name__, url_prefix="/api/v1/messages", description="Inbound keyword messages.")
wechat = FlaskBlueprint("wechat", __name__)


@blp.route("", methods=["POST"])
@errors("forbidden")
@limit("messages")
@blp.arguments(InboundMessageSchema)
@blp.response(200, ReplySchema)
def receive(data):
    """An inbound message from a channel integration; the same message_id is handled once."""
    require_operator(*MANAGERS)
    reply = services.handle_message(data["channel"], data["sender"], data["text"], data["message_id"])
    return {"reply": reply}


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


@wechat.route("/wechat", methods=["GET", "POST"])
@limit("messages")
def wechat_callback():
    """WeChat's server check (GET echoes echostr) and text messages (POST, XML in and out).

    Signed, fresh and not replayed (``wechat_security.verify_call``); in safe mode the
    message is decrypted and the reply encrypted.
    """
    wechat_security.verify_call()
    if request.method == "GET":
        return Response(request.args.get("echostr", ""), mimetype="text/plain")
    field = _xml_fields(request.get_data())
    crypto = wechat_security.safe_mode()
    if crypto is not None:
        field = _xml_fields(wechat_security.decrypt(crypto, field.get("Encrypt", "")).encode("utf-8"))
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
    if crypto is not None:
        xml = wechat_security.encrypt(crypto, xml)
    return Response(xml, mimetype="application/xml")


def _xml_fields(body: bytes) -> dict:
    try:
        root = ElementTree.fromstring(body)
    except Exception:
        raise ValidationFailed(_("The body is not a WeChat XML message.")) from None
    return {child.tag: (child.text or "") for child in root}
