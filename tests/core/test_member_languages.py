"""Pages, the switcher and error messages in the member's language."""
import re

import pytest

from core.testing import bearer, csrf_token, english_words, make_app, sign_in_browser

BRAND = "晨光咖啡"


@pytest.fixture
def brand_app(memberday_database_url):
    """The brand's own settings: a Chinese name, Traditional Chinese by default."""
    from core.testing import empty_tables

    app = make_app(memberday_database_url, BRAND_NAME=BRAND, BRAND_LOCALE="zh-Hant")
    yield app
    empty_tables(app)


def test_home_in_traditional_chinese_has_no_english(brand_app):
    page = brand_app.test_client().get("/", headers={"Accept-Language": "zh-TW,zh;q=0.9"})
    html = page.get_data(as_text=True)
    assert '<html lang="zh-Hant">' in html
    assert f"歡迎來到{BRAND}" in html and "立即加入" in html
    assert english_words(html) == []


def test_home_in_simplified_chinese(brand_app):
    html = brand_app.test_client().get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html
    assert f"欢迎来到{BRAND}" in html and "登录" in html
    assert english_words(html, "zh-Hans") == []


def test_home_in_english(brand_app):
    html = brand_app.test_client().get("/", headers={"Accept-Language": "en-GB"}).get_data(as_text=True)
    assert '<html lang="en">' in html and "Join now" in html


def test_no_header_gets_the_brand_language(brand_app):
    html = brand_app.test_client().get("/").get_data(as_text=True)
    assert '<html lang="zh-Hant">' in html and "立即加入" in html


@pytest.mark.parametrize("path, status", [("/no-such-page", 404)])
def test_error_pages_in_chinese(brand_app, path, status):
    response = brand_app.test_client().get(path, headers={"Accept-Language": "zh-TW", "Accept": "text/html"})
    html = response.get_data(as_text=True)
    assert response.status_code == status
    assert "找不到這個頁面" in html and "回到首頁" in html
    assert english_words(html) == []


def test_the_switcher_is_on_every_page_and_marks_the_current_language(brand_app):
    html = brand_app.test_client().get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'action="/language"' in html and 'name="csrf_token"' in html
    assert re.search(r'value="zh-Hans" lang="zh-Hans" aria-current="true">简体中文', html)
    assert re.search(r'value="zh-Hant" lang="zh-Hant">繁體中文', html)
    assert re.search(r'value="en" lang="en">English', html)


def test_a_visitors_choice_sticks_over_the_browser_header(brand_app):
    client = brand_app.test_client()
    response = client.post("/language", data={"csrf_token": csrf_token(client, "/"), "locale": "en",
                                              "next": "/?from=switcher"},
                           headers={"Accept-Language": "zh-TW"})
    assert response.status_code == 303 and response.headers["Location"] == "/?from=switcher"
    for _ in range(2):
        html = client.get("/", headers={"Accept-Language": "zh-TW"}).get_data(as_text=True)
        assert '<html lang="en">' in html and "Join now" in html


def test_a_signed_in_members_choice_is_saved_and_wins_over_the_header(memberday_app, memberday_client, member):
    sign_in_browser(memberday_client, member)
    response = memberday_client.post("/language", data={
        "csrf_token": csrf_token(memberday_client, "/"), "locale": "zh-Hans", "next": "/me"})
    assert response.status_code == 303 and response.headers["Location"] == "/me"
    got = memberday_client.get(f"/api/v1/members/{member['id']}", headers=bearer(member["token"])).get_json()
    assert got["locale"] == "zh-Hans"
    # A fresh browser, signed in as the same member, with a Traditional-Chinese browser: the saved choice wins.
    other = memberday_app.test_client()
    sign_in_browser(other, member)
    html = other.get("/", headers={"Accept-Language": "zh-TW"}).get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html


@pytest.mark.parametrize("locale", ["fr", "", "zh", "zh-Hant-TW", "../../etc", "x" * 200])
def test_the_switcher_refuses_unknown_languages(memberday_client, locale):
    response = memberday_client.post("/language", data={
        "csrf_token": csrf_token(memberday_client, "/"), "locale": locale, "next": "/"})
    assert response.status_code == 400


def test_the_switcher_needs_its_csrf_token(memberday_client):
    response = memberday_client.post("/language", data={"locale": "en", "next": "/"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf_failed"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
                                    "evil.example", "/\r\nSet-Cookie:x=1"])
