"""The console's effects where people see them, in a real browser (Debian's Chromium) on a phone-sized screen:
a plugin switched off in the console disappears from a member's page; an operator imports a voucher-code file
and reads the counts; a staff member scans a coupon's QR code and sees it redeemed, then "already redeemed".
``MEMBERDAY_SCREENSHOTS=1`` saves the scanner's results to docs/screenshots/ for docs/console.md."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from core.testing import bearer
from browser_steps import in_language, member_signs_in

# The referral plugin's section of /me: the member's invitation QR code (/r/CODE/qr.svg).
REFERRAL_SECTION = "section.card:has(img[src$='/qr.svg'])"


def switch(page, plugin_id: str, state: str) -> None:
    """Flip ``plugin_id``'s switch on the console's plugins page and wait until it shows ``state`` (on/off)."""
    page.goto("/console/plugins")
    page.locator(f"#plugin-{plugin_id} [data-switch={plugin_id}]").click()
    expect(page.locator(f"#plugin-{plugin_id} [data-state={state}]")).to_have_count(1)


def test_switching_the_referral_plugin_off_in_the_console_removes_it_from_a_members_page(
        phone, admin, member, one_time_code, console_sign_in):
    member_page = phone("zh-TW")
    member_signs_in(member_page, member["phone"])
    referral = member_page.locator(REFERRAL_SECTION)
    expect(referral).to_have_count(1)
    expect(referral.locator("code")).not_to_be_empty()  # the member's own invitation code
    invitation_qr = referral.locator("img").get_attribute("src")
    assert member_page.request.get(invitation_qr).status == 200

    console = phone("zh-TW")
    console_sign_in(console, admin)
    console.wait_for_url(re.compile(r"/console/$"))
    switch(console, "referral", "off")
    member_page.reload()
    expect(member_page.locator("h1")).to_contain_text("Test Member")  # the page itself is still there
    expect(member_page.locator(REFERRAL_SECTION)).to_have_count(0)
    assert member_page.request.get(invitation_qr).status == 404  # the plugin's pages are gone too

    switch(console, "referral", "on")
    member_page.reload()
    expect(member_page.locator(REFERRAL_SECTION)).to_have_count(1)
    expect(member_page.locator(REFERRAL_SECTION).locator("img")).to_have_attribute("src", invitation_qr)
    assert member_page.request.get(invitation_qr).status == 200


def test_an_operator_imports_a_voucher_code_file_and_sees_the_counts(
        phone, admin, console_sign_in, memberday_app, tmp_path, screenshot):
    from plugins.points_mall import services as mall

    with memberday_app.app_context():
        item_id = mall.create_item({"name": "電影票", "points_cost": 800, "voucher_codes": ["CINEMA-0001"]}).id
    # A header row, three new codes, one already in the pool and one repeated in the file.
    upload = tmp_path / "cinema-codes.csv"
    upload.write_text("code\nCINEMA-0002\nCINEMA-0003\nCINEMA-0001\nCINEMA-0004\nCINEMA-0003\n", encoding="utf-8")

    page = phone("zh-TW")
    console_sign_in(page, admin)
    page.wait_for_url(re.compile(r"/console/$"))
    page.goto("/console/points_mall/")
    page.locator(f"a[href='/console/points_mall/items/{item_id}']").first.click()
    page.wait_for_url(re.compile(rf"/console/points_mall/items/{item_id}$"))
    expect(page.locator("[data-figure=codes-left]")).to_have_text("1")
    page.get_by_label(in_language(memberday_app, "zh_Hant", "CSV file")).set_input_files(upload)
    page.get_by_role("button", name=in_language(memberday_app, "zh_Hant", "Import"), exact=True).click()
    page.wait_for_url(re.compile(rf"/console/points_mall/items/{item_id}$"))
    expect(page.locator(".flash.ok")).to_have_text(in_language(
        memberday_app, "zh_Hant", "Imported %(imported)s codes; %(duplicates)s refused as duplicates; "
                                  "%(left)s available now.", imported=3, duplicates=2, left=4))
    expect(page.locator("[data-figure=codes-left]")).to_have_text("4")
    screenshot(page, "console-voucher-import")
    with memberday_app.app_context():
        from core.extensions import db

        codes = [voucher.code for voucher in db.session.scalars(mall.code_list(item_id))]
    assert sorted(codes) == ["CINEMA-0001", "CINEMA-0002", "CINEMA-0003", "CINEMA-0004"]


@pytest.fixture
def coupon_picture(memberday_app, member, tmp_path):
    """A coupon of the member's, valid in store, and a photo-like PNG of its QR code (as /me/coupons shows it)."""
    import qrcode
    from PIL import Image

    from core.rewards import services as rewards

    with memberday_app.app_context():
        template = rewards.create_template("免費拿鐵", channel="any", valid_days=30)
        code = rewards.issue_coupon(member["id"], template.id).code
    qr = qrcode.make(code, box_size=8, border=4).convert("RGB")
    photo = Image.new("RGB", (qr.width + 240, qr.height + 320), (214, 206, 190))  # the phone around the code
    photo.paste(qr, (120, 160))
    path = tmp_path / "coupon.png"
    photo.save(path)
    return code, path, photo


