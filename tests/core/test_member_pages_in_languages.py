"""The member pages speak the browser's language: zh-TW → Traditional Chinese, zh-CN → Simplified, en → English."""
import pytest

from core.rewards import services as rewards
from core.testing import english_words, new_phone, sign_in_browser

PAGES = ("/me", "/me/mall", "/me/coupons", "/me/points")
SIGNED_OUT = ("/join", "/me/login")


@pytest.fixture
def chinese_member(memberday_app, memberday_client, operator_token):
    memberday_app.jinja_env.globals["brand"] = "日日咖啡"  # the brand's name, as BRAND_NAME sets it
    body = memberday_client.post("/api/v1/members", json={"name": "林小美", "phone": new_phone()}).get_json()
    with memberday_app.app_context():
        rewards.credit(body["id"], 300, "歡迎禮", "test:welcome")
        template = rewards.create_template("免費餅乾", channel="any", valid_days=30)
        body["coupon_code"] = rewards.issue_coupon(body["id"], template.id).code
    from core.testing import bearer

    for name, cost in (("免費拿鐵", 120), ("帆布袋", 900)):
        assert memberday_client.post("/api/v1/mall/items", headers=bearer(operator_token),
                                     json={"name": name, "points_cost": cost}).status_code == 201
    return body


@pytest.mark.parametrize("header, lang", [("zh-TW", "zh-Hant"), ("zh-CN", "zh-Hans")])
def test_chinese_browsers_read_the_member_pages_with_no_english_word(memberday_app, chinese_member, header, lang):
    client = memberday_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = header
    def read(path):
        response = client.get(path)
        assert response.status_code == 200, path  # the page itself, not an error page in Chinese
        return response.get_data(as_text=True)

    pages = {path: read(path) for path in SIGNED_OUT}
    sign_in_browser(client, chinese_member)
    pages.update({path: read(path) for path in PAGES})
    for path, html in pages.items():
        assert f'<html lang="{lang}">' in html, path
        html = html.replace(chinese_member["coupon_code"], "")  # the code itself, in the images' alt text
        assert english_words(html, lang) == [], (path, english_words(html, lang))


def test_english_browsers_read_english(memberday_app, chinese_member):
    client = memberday_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in_browser(client, chinese_member)
    page = client.get("/me/mall").get_data(as_text=True)
    assert '<html lang="en">' in page and "Yours to take now" in page and "A few points away" in page


def test_traditional_and_simplified_differ_where_the_words_do(memberday_app, chinese_member):
    pages = {}
    for header in ("zh-TW", "zh-CN"):
        client = memberday_app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = header
        sign_in_browser(client, chinese_member)
        pages[header] = client.get("/me/points").get_data(as_text=True)
    assert "我的點數" in pages["zh-TW"] and "我的积分" in pages["zh-CN"]