def test_the_switcher_goes_back_only_to_our_own_pages(memberday_client, target):
    response = memberday_client.post("/language", data={
        "csrf_token": csrf_token(memberday_client, "/"), "locale": "en", "next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_api_error_message_in_the_requests_language(memberday_client, member):
    response = memberday_client.get("/api/v1/members/999999999", headers={
        **bearer(member["token"]), "Accept-Language": "zh-TW"})
    assert response.status_code == 403
    body = response.get_json()["error"]
    assert body["code"] == "forbidden" and re.search(r"[\u4e00-\u9fff]", body["message"]), body
    unknown = memberday_client.get("/api/v1/nothing-here", headers={"Accept-Language": "zh-CN"}).get_json()["error"]
    assert unknown == {"code": "not_found", "message": "找不到。"}
    english = memberday_client.get("/api/v1/nothing-here", headers={"Accept-Language": "en"}).get_json()["error"]
    assert english == {"code": "not_found", "message": "Not found."}


def test_a_member_sets_their_language_through_the_api(memberday_client, member):
    url = f"/api/v1/members/{member['id']}"
    saved = memberday_client.patch(url, json={"locale": "zh-Hant"}, headers=bearer(member["token"]))
    assert saved.status_code == 200 and saved.get_json()["locale"] == "zh-Hant"
    assert memberday_client.patch(url, json={"locale": "zh_Hans"}, headers=bearer(member["token"])) \
        .get_json()["locale"] == "zh-Hans"
    # Their error messages now come in it, whatever the browser says.
    refused = memberday_client.patch(url, json={"tier": "gold"}, headers={**bearer(member["token"]),
                                                                           "Accept-Language": "en"})
    assert refused.status_code == 403
    assert refused.get_json()["error"] == {"code": "forbidden", "message": "会员在这里只能更改自己的语言设置。"}
    cleared = memberday_client.patch(url, json={"locale": None}, headers=bearer(member["token"]))
    assert cleared.status_code == 200 and cleared.get_json()["locale"] is None


@pytest.mark.parametrize("value", ["fr", "zh", "zh-TW", "", 3, ["en"]])
def test_the_api_refuses_a_language_we_do_not_have(memberday_client, member, value):
    response = memberday_client.patch(f"/api/v1/members/{member['id']}", json={"locale": value},
                                      headers=bearer(member["token"]))
    assert response.status_code == 400
    assert "locale" in response.get_json()["error"]["fields"]


def test_another_members_language_is_not_theirs_to_set(memberday_client, member):
    other = memberday_client.post("/api/v1/members", json={"name": "Someone else"}).get_json()
    response = memberday_client.patch(f"/api/v1/members/{other['id']}", json={"locale": "en"},
                                      headers=bearer(member["token"]))
    assert response.status_code == 403


def test_an_operator_sets_a_members_language(memberday_client, operator_token, member):
    response = memberday_client.patch(f"/api/v1/members/{member['id']}", json={"locale": "en", "tier": "gold"},
                                      headers=bearer(operator_token))
    assert response.status_code == 200
    assert response.get_json()["locale"] == "en" and response.get_json()["tier"] == "gold"


def test_field_messages_of_a_bad_request_are_in_the_readers_language(memberday_client, operator_token):
    from core.testing import bearer

    def fields(language, body):
        response = memberday_client.post("/api/v1/orders", json=body, headers={
            **bearer(operator_token), "Accept-Language": language})
        assert response.status_code == 400, response.get_json()
        return response.get_json()["error"]["fields"]

    body = {"external_id": "A-1", "member_id": "seven"}
    english = fields("en", body)
    assert english["member_id"] == ["Not a valid integer."] and english["amount"] == ["Missing data for required field."]
    assert fields("zh-TW", body) == {"member_id": ["不是有效的整數。"], "amount": ["必填欄位缺少資料。"]}
    assert fields("zh-CN", body)["member_id"] == ["不是有效的整数。"]
    # Values are kept: the template is found in the English and filled into the translation.
    long_id = fields("zh-TW", {"external_id": "x" * 500, "amount": "12.00", "member_id": 1})
    assert long_id["external_id"] and all("%" not in text and ("長度" in text or "超過" in text)
                                          for text in long_id["external_id"]), long_id
