"""Inbound keyword messages: routed to plugins, duplicates answered once; the WeChat callback."""
import hashlib
import secrets
import sys
import textwrap
import time
import types

from sqlalchemy import func, select

from core.extensions import db
from core.messaging.models import InboundMessage
from core.plugins import PluginInfo, hookimpl
from core.plugins.host import current_host
from core.testing import bearer, run_concurrently


def _keyword_plugin(calls):
    module = types.ModuleType("keyword_echo_plugin")
    module.PLUGIN = PluginInfo(id="keyword_echo", name="Keyword echo")

    @hookimpl
    def memberday_keyword_reply(member, text, channel, sender):
        if text == "報名":
            calls.append(sender)
            return f"Signed up {member.name if member else 'stranger'}"
        return None

    module.memberday_keyword_reply = memberday_keyword_reply
    sys.modules[module.__name__] = module
    return module


def test_a_keyword_is_answered_by_the_plugin_and_a_duplicate_once(memberday_app, operator_token):
    calls = []
    current_host_of = memberday_app.extensions["memberday_plugins"]
    current_host_of.add(_keyword_plugin(calls))
    client = memberday_app.test_client()
    client.post("/api/v1/members", json={"name": "Mei", "openid": "o-mei"})
    body = {"channel": "wechat", "from": "o-mei", "text": " 報名 ", "message_id": "m-1"}

    def send(i):
        return memberday_app.test_client().post("/api/v1/messages", headers=bearer(operator_token), json=body)

    responses = run_concurrently(send, 6)
    assert {r.status_code for r in responses} == {200}
    assert {r.get_json()["reply"] for r in responses} == {"Signed up Mei"}
    assert calls == ["o-mei"]
    with memberday_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 1


def test_an_unknown_keyword_gets_no_reply(memberday_client, operator_token):
    response = memberday_client.post("/api/v1/messages", headers=bearer(operator_token),
                                     json={"channel": "sms", "from": "+886900", "text": "hello", "message_id": "x"})
    assert response.status_code == 200
    assert response.get_json() == {"reply": None}


def _signed(app, **params):
    token = app.config["WECHAT_TOKEN"]
    timestamp, nonce = str(int(time.time())), secrets.token_hex(8)  # fresh and never seen before
    signature = hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()
    query = {"timestamp": timestamp, "nonce": nonce, "signature": signature, **params}
    return "/wechat?" + "&".join(f"{k}={v}" for k, v in query.items())


def test_wechat_server_check_echoes_and_bad_signatures_are_refused(memberday_app, memberday_client):
    assert memberday_client.get(_signed(memberday_app, echostr="hello123")).get_data(as_text=True) == "hello123"
    bad = memberday_client.get("/wechat?timestamp=1&nonce=2&signature=deadbeef&echostr=x")
    assert bad.status_code == 403


def test_wechat_text_message_gets_an_xml_reply(memberday_app, memberday_client):
    with memberday_app.app_context():
        current_host().add(_keyword_plugin([]))
    memberday_client.post("/api/v1/members", json={"name": "Hao", "openid": "o-hao"})
    xml = ("<xml><ToUserName><![CDATA[gh_brand]]></ToUserName><FromUserName><![CDATA[o-hao]]></FromUserName>"
           "<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
           "<Content><![CDATA[報名]]></Content><MsgId>9001</MsgId></xml>")
    response = memberday_client.post(_signed(memberday_app), data=xml.encode(), content_type="text/xml")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "<ToUserName><![CDATA[o-hao]]></ToUserName>" in text
    assert "Signed up Hao" in text
    broken = memberday_client.post(_signed(memberday_app), data=b"<xml><unclosed>", content_type="text/xml")
    assert broken.status_code == 400


KILLED_WHILE_ANSWERING = textwrap.dedent("""
    import os, signal, sys, types

    from core import create_app
    from core.messaging.services import handle_message
    from core.plugins import PluginInfo, hookimpl
    from core.plugins.host import current_host

    module = types.ModuleType("dies_while_answering")
    module.PLUGIN = PluginInfo(id="dies_while_answering", name="Dies while answering")

    @hookimpl(tryfirst=True)
    def memberday_keyword_reply(member, text, channel, sender):
        os.kill(os.getpid(), signal.SIGKILL)  # after the claim, before the reply

    module.memberday_keyword_reply = memberday_keyword_reply
    sys.modules[module.__name__] = module
    app = create_app()
    with app.app_context():
        current_host().add(module)
        handle_message("wechat", "o-mei", "報名", "m-dead")
    print("not reached")
""")


def test_a_claim_whose_handler_died_is_taken_over_and_answered_once(memberday_app, tmp_path):
    import os
    import signal
    import subprocess
    from datetime import timedelta

    from core.database import utcnow
    from core.messaging.services import handle_message

    calls = []
    memberday_app.extensions["memberday_plugins"].add(_keyword_plugin(calls))
    memberday_app.test_client().post("/api/v1/members", json={"name": "Mei", "openid": "o-mei"})
    script = tmp_path / "dies.py"
    script.write_text(KILLED_WHILE_ANSWERING)
    env = dict(os.environ, MEMBERDAY_ENV="testing", DATABASE_URL=memberday_app.config["DATABASE_URL"],
               SECRET_KEY=memberday_app.config["SECRET_KEY"])
    env.pop("REDIS_URL", None)
    result = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    with memberday_app.app_context():
        claim = db.session.scalar(select(InboundMessage).where(InboundMessage.message_id == "m-dead"))
        assert claim is not None and claim.reply is None  # claimed, never answered

    later = utcnow() + timedelta(seconds=memberday_app.config["MESSAGE_CLAIM_TIMEOUT_SECONDS"] + 1)

    def redeliver(i):
        with memberday_app.app_context():
            return handle_message("wechat", "o-mei", "報名", "m-dead", now=later)

    assert run_concurrently(redeliver, 6) == ["Signed up Mei"] * 6
    assert calls == ["o-mei"]
    assert redeliver(0) == "Signed up Mei" and calls == ["o-mei"]
    with memberday_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(InboundMessage)) == 1
