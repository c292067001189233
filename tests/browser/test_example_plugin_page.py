"""A third-party plugin's own member page on a phone, in zh-Hant, zh-Hans and en: the example
``birthday_gift`` plugin, reached from the member's page, refusing a day that does not exist in
the member's language and keeping the one they choose."""
from __future__ import annotations

import re

import pytest

from core.testing import bearer
from browser_steps import LANGUAGES, SUBMIT, fits_the_screen, reads_in_its_language, signed_in_phone

NOT_A_DAY = {"zh-TW": "請選擇一個存在的日期。", "zh-CN": "请选择一个存在的日期。", "en": "Please choose a real day."}


@pytest.mark.parametrize("locale", list(LANGUAGES))
def test_a_member_tells_the_birthday_plugin_their_birthday(
        locale, phone, memberday_client, operator_token, switch_plugin, screenshot):
    switch_plugin("birthday_gift")
    page, member = signed_in_phone(phone, memberday_client, locale, "Mei")

    page.goto("/me")
    page.locator("a[href$='/birthday']").first.click()  # the plugin's section on the member's page
    page.wait_for_url(re.compile(r"/birthday$"))
    reads_in_its_language(page, locale, "Mei")
    assert fits_the_screen(page)

    page.fill("#month", "2")
    page.fill("#day", "30")
    page.locator(SUBMIT).click()
    page.wait_for_selector("p.error")
    assert page.locator("p.error").inner_text() == NOT_A_DAY[locale]
    reads_in_its_language(page, locale, "Mei")
    birthday_url = f"/api/v1/birthday-gift/members/{member['id']}/birthday"
    assert memberday_client.get(birthday_url, headers=bearer(operator_token)).status_code == 404  # nothing kept

    page.fill("#month", "7")
    page.fill("#day", "14")
    page.locator(SUBMIT).click()
    page.wait_for_selector("#birthday")
    assert page.locator("#birthday").inner_text() == "07-14"
    assert page.locator("#month").count() == 0  # set once: no form any more
    reads_in_its_language(page, locale, "Mei")
    assert fits_the_screen(page)
    screenshot(page, f"birthday-{LANGUAGES[locale]}")
    saved = memberday_client.get(birthday_url, headers=bearer(operator_token)).get_json()
    assert (saved["month"], saved["day"], saved["set_by"]) == (7, 14, "member"), saved
