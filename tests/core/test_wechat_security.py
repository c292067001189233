"""The WeChat callback: production needs a token of its own; stale or replayed calls are refused;
safe mode decrypts AES messages and encrypts replies (wechatpy builds the test's real payloads)."""
from __future__ import annotations

import base64
import secrets
import sys
import time
import types
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from wechatpy.crypto import WeChatCrypto

from config import DEFAULT_WECHAT_TOKEN as DEFAULT_TOKEN
from config import SettingsError
from core import create_app
from core.extensions import db
from core.messaging.models import InboundMessage
from core.messaging.wechat_security import signature
from core.plugins import PluginInfo, hookimpl
from core.testing import TEST_REDIS

LONG_SECRET = "s" * 48
APP_ID = "wx0123456789abcdef"
AES_KEY = base64.b64encode(b"k" * 32).decode().rstrip("=")  # 43 characters, as WeChat shows it


def production(**overrides):
    config = {"ENV_NAME": "production", "DATABASE_URL": "sqlite://", "SECRET_KEY": LONG_SECRET}
    config.update(overrides)
    return create_app(config)


def test_production_refuses_to_start_without_a_wechat_token_of_its_own():
    with pytest.raises(SettingsError, match="WECHAT_TOKEN"):
        production()
    with pytest.raises(SettingsError, match="WECHAT_TOKEN"):
        production(WECHAT_TOKEN=DEFAULT_TOKEN)
    with pytest.raises(SettingsError, match="WECHAT_TOKEN"):
        production(WECHAT_TOKEN="")
    with pytest.raises(SettingsError, match="safe mode"):
        production(WECHAT_TOKEN="brand-token-7f3a", WECHAT_ENCODING_AES_KEY=AES_KEY)
    assert production(WECHAT_TOKEN="brand-token-7f3a").config["WECHAT_TOKEN"] == "brand-token-7f3a"


def signed_url(token, *, timestamp=None, nonce=None, **params):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or secrets.token_hex(8)
    query = {"timestamp": timestamp, "nonce": nonce, "signature": signature(token, timestamp, nonce), **params}
    return "/wechat?" + urlencode(query)


def text_message(sender="o-lin", text="hello", msg_id=None):
    return ("<xml><ToUserName><![CDATA[gh_brand]]></ToUserName>"
            f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{int(time.time())}</CreateTime>"
            f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content>"
            f"<MsgId>{msg_id or secrets.randbelow(10**12)}</MsgId></xml>")


def messages(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(InboundMessage))


def test_a_call_signed_with_the_default_token_is_refused_once_a_token_is_set(memberday_app, memberday_client):
    memberday_app.config["WECHAT_TOKEN"] = "brand-token-7f3a"
    forged = memberday_client.post(signed_url(DEFAULT_TOKEN), data=text_message(), content_type="text/xml")
    assert forged.status_code == 403
    assert memberday_client.post(signed_url("brand-token-7f3a"), data=text_message(),
                                 content_type="text/xml").status_code == 200
    assert messages(memberday_app) == 1


@pytest.mark.parametrize("age", [-301, 301, 10**9, -(10**9)])
def test_a_call_older_or_newer_than_five_minutes_is_refused(memberday_app, memberday_client, age):
    token = memberday_app.config["WECHAT_TOKEN"]
    url = signed_url(token, timestamp=int(time.time()) - age)
    response = memberday_client.post(url, data=text_message(), content_type="text/xml")
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert messages(memberday_app) == 0


def test_a_call_within_five_minutes_is_taken(memberday_app, memberday_client):
    token = memberday_app.config["WECHAT_TOKEN"]
    url = signed_url(token, timestamp=int(time.time()) - 240)
    assert memberday_client.post(url, data=text_message(), content_type="text/xml").status_code == 200


@pytest.mark.parametrize("store", ["memory", "redis"])
def test_a_replayed_nonce_is_refused_even_with_another_body(memberday_app, memberday_client, store):
    if store == "redis":
        memberday_app.config["REDIS_URL"] = TEST_REDIS
    token = memberday_app.config["WECHAT_TOKEN"]
    url = signed_url(token)
    first = memberday_client.post(url, data=text_message(sender="o-real"), content_type="text/xml")
    assert first.status_code == 200
    replay = memberday_client.post(url, data=text_message(sender="o-victim", text="報名"), content_type="text/xml")
    assert replay.status_code == 403
    assert messages(memberday_app) == 1


