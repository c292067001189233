"""A brand's SMS plugin delivers the sign-in codes: it gets the phone, the code and the member's
language, the development log gets nothing, and the code it sent signs the member in."""
import re

from core.plugins import PluginInfo, hookimpl
from core.testing import csrf_token, last_code

from hostkit import register


class Sms:
    PLUGIN = PluginInfo(id="brand_sms", name="Brand SMS")

    def __init__(self):
        self.sent = []

    @hookimpl
    def memberday_send_one_time_code(self, phone, code, locale):
        self.sent.append((phone, code, locale))
        return "sms"


def test_an_sms_plugin_delivers_the_code_instead_of_the_log(memberday_app, member):
    sms = Sms()
    register(memberday_app, sms)
    client = memberday_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-TW"
    answer = client.post("/me/login", data={"csrf_token": csrf_token(client, "/me/login"), "phone": member["phone"]})
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]

    [(phone, code, locale)] = sms.sent
    assert phone == member["phone"] and re.fullmatch(r"\d{6}", code) and locale == "zh_Hant"
    try:
        logged = last_code(member["phone"])
    except AssertionError:
        logged = None
    assert logged != code  # the development log never saw this code

    signed_in = client.post("/me/login/code", data={"csrf_token": csrf_token(client, "/me/login/code"),
                                                    "code": code})
    assert signed_in.status_code == 303 and signed_in.headers["Location"].endswith("/me")
    assert client.get("/me").status_code == 200
