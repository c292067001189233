"""Members sign in with a code sent to their phone, or with WeChat; they never see or type a token."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from core import ratelimit
from core.auth import codes
from core.auth.models import OneTimeCode
from core.database import utcnow
from core.extensions import db
from core.members.models import Member
from core.testing import csrf_token, join_browser, new_phone, sign_in_browser


def ask_code(client, phone, address="127.0.0.1"):
    token = csrf_token(client, "/me/login")
    response = client.post("/me/login", data={"csrf_token": token, "phone": phone},
                           environ_base={"REMOTE_ADDR": address})
    return token, response


def other_than(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def test_a_member_signs_in_with_the_code_sent_to_their_phone_and_the_code_works_once(
        memberday_app, member, one_time_code):
    client = memberday_app.test_client()
    token, response = ask_code(client, member["phone"])
    assert response.status_code == 303 and response.headers["Location"].endswith("/me/login/code")
    code = one_time_code(member["phone"])
    assert re.fullmatch(r"\d{6}", code)
    page = client.get("/me/login/code").get_data(as_text=True)
    assert member["phone"] not in page and "****" in page  # the phone is masked
    assert client.post("/me/login/code", data={"csrf_token": token, "code": code}).status_code == 303
    assert client.get("/me").status_code == 200

    again = memberday_app.test_client()
    token, _ = ask_code(again, member["phone"])  # a new code ends the old one
    replay = again.post("/me/login/code", data={"csrf_token": token, "code": code})
    assert replay.status_code == 401 and again.get("/me").status_code == 302


def test_the_code_is_stored_hashed(memberday_app, member, one_time_code):
    client = memberday_app.test_client()
    ask_code(client, member["phone"])
    code = one_time_code(member["phone"])
    with memberday_app.app_context():
        row = db.session.scalars(select(OneTimeCode)).one()
        assert row.phone == member["phone"] and len(row.code_hash) == 64 and code not in row.code_hash


def test_a_code_expires_after_ten_minutes(memberday_app, member, one_time_code):
    with memberday_app.test_request_context():
        codes.send_code(member["phone"])
        code = one_time_code(member["phone"])
        with pytest.raises(codes.CodeRefused) as refused:
            codes.check_code(member["phone"], code, now=utcnow() + timedelta(minutes=10, seconds=1))
        assert refused.value.code == "code_expired"
        codes.check_code(member["phone"], code, now=utcnow() + timedelta(minutes=9))


def test_five_wrong_tries_lock_the_code(memberday_app, member, one_time_code):
    client = memberday_app.test_client()
    token, _ = ask_code(client, member["phone"])
    code = one_time_code(member["phone"])
    wrong = [client.post("/me/login/code", data={"csrf_token": token, "code": other_than(code)}).status_code
             for _ in range(5)]
    assert wrong == [401] * 5
    locked = client.post("/me/login/code", data={"csrf_token": token, "code": code})
    assert locked.status_code == 401 and "Too many wrong tries" in locked.get_data(as_text=True)
    assert client.get("/me").status_code == 302
    token, _ = ask_code(client, member["phone"])  # a new code opens again
    assert client.post("/me/login/code", data={"csrf_token": token,
                                                "code": one_time_code(member["phone"])}).status_code == 303


@pytest.fixture
def limited(memberday_app):
    memberday_app.config["RATE_LIMITS_ENABLED"] = True
    ratelimit.limiter.reset()
    yield memberday_app
    ratelimit.limiter.reset()


def test_codes_are_limited_per_phone_whatever_the_address(limited, member):
    limited.config["RATE_LIMITS"] = {"one_time_code": "2/minute"}
    statuses = [ask_code(limited.test_client(), member["phone"], f"203.0.113.{i}")[1].status_code
                for i in range(3)]
    assert statuses == [303, 303, 429]


def test_codes_are_limited_per_client_whatever_the_phone(limited):
    limited.config["RATE_LIMITS"] = {"one_time_code": "2/minute"}
    client = limited.test_client()
    statuses = [ask_code(client, new_phone(), "198.51.100.4")[1].status_code for _ in range(3)]
    assert statuses == [303, 303, 429]


def test_a_replayed_cookie_after_sign_out_is_refused(memberday_app, member):
    client = memberday_app.test_client()
    sign_in_browser(client, member)
    stolen = client.get_cookie("session").value
    assert client.post("/me/logout", data={"csrf_token": csrf_token(client, "/me")}).status_code == 303
    thief = memberday_app.test_client()
    thief.set_cookie("session", stolen)
    assert thief.get("/me").status_code == 302
    assert thief.get("/me/coupons").status_code == 302


def test_joining_needs_a_phone_verified_by_a_code(memberday_app):
    client = memberday_app.test_client()
    token = csrf_token(client)
    assert client.post("/join", data={"csrf_token": token, "name": "No Phone"}).status_code == 400
    phone = new_phone()
    asked = client.post("/join", data={"csrf_token": token, "name": "Mei", "phone": phone})
    assert asked.status_code == 303
    wrong = client.post("/me/login/code", data={"csrf_token": token, "code": other_than(codes_sent(phone))})
    assert wrong.status_code == 401
    with memberday_app.app_context():
        assert db.session.scalar(select(Member).where(Member.phone == phone)) is None  # nobody yet
    joined = client.post("/me/login/code", data={"csrf_token": token, "code": codes_sent(phone)})
    assert joined.status_code == 303 and urlsplit(joined.headers["Location"]).path == "/me"
    with memberday_app.app_context():
        assert db.session.scalar(select(Member.name).where(Member.phone == phone)) == "Mei"


def codes_sent(phone):
    from core.testing import last_code

    return last_code(phone)


def test_a_phone_proved_at_sign_in_without_an_account_goes_on_to_join(memberday_app):
    client = memberday_app.test_client()
    phone = new_phone()
    token, _ = ask_code(client, phone)
    proved = client.post("/me/login/code", data={"csrf_token": token, "code": codes_sent(phone)})
    assert proved.status_code == 303 and proved.headers["Location"].endswith("/join")
    page = client.get("/join").get_data(as_text=True)
    assert 'name="phone"' not in page  # already verified
    assert client.post("/join", data={"csrf_token": token, "name": "Proved"}).status_code == 303
    assert client.get("/me").status_code == 200


def test_no_page_shows_or_asks_for_a_member_token(memberday_app, member):
    client = memberday_app.test_client()
    pages = [client.get(path).get_data(as_text=True) for path in ("/", "/join", "/me/login")]
    sign_in_browser(client, member)
    pages += [client.get(path).get_data(as_text=True) for path in ("/me", "/me/coupons", "/me/points", "/me/mall")]
    joined = memberday_app.test_client()
    assert join_browser(joined, "/join", name="Mei Lin").status_code == 303
    pages.append(joined.get("/me").get_data(as_text=True))
    for html in pages:
        assert member["token"] not in html and "mb_" not in html
        assert not re.search(r'<input[^>]+name="(token|api_token)"', html)
        assert "token" not in html.lower().replace("csrf_token", "")


def test_wechat_sign_in_finds_the_member_by_openid(memberday_app, wechat_oauth):
    client = memberday_app.test_client()
    with memberday_app.app_context():
        from core.members.services import create_member

        create_member("Wei", openid="o-wei-123")
    wechat_oauth.sign_in_as("o-wei-123")
    to_wechat = client.get("/me/wechat")
    assert to_wechat.status_code == 302
    location = to_wechat.headers["Location"]
    assert location.startswith(wechat_oauth.url + "/connect/oauth2/authorize?") and "scope=snsapi_base" in location
    back = urlsplit(wechat_oauth.follow(location))
    assert back.path == "/me/wechat/callback"
    signed_in = client.get(f"{back.path}?{back.query}")
    assert signed_in.status_code == 303 and signed_in.headers["Location"].endswith("/me")
    assert "Wei" in client.get("/me").get_data(as_text=True)
    assert wechat_oauth.exchanges[-1]["grant_type"] == "authorization_code"


def test_wechat_sign_in_refuses_a_callback_with_another_state(memberday_app, wechat_oauth):
    client = memberday_app.test_client()
    back = urlsplit(wechat_oauth.follow(client.get("/me/wechat").headers["Location"]))
    forged = re.sub(r"state=[^&]*", "state=forged", back.query)
    assert client.get(f"{back.path}?{forged}").status_code == 400
    assert client.get("/me").status_code == 302
    assert wechat_oauth.exchanges == []  # the code was never traded


def test_a_new_wechat_user_joins_with_a_name_and_a_phone_member_links_wechat(memberday_app, wechat_oauth, member):
    newcomer = memberday_app.test_client()
    wechat_oauth.sign_in_as("o-new-1")
    back = urlsplit(wechat_oauth.follow(newcomer.get("/me/wechat").headers["Location"]))
    assert newcomer.get(f"{back.path}?{back.query}").headers["Location"].endswith("/join")
    assert newcomer.post("/join", data={"csrf_token": csrf_token(newcomer), "name": "Newcomer"}).status_code == 303
    with memberday_app.app_context():
        assert db.session.scalar(select(Member.name).where(Member.openid == "o-new-1")) == "Newcomer"

    existing = memberday_app.test_client()
    sign_in_browser(existing, member)
    wechat_oauth.sign_in_as("o-linked-2")
    back = urlsplit(wechat_oauth.follow(existing.get("/me/wechat").headers["Location"]))
    assert existing.get(f"{back.path}?{back.query}").status_code == 303
    with memberday_app.app_context():
        assert db.session.get(Member, member["id"]).openid == "o-linked-2"


def test_an_unknown_wechat_code_is_a_clear_refusal(memberday_app, wechat_oauth):
    client = memberday_app.test_client()
    client.get("/me/wechat")
    with client.session_transaction() as session:
        state = session["wechat_state"]
    refused = client.get(f"/me/wechat/callback?code=made-up&state={state}")
    assert refused.status_code == 502 and "WeChat" in refused.get_data(as_text=True)
