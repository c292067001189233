"""The console speaks zh-Hant, zh-Hans and en: the operator's choice is kept per browser, <html lang> says
which, and a page in Chinese has no English left in it. Its catalog holds every string of core/console."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from core import catalogs

from console_client import ConsoleClient

CONSOLE = Path(__file__).resolve().parents[2] / "core" / "console"
HTML_LANG = re.compile(r'<html lang="([^"]+)"')
# What may stay in Latin letters on a Chinese page: the brand, the language menu, names of formats.
ALLOWED = {"Memberday", "Coffee", "English", "API", "QR", "CSV", "JSON", "K", "PNG", "SVG", "ZIP", "ID"}
CORE_PAGES = ["/console/", "/console/members", "/console/members/audiences", "/console/orders", "/console/coupons",
              "/console/plugins", "/console/operators", "/console/account", "/console/scan"]
PLUGINS = ("referral", "points_mall", "offline_events", "member_week")
PLUGIN_PAGES = ["/console/referral/", "/console/points_mall/", "/console/offline_events/",
                "/console/member_week/", "/console/member_week/plan", "/console/member_week/weeks/new"] + [
                f"/console/plugins/{plugin}" for plugin in PLUGINS]
# Nothing is left out: forms generated from the core's schemas use the core catalog, and the example
# plugin's card (its name, description and settings labels) uses the example's own catalog.
ELSEWHERE: list = []


def english_words(html: str, *names: str) -> set[str]:
    """Words in Latin letters a reader sees (markup, scripts and the given names left out)."""
    text = re.sub(r"<(script|noscript|style)\b.*?</\1>", " ", html, flags=re.S)
    text = re.sub(r"<code>.*?</code>", " ", text, flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    text = re.sub(r'"[^"]*"|&#34;.*?&#34;', " ", text)  # JSON keys and values in an example: API words
    for name in names:
        text = text.replace(name, " ")
    return {word for word in re.findall(r"[A-Za-z][A-Za-z'-]+", text) if word not in ALLOWED}


@pytest.fixture
def chinese_console(memberday_app):
    return ConsoleClient(memberday_app).sign_in("admin", name="王小明")


@pytest.mark.parametrize("locale, tag, words", [
    ("zh_Hant", "zh-Hant", ("總覽", "登出", "流通中的點數")),
    ("zh_Hans", "zh-Hans", ("总览", "退出登录", "未使用的积分")),
    ("en", "en", ("Dashboard", "Sign out", "Points outstanding")),
])
def test_each_language_renders_with_its_html_lang(chinese_console, locale, tag, words):
    switched = chinese_console.post("/console/language", {"locale": locale, "next": "/console/orders"})
    assert switched.status_code == 303 and switched.headers["Location"].endswith("/console/orders")
    page = chinese_console.get("/console/").get_data(as_text=True)
    assert HTML_LANG.search(page).group(1) == tag
    assert all(word in page for word in words)
    assert f'value="{locale}" lang="{tag}" selected' in page


def test_the_browser_language_is_used_until_the_operator_chooses(chinese_console):
    page = chinese_console.get("/console/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert HTML_LANG.search(page).group(1) == "zh-Hans"
    chinese_console.post("/console/language", {"locale": "en"})
    page = chinese_console.get("/console/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert HTML_LANG.search(page).group(1) == "en"
    # The choice outlives signing out: the sign-in page keeps it.
    chinese_console.post("/console/sign-out")
    page = chinese_console.get("/console/sign-in").get_data(as_text=True)
    assert HTML_LANG.search(page).group(1) == "en" and "Password" in page


def test_an_unknown_language_changes_nothing(chinese_console):
    chinese_console.post("/console/language", {"locale": "zh_Hans"})
    chinese_console.post("/console/language", {"locale": "klingon", "next": "https://elsewhere.example/"})
    page = chinese_console.get("/console/").get_data(as_text=True)
    assert HTML_LANG.search(page).group(1) == "zh-Hans"


def test_the_dashboard_in_zh_hant_has_no_english_words(chinese_console):
    chinese_console.post("/console/language", {"locale": "zh_Hant"})
    page = chinese_console.get("/console/").get_data(as_text=True)
    assert english_words(page, "王小明") == set()


@pytest.mark.parametrize("locale", ["zh_Hant", "zh_Hans"])
def test_every_console_page_in_chinese_has_no_english_words(chinese_console, locale):
    chinese_console.post("/console/language", {"locale": locale})
    for url in CORE_PAGES + PLUGIN_PAGES:
        response = chinese_console.get(url)
        assert response.status_code == 200, url
        html = response.get_data(as_text=True)
        for other in ELSEWHERE:
            html = other.sub(" ", html)
        assert english_words(html, "王小明") == set(), url


def test_the_sign_in_page_speaks_each_language_before_anyone_signs_in(memberday_app):
    browser = ConsoleClient(memberday_app)
    for locale, word in (("zh_Hant", "密碼"), ("zh_Hans", "密码"), ("en", "Password")):
        browser.post("/console/language", {"locale": locale})
        page = browser.get("/console/sign-in").get_data(as_text=True)
        assert word in page
        if locale != "en":
            assert english_words(page) == set(), locale


def test_the_console_catalog_holds_every_string_of_core_console_translated(tmp_path):
    extracted = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run([str(pybabel), "-q", "extract", "-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext",
                    "-o", str(extracted), "."], cwd=CONSOLE, check=True)
    wanted = {message.id for message in read_po(extracted.open("rb")) if message.id}
    assert len(wanted) > 200
    for locale in ("zh_Hant", "zh_Hans", "en"):
        path = CONSOLE / "translations" / locale / "LC_MESSAGES" / "messages.po"
        catalog = read_po(path.open("rb"))
        held = {message.id for message in catalog if message.id}
        assert wanted <= held, (locale, sorted(wanted - held))
        # The compiled catalog says what the .po says (contents, not file times: a checkout sets both).
        with path.with_suffix(".mo").open("rb") as compiled:
            assert catalogs.mo_messages(compiled) == catalogs.compiled(catalogs.read(path, locale)), \
                f"{path.with_suffix('.mo')} is out of date: pybabel compile -d translations"
        if locale != "en":
            untranslated = sorted(message.id for message in catalog if message.id and not message.string)
            assert untranslated == [], (locale, untranslated)


@pytest.mark.parametrize("locale, words", [("zh_Hant", ("須為以下其中之一", "等級", "生日點數", "階段")),
                                           ("zh_Hans", ("须为以下之一", "等级", "生日积分", "阶段"))])
def test_refused_forms_say_what_is_wrong_in_the_readers_language(chinese_console, locale, words):
    """A refused form names its fields by their labels and says what is wrong in the operator's language."""
    chinese_console.post("/console/language", {"locale": locale})
    with chinese_console.app.app_context():
        from core.members.services import create_member

        member_id = create_member("陳美玲", phone="+886911000333")[0].id
    data_words = ("member", "silver", "gold", "platinum", "prospect", "new", "active", "at_risk", "lapsed", "at",
                  "risk", "vip", "王小明", "陳美玲")
    seen = []

    # A banner after a redirect: the member's tier is not one of the brand's.
    refused = chinese_console.post(f"/console/members/{member_id}/profile", {"tier": "diamond", "tags": "vip"})
    assert refused.status_code == 303
    page = chinese_console.get(refused.headers["Location"]).get_data(as_text=True)
    seen.append(page)
    assert english_words(page, "diamond", *data_words) == set()

    # Marked fields of a plugin's settings form (the example plugin's own catalog).
    refused = chinese_console.post("/console/plugins/birthday_gift", {"gift_points": "0", "webhook_secret": ""})
    assert refused.status_code == 400
    page = refused.get_data(as_text=True)
    seen.append(page)
    assert english_words(page, *data_words) == set()

    # A page refused with a 400: the audience preview with a stage that does not exist.
    refused = chinese_console.get("/console/members/audiences?a_stages=someday")
    page = refused.get_data(as_text=True)
    seen.append(page)
    assert refused.status_code in (200, 400) and english_words(page, "someday", *data_words) == set()

    shown = " ".join(seen)
    assert all(word in shown for word in words), [word for word in words if word not in shown]