def test_the_server_check_is_signed_fresh_and_once(memberday_app, memberday_client):
    token = memberday_app.config["WECHAT_TOKEN"]
    url = signed_url(token, echostr="ping-123")
    assert memberday_client.get(url).get_data(as_text=True) == "ping-123"
    assert memberday_client.get(url).status_code == 403
    assert memberday_client.get(signed_url(token, timestamp=1, echostr="x")).status_code == 403


def _signup_plugin():
    module = types.ModuleType("wechat_signup_plugin")
    module.PLUGIN = PluginInfo(id="wechat_signup", name="WeChat sign-up")

    @hookimpl
    def memberday_keyword_reply(member, text, channel, sender):
        return f"Signed up {member.name}" if member and text == "報名" else None

    module.memberday_keyword_reply = memberday_keyword_reply
    sys.modules[module.__name__] = module
    return module


@pytest.fixture
def safe_mode(memberday_app):
    memberday_app.config.update(WECHAT_TOKEN="brand-token-7f3a", WECHAT_ENCODING_AES_KEY=AES_KEY,
                                WECHAT_APP_ID=APP_ID)
    return WeChatCrypto("brand-token-7f3a", AES_KEY, APP_ID)


def encrypted_call(crypto, xml):
    """What WeChat posts in safe mode: the message encrypted, msg_signature over the ciphertext."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
    envelope = crypto.encrypt_message(xml, nonce, timestamp)
    from defusedxml import ElementTree

    fields = {child.tag: child.text for child in ElementTree.fromstring(envelope)}
    url = signed_url("brand-token-7f3a", timestamp=timestamp, nonce=nonce, encrypt_type="aes",
                     msg_signature=fields["MsgSignature"])
    body = f"<xml><ToUserName><![CDATA[gh_brand]]></ToUserName><Encrypt><![CDATA[{fields['Encrypt']}]]></Encrypt></xml>"
    return url, body, nonce, timestamp


def test_safe_mode_decrypts_the_message_and_encrypts_the_reply(memberday_app, memberday_client, safe_mode):
    memberday_app.extensions["memberday_plugins"].add(_signup_plugin())
    memberday_client.post("/api/v1/members", json={"name": "Lin", "openid": "o-lin"})
    url, body, nonce, timestamp = encrypted_call(safe_mode, text_message(sender="o-lin", text="報名"))
    response = memberday_client.post(url, data=body, content_type="text/xml")
    assert response.status_code == 200
    reply = response.get_data(as_text=True)
    assert "Signed up" not in reply  # encrypted on the wire
    from defusedxml import ElementTree

    envelope = {child.tag: child.text for child in ElementTree.fromstring(reply)}
    plain = safe_mode.decrypt_message(reply, envelope["MsgSignature"], envelope["TimeStamp"], envelope["Nonce"])
    assert "Signed up Lin" in plain and "<ToUserName><![CDATA[o-lin]]></ToUserName>" in plain


def test_safe_mode_refuses_plain_text_and_a_tampered_ciphertext(memberday_app, memberday_client, safe_mode):
    token = "brand-token-7f3a"
    plain = memberday_client.post(signed_url(token), data=text_message(), content_type="text/xml")
    assert plain.status_code == 403

    url, body, _, _ = encrypted_call(safe_mode, text_message())
    start = body.index("<Encrypt><![CDATA[") + len("<Encrypt><![CDATA[")
    tampered = body[:start] + ("A" if body[start] != "A" else "B") + body[start + 1:]
    assert memberday_client.post(url, data=tampered, content_type="text/xml").status_code == 403

    other = WeChatCrypto(token, base64.b64encode(b"z" * 32).decode().rstrip("="), APP_ID)
    url, body, _, _ = encrypted_call(other, text_message())
    assert memberday_client.post(url, data=body, content_type="text/xml").status_code == 403
    assert messages(memberday_app) == 0