def test_staff_scan_a_coupon_picture_it_is_redeemed_and_a_second_scan_says_already_redeemed(
        phone, admin, console_sign_in, coupon_picture, memberday_app, memberday_client, operator_token, screenshot):
    code, picture, _ = coupon_picture
    page = phone("zh-TW")
    console_sign_in(page, "門市 3")
    page.wait_for_url(re.compile(r"/console/scan$"))
    result, headline = page.locator("#scan-result"), page.locator("#scan-headline")
    # The photo input is the camera's fallback; it is labelled for screen readers and phones.
    photo_input = page.get_by_label(in_language(memberday_app, "zh_Hant", "Photo or image"))
    expect(photo_input).to_have_attribute("type", "file")

    with page.expect_request(re.compile(r"/console/scan/redeem$")) as sent:
        photo_input.set_input_files(picture)
    request = sent.value
    # The page decoded the QR code itself and posted it with a fresh nonce as the Idempotency-Key.
    assert request.post_data_json == {"code": code}
    first_nonce = request.headers.get("idempotency-key")
    assert first_nonce
    expect(result).to_have_class(re.compile(r"\bok\b"))
    expect(headline).to_have_text(in_language(memberday_app, "zh_Hant", "Redeemed"))
    expect(page.locator("#scan-detail")).to_contain_text("免費拿鐵")
    screenshot(page, "console-scanner-redeemed")

    # Redeemed through the coupon service as the API does: the API sees it redeemed, at a till (offline).
    answer = memberday_client.get(f"/api/v1/coupons/{code}", headers=bearer(operator_token))
    assert answer.status_code == 200 and answer.get_json()["status"] == "redeemed"
    with memberday_app.app_context():
        from sqlalchemy import select

        from core.extensions import db
        from core.rewards.models import Coupon

        coupon = db.session.scalar(select(Coupon).where(Coupon.code == code))
        assert coupon.redeemed_channel == "offline" and coupon.redeemed_by

    # The same picture again: a new scan (a new nonce), refused with the reason, in red.
    with page.expect_request(re.compile(r"/console/scan/redeem$")) as sent:
        photo_input.set_input_files(picture)
    assert sent.value.headers.get("idempotency-key") not in (None, first_nonce)
    expect(result).to_have_class(re.compile(r"\bbad\b"))
    expect(headline).to_have_text(in_language(memberday_app, "zh_Hant", "Already redeemed"))
    expect(page.locator("#scan-detail")).to_contain_text("免費拿鐵")
    screenshot(page, "console-scanner-already-redeemed")


def test_staff_point_the_camera_at_a_coupon_it_is_redeemed_and_while_it_stays_in_view_already_redeemed(
        phone, admin, console_sign_in, coupon_picture, fake_camera, memberday_app, memberday_client, operator_token):
    code, _, photo = coupon_picture
    fake_camera(photo)  # Chromium's fake camera films the member's phone showing the coupon
    page = phone("zh-TW")
    console_sign_in(page, "門市 3")
    page.wait_for_url(re.compile(r"/console/scan$"))
    headline = page.locator("#scan-headline")
    with page.expect_request(re.compile(r"/console/scan/redeem$")) as sent:
        page.locator("#scan-camera").click()
    assert sent.value.post_data_json == {"code": code} and sent.value.headers.get("idempotency-key")
    expect(page.locator("#scan-video")).to_be_visible()
    expect(headline).to_have_text(in_language(memberday_app, "zh_Hant", "Redeemed"))
    answer = memberday_client.get(f"/api/v1/coupons/{code}", headers=bearer(operator_token))
    assert answer.get_json()["status"] == "redeemed"
    # The code is still in front of the camera: read again a moment later, it is refused, not redeemed twice.
    expect(headline).to_have_text(in_language(memberday_app, "zh_Hant", "Already redeemed"))
    expect(page.locator("#scan-result")).to_have_class(re.compile(r"\bbad\b"))
