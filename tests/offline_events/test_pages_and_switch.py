"""The member's side: the ticket page and its QR image, the sign-up button on the member page; the
plugin switched off and on again; the demo data."""
import io
import uuid
from datetime import datetime, timedelta, timezone

from PIL import Image
from sqlalchemy import func, select

from core.testing import csrf_token, sign_in_browser
from events_helpers import message, scan, sign_up


def test_the_ticket_page_shows_the_qr_inline_and_the_qr_image_holds_only_the_code(memberday_client, new_event,
                                                                                   new_member):
    event = new_event(venue="Da'an store")
    member = new_member(name="Ya-Ting Lin")
    ticket = sign_up(memberday_client, event["id"], member).get_json()

    page = memberday_client.get(f"/t/{ticket['ticket_code']}")
    image = memberday_client.get(f"/t/{ticket['ticket_code']}/qr.png")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'src="data:image/png;base64,' in html  # a saved page or a screenshot still scans
    assert "Ya-Ting Lin" in html and event["title"] in html and "Da&#39;an store" in html
    assert 'name="viewport"' in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "no-cache" in page.headers["Cache-Control"]
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert Image.open(io.BytesIO(image.data)).size[0] >= 200
    from plugins.offline_events.services import qr_png

    assert image.data == qr_png(ticket["ticket_code"])


def test_unknown_tickets_are_a_404_page(memberday_client):
    for path in ("/t/AAAAAAAAAAAAAAAAAAAAAA", "/t/nope", "/t/AAAAAAAAAAAAAAAAAAAAAA/qr.png", "/t/%00%01",
                 "/t/" + "x" * 80, "/e/999999", "/e/1/join"):
        response = memberday_client.get(path)
        assert response.status_code == 404, path


def test_a_waitlisted_ticket_page_shows_the_place_not_a_qr(memberday_client, new_event, new_member):
    event = new_event(capacity=0)
    ticket = sign_up(memberday_client, event["id"], new_member()).get_json()

    html = memberday_client.get(f"/t/{ticket['ticket_code']}").get_data(as_text=True)

    assert "data:image/png" not in html and "waitlist" in html.lower()


def test_a_member_signs_up_with_the_button_on_their_page(memberday_client, new_event, new_member):
    event = new_event(title="Winter fan party")
    member = new_member()
    sign_in_browser(memberday_client, member)

    page = memberday_client.get("/me").get_data(as_text=True)
    assert "Winter fan party" in page and f"/e/{event['id']}/register" in page
    assert memberday_client.post(f"/e/{event['id']}/register").status_code == 400  # no CSRF token

    response = memberday_client.post(f"/e/{event['id']}/register", data={"csrf_token": csrf_token(memberday_client,
                                                                                                  "/me")})

    assert response.status_code == 303 and "/t/" in response.headers["Location"]
    after = memberday_client.get("/me").get_data(as_text=True)
    assert "Show my ticket" in after and f"/e/{event['id']}/register" not in after
    registrations = memberday_client.get(f"/api/v1/members/{member['id']}/registrations",
                                         headers=member["headers"]).get_json()["items"]
    assert [(r["event_id"], r["channel"]) for r in registrations] == [(event["id"], "page")]


def test_switched_off_routes_and_keywords_do_nothing_and_on_again_all_is_as_before(
        memberday_client, admin, staff, new_event, new_member, coupon_template):
    starts = datetime.now(timezone.utc) + timedelta(minutes=30)
    event = new_event(starts_at=starts, signup_keyword="報名", attendance_points=30,
                      coupon_keyword="精粉節", coupon_template_id=coupon_template())
    member = new_member(openid="wx-switch")
    ticket = sign_up(memberday_client, event["id"], member).get_json()

    assert memberday_client.patch("/api/v1/plugins/offline_events", json={"enabled": False},
                                  headers=admin).status_code == 200

    assert memberday_client.get("/api/v1/events").status_code == 404
    assert memberday_client.get(f"/api/v1/events/{event['id']}", headers=admin).status_code == 404
    assert sign_up(memberday_client, event["id"], new_member()).status_code == 404
    assert scan(memberday_client, staff, event["id"], ticket["ticket_code"]).status_code == 404
    assert memberday_client.get(f"/t/{ticket['ticket_code']}").status_code == 404
    assert memberday_client.get(f"/e/{event['id']}").status_code == 404
    assert message(memberday_client, admin, "wx-switch", "報名") is None
    assert message(memberday_client, admin, "wx-switch", "精粉節") is None
    sign_in_browser(memberday_client, member)
    assert "<h2>Events</h2>" not in memberday_client.get("/me").get_data(as_text=True)

    assert memberday_client.patch("/api/v1/plugins/offline_events", json={"enabled": True},
                                  headers=admin).status_code == 200

    assert memberday_client.get(f"/t/{ticket['ticket_code']}").status_code == 200
    assert ticket["ticket_url"] in message(memberday_client, admin, "wx-switch", "報名")
    coupon_reply = message(memberday_client, admin, "wx-switch", "精粉節")
    assert coupon_reply is not None and coupon_reply.split()[-1] in memberday_client.get("/me").get_data(as_text=True)
    checked = scan(memberday_client, staff, event["id"], ticket["ticket_code"], uuid.uuid4().hex)
    assert checked.status_code == 201 and checked.get_json()["granted"]["points"] == 30
    assert "<h2>Events</h2>" in memberday_client.get("/me").get_data(as_text=True)


def test_demo_seeds_a_past_party_with_check_ins_and_an_open_one_with_keywords(memberday_app, memberday_client):
    from core.demo import seed
    from core.extensions import db
    from plugins.offline_events.models import CheckIn, OfflineEvent
    from plugins.offline_events.services import keyword_event, report

    with memberday_app.app_context():
        seed()
        events = db.session.scalars(select(OfflineEvent).order_by(OfflineEvent.id)).all()
        assert len(events) == 2
        assert db.session.scalar(select(func.count()).select_from(CheckIn)) >= 3
        assert keyword_event("報名")[0].id == events[1].id
        assert report(events[0].id)["checked_in"] >= 3
