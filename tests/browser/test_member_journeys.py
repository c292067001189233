"""Members on their phones, in a real browser: joining from a share link, signing in and out
with a code, redeeming in the mall, showing coupons at the till -- in zh-Hant, zh-Hans and en."""
from __future__ import annotations

import re

import pytest

from core.testing import bearer, last_code, new_phone

LANGUAGES = {"zh-TW": "zh-Hant", "zh-CN": "zh-Hans", "en": "en"}
# What the brand's operators would have named things, in the members' language.
ITEMS = {"zh-CN": ("免费拿铁", "帆布袋"), "en": ("Free latte", "Tote bag")}
COOKIE = {"zh-TW": "免費餅乾", "zh-CN": "免费饼干", "en": "Free cookie"}
GIFT = {"zh-TW": "歡迎禮", "zh-CN": "欢迎礼", "en": "Welcome gift"}
# The page's own form button (every page also has the language switcher's buttons).
SUBMIT = "form button[type=submit]:not([name=locale])"


def enter_code(page, phone_number):
    page.wait_for_url(re.compile(r"/me/login/code$"))
    page.fill("#code", last_code(phone_number))
    page.locator(SUBMIT).click()
    page.wait_for_url(re.compile(r"/me$"))


def test_a_friend_follows_a_share_link_joins_with_a_phone_code_and_lands_on_their_page_in_zh_hant(
        phone, memberday_client, screenshot):
    ada = memberday_client.post("/api/v1/members", json={"name": "Ada", "phone": new_phone()}).get_json()
    code = memberday_client.get(f"/api/v1/members/{ada['id']}/referral", headers=bearer(ada["token"])).get_json()["code"]
    page = phone("zh-TW")
    page.goto(f"/r/{code}")
    assert page.url.endswith(f"/r/{code}/join")
    assert page.get_attribute("html", "lang") == "zh-Hant"
    screenshot(page, "join-zh-Hant")
    number = new_phone()
    page.get_by_label(re.compile("名字|姓名")).fill("Bo")  # the page is in Chinese: no English label
    page.fill("#phone", number)
    page.locator(SUBMIT).click()
    page.wait_for_url(re.compile(r"/me/login/code$"))
    screenshot(page, "code-zh-Hant")
    enter_code(page, number)
    assert page.get_attribute("html", "lang") == "zh-Hant"
    assert "Bo" in page.locator("h1").inner_text()
    screenshot(page, "me-zh-Hant")


def test_a_member_signs_out_and_back_in_with_a_code(phone, member, screenshot):
    page = phone("en")
    page.goto("/me/login")
    screenshot(page, "login-en")
    page.fill("#phone", member["phone"])
    page.locator(SUBMIT).click()
    enter_code(page, member["phone"])
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/$"))
    page.goto("/me")
    assert page.url.endswith("/me/login")  # signed out on the server
    page.fill("#phone", member["phone"])
    page.locator(SUBMIT).click()
    enter_code(page, member["phone"])
    assert "Test Member" in page.locator("h1").inner_text()


@pytest.mark.parametrize("locale", ["zh-CN", "en"])
def test_a_member_redeems_a_mall_item_after_confirming_and_sees_the_voucher(
        locale, phone, member, memberday_client, operator_token, screenshot):
    admin = bearer(operator_token)
    assert memberday_client.post(f"/api/v1/members/{member['id']}/points", headers=admin,
                                 json={"points": 500, "reason": "Welcome gift"}).status_code == 201
    latte, bag = ITEMS[locale]
    item = memberday_client.post("/api/v1/mall/items", headers=admin, json={
        "name": latte, "points_cost": 120, "voucher_codes": ["LATTE-7Q2M"]}).get_json()
    memberday_client.post("/api/v1/mall/items", headers=admin, json={"name": bag, "points_cost": 900})
    page = phone(locale)
    page.goto("/me/login")
    page.fill("#phone", member["phone"])
    page.locator(SUBMIT).click()
    enter_code(page, member["phone"])
    language = LANGUAGES[locale]
    screenshot(page, f"me-{language}")
    page.goto("/me/mall")
    assert page.get_attribute("html", "lang") == language
    screenshot(page, f"mall-{language}")
    page.locator(f"a[href='/me/mall/{item['id']}']").click()
    page.wait_for_url(re.compile(rf"/me/mall/{item['id']}$"))
    screenshot(page, f"mall-confirm-{language}")
    page.locator(SUBMIT).click()
    page.wait_for_url(re.compile(r"/me/mall/vouchers/\d+$"))
    assert "LATTE-7Q2M" in page.content()
    screenshot(page, f"voucher-{language}")
    balance = memberday_client.get(f"/api/v1/members/{member['id']}", headers=admin).get_json()["points_balance"]
    assert balance == 380


@pytest.mark.parametrize("locale", ["zh-TW", "zh-CN", "en"])
def test_coupons_show_a_qr_code_and_a_barcode_for_the_till(locale, phone, member, memberday_app, screenshot):
    from core.rewards import services as rewards

    with memberday_app.app_context():
        template = rewards.create_template(COOKIE[locale], channel="any", valid_days=30)
        coupon = rewards.issue_coupon(member["id"], template.id).code
        rewards.credit(member["id"], 1200, GIFT[locale], "test:welcome")
    page = phone(locale)
    page.goto("/me/login")
    page.fill("#phone", member["phone"])
    page.locator(SUBMIT).click()
    enter_code(page, member["phone"])
    page.goto("/me/coupons")
    assert page.get_attribute("html", "lang") == LANGUAGES[locale]
    for kind in ("qr", "barcode"):
        image = page.locator(f"img[src='/me/coupons/{coupon}/{kind}.svg']")
        image.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert image.get_attribute("alt")
    screenshot(page, f"coupons-{LANGUAGES[locale]}")
    page.goto("/me/points")
    assert GIFT[locale] in page.content()
    screenshot(page, f"points-{LANGUAGES[locale]}")
