"""The fan party's door on a staff phone: pictures of members' ticket QR codes checked in once, a
second scan refused, scans kept on the phone while the connection is gone and uploaded after;
and the organiser's event page counting them."""
from __future__ import annotations

import re
from datetime import timedelta
from io import BytesIO

from playwright.sync_api import expect

from core.database import utcnow
from core.testing import bearer
from browser_steps import in_language


def ticket_photo(memberday_client, ticket_code: str, path):
    """A photo-like picture of the ticket's QR code as the member's phone shows it (/t/CODE/qr.png)."""
    from PIL import Image

    image = memberday_client.get(f"/t/{ticket_code}/qr.png")
    assert image.status_code == 200 and image.mimetype == "image/png"
    qr = Image.open(BytesIO(image.get_data())).convert("RGB")
    photo = Image.new("RGB", (qr.width + 200, qr.height + 300), (190, 200, 214))
    photo.paste(qr, (100, 150))
    photo.save(path)
    return path


def test_staff_check_tickets_in_at_the_door_online_and_offline(
        phone, admin, console_sign_in, memberday_app, memberday_client, operator_token, tmp_path, screenshot):
    now = utcnow()
    event = memberday_client.post("/api/v1/events", headers=bearer(operator_token), json={
        "title": "粉絲見面會", "venue": "信義門市", "capacity": 10, "starts_at": (now + timedelta(hours=1)).isoformat(),
        "ends_at": (now + timedelta(hours=4)).isoformat(), "signup_opens_at": (now - timedelta(days=1)).isoformat(),
        "signup_closes_at": (now + timedelta(minutes=30)).isoformat()}).get_json()
    tickets = {}
    for name in ("小美", "阿傑"):
        member = memberday_client.post("/api/v1/members", json={"name": name}).get_json()
        answer = memberday_client.post(f"/api/v1/events/{event['id']}/registrations", headers=bearer(operator_token),
                                       json={"member_id": member["id"]})
        assert answer.status_code == 201, answer.get_json()
        tickets[name] = ticket_photo(memberday_client, answer.get_json()["ticket_code"], tmp_path / f"{name}.png")

    def says(message: str) -> str:
        return in_language(memberday_app, "zh_Hant", message)

    page = phone("zh-TW")
    console_sign_in(page, "門市 3")
    page.wait_for_url(re.compile(r"/console/scan$"))
    page.goto("/console/offline_events/scan")
    expect(page.locator("#door-event")).to_contain_text("粉絲見面會")
    expect(page.locator("#door-list-state")).to_have_text(says("Guest list saved on this phone for offline use."))
    headline, detail, result = page.locator("#scan-headline"), page.locator("#scan-detail"), page.locator("#scan-result")
    photo_input = page.get_by_label(says("Photo or image"))

    with page.expect_request(re.compile(r"/console/offline_events/scan/\d+/checkin$")) as sent:
        photo_input.set_input_files(tickets["小美"])
    first_nonce = sent.value.post_data_json["nonce"]
    expect(headline).to_have_text(says("Checked in"))
    expect(detail).to_have_text("小美")
    expect(result).to_have_class(re.compile(r"\bok\b"))
    screenshot(page, "door-checked-in")

    with page.expect_request(re.compile(r"/checkin$")) as sent:
        photo_input.set_input_files(tickets["小美"])  # the same ticket again: a new scan, refused
    assert sent.value.post_data_json["nonce"] != first_nonce
    expect(headline).to_have_text(says("Already checked in"))
    expect(result).to_have_class(re.compile(r"\bbad\b"))

    # The connection drops: the phone answers from the guest list it saved and keeps the scan.
    page.context.set_offline(True)
    photo_input.set_input_files(tickets["阿傑"])
    expect(headline).to_have_text(says("Checked in (offline)"))
    expect(page.locator("#door-queued")).to_have_text("1")
    live = memberday_client.get(f"/api/v1/events/{event['id']}/registrations", headers=bearer(operator_token))
    assert sorted(item["status"] for item in live.get_json()["items"]) == ["checked_in", "confirmed"]

    page.context.set_offline(False)
    with page.expect_response(re.compile(r"/batch$")) as uploaded:
        page.locator("#door-upload").click()
    assert uploaded.value.status == 200
    expect(headline).to_have_text(says("Uploaded"))
    expect(page.locator("#door-queued")).to_have_text("0")
    statuses = memberday_client.get(f"/api/v1/events/{event['id']}/registrations", headers=bearer(operator_token))
    assert sorted(item["status"] for item in statuses.get_json()["items"]) == ["checked_in", "checked_in"]

    # The organiser's event page shows both at the door.
    organiser = phone("zh-TW")
    console_sign_in(organiser, admin)
    organiser.goto(f"/console/offline_events/{event['id']}")
    expect(organiser.locator("main")).to_contain_text("小美")
    expect(organiser.locator("main")).to_contain_text("阿傑")
    figures = organiser.evaluate(f"fetch('/console/offline_events/{event['id']}/live').then(r => r.json())")
    assert figures == {"checked_in": 2, "expected": 2}
