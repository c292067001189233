"""The campaigns' own member pages on a phone, in zh-Hant, zh-Hans and en: signing up for a fan
party and showing the ticket, and claiming a member-week benefit."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from core.testing import bearer
from browser_steps import LANGUAGES, SUBMIT, fits_the_screen, reads_in_its_language, signed_in_phone

PARTY = {"zh-TW": ("粉絲見面會", "信義門市"), "zh-CN": ("粉丝见面会", "信义门店"), "en": ("Fan party", "Xinyi store")}
GIFT = {"zh-TW": "會員週咖啡券", "zh-CN": "会员周咖啡券", "en": "Member week coffee"}


@pytest.mark.parametrize("locale", list(LANGUAGES))
def test_a_member_signs_up_for_a_fan_party_and_opens_a_ticket_that_scans(
        locale, phone, memberday_client, operator_token, screenshot):
    title, venue = PARTY[locale]
    starts = datetime.now(timezone.utc) + timedelta(days=3)
    event = memberday_client.post("/api/v1/events", headers=bearer(operator_token), json={
        "title": title, "venue": venue, "capacity": 20, "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=3)).isoformat()}).get_json()
    page, member = signed_in_phone(phone, memberday_client, locale, "Mei")

    page.goto(f"/e/{event['id']}")
    reads_in_its_language(page, locale, "Mei")
    assert title in page.content() and venue in page.content()
    assert fits_the_screen(page)
    page.locator(SUBMIT).first.click()
    page.wait_for_url(re.compile(r"/t/[^/]+$"))
    reads_in_its_language(page, locale, "Mei")
    assert fits_the_screen(page)
    screenshot(page, f"ticket-{LANGUAGES[locale]}")

    # The ticket's QR is drawn (an inline image the browser decoded) and says the member's ticket code.
    qr = page.locator("img[src^='data:image/png']").first
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")
    tickets = memberday_client.get(f"/api/v1/events/{event['id']}/registrations",
                                   headers=bearer(operator_token)).get_json()["items"]
    assert [ticket["member_id"] for ticket in tickets] == [member["id"]]
    assert page.url.endswith("/t/" + tickets[0]["ticket_code"])

    # Back on the event page, the member is signed up: it offers the ticket, not the sign-up button.
    page.goto(f"/e/{event['id']}")
    reads_in_its_language(page, locale, "Mei")
    page.locator(f"a[href$='/t/{tickets[0]['ticket_code']}']").click()
    page.wait_for_url(re.compile(r"/t/[^/]+$"))
    assert page.url.endswith("/t/" + tickets[0]["ticket_code"])


@pytest.mark.parametrize("locale", list(LANGUAGES))
def test_a_member_claims_a_member_week_benefit_from_the_weeks_page(
        locale, phone, memberday_app, memberday_client, operator_token, screenshot):
    from plugins.member_week import services as weeks

    page, member = signed_in_phone(phone, memberday_client, locale, "Mei")
    template = memberday_client.post("/api/v1/coupon-templates", headers=bearer(operator_token), json={
        "title": GIFT[locale], "value": 60, "channel": "offline", "valid_days": 30}).get_json()
    now = datetime.now(timezone.utc)
    week = memberday_client.post("/api/v1/member-weeks", headers=bearer(operator_token), json={
        "name": GIFT[locale], "starts_at": (now - timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(days=6)).isoformat(), "points_multiplier": "2", "holdout_percent": 0,
        "benefits": [{"title": GIFT[locale], "kind": "coupon", "coupon_template_id": template["id"]}]}).get_json()
    with memberday_app.app_context():
        weeks.tick()  # announced and running: the audience is fixed, the member is in it

    assert "id" in week, week
    page.goto(f"/member-week/{week['id']}")
    reads_in_its_language(page, locale, "Mei")
    assert GIFT[locale] in page.content()
    assert fits_the_screen(page)
    page.locator(SUBMIT).first.click()
    page.wait_for_url(re.compile(rf"/member-week/{week['id']}\?claimed=ok$"))
    reads_in_its_language(page, locale, "Mei")
    screenshot(page, f"member-week-{LANGUAGES[locale]}")

    coupons = memberday_client.get(f"/api/v1/members/{member['id']}/coupons",
                                   headers=bearer(member["token"])).get_json()["items"]
    assert [coupon["title"] for coupon in coupons] == [GIFT[locale]]
    # Claimed: the page no longer offers the button, and the same form sent again claims nothing more.
    page.goto(f"/member-week/{week['id']}")
    assert page.locator(SUBMIT).count() == 0
    again = page.evaluate("""async ([url, benefit]) => {
        const token = document.querySelector("input[name=csrf_token]").value;
        const body = new URLSearchParams({csrf_token: token, benefit_id: benefit});
        const answer = await fetch(url, {method: "POST", body, redirect: "manual"});
        return answer.type === "opaqueredirect" || answer.status === 303;
    }""", [f"/member-week/{week['id']}/claim", str(week["benefits"][0]["id"])])
    assert again
    coupons = memberday_client.get(f"/api/v1/members/{member['id']}/coupons",
                                   headers=bearer(member["token"])).get_json()["items"]
    assert len(coupons) == 1
