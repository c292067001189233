"""Keywords through the core's message routing: 報名 signs a known member up and answers with the ticket
(or their waitlist place); a stranger gets a join link that brings them back to this sign-up; 精粉節 gives
the event's online coupon once per member."""
import re
from urllib.parse import urlsplit

from core.testing import csrf_token, run_concurrently
from events_helpers import coupons, message, sign_up


def _keyword_event(new_event, coupon_template, **fields):
    return new_event(signup_keyword="報名", coupon_keyword="精粉節",
                     coupon_template_id=coupon_template("精粉節 coupon", channel="online"), **fields)


def test_a_known_member_replying_the_keyword_is_signed_up_with_a_ticket_link(memberday_client, admin, new_event,
                                                                             new_member, coupon_template):
    event = _keyword_event(new_event, coupon_template, capacity=1)
    first, second = new_member(openid="wx-first"), new_member(openid="wx-second")

    seated = message(memberday_client, admin, "wx-first", "報名")
    waiting = message(memberday_client, admin, "wx-second", " 報名 ")

    mine = memberday_client.get(f"/api/v1/members/{first['id']}/registrations", headers=first["headers"])
    registration = mine.get_json()["items"][0]
    assert registration["status"] == "confirmed" and registration["channel"] == "keyword"
    assert registration["ticket_url"] in seated
    assert event["title"] in seated
    theirs = memberday_client.get(f"/api/v1/members/{second['id']}/registrations", headers=second["headers"])
    assert theirs.get_json()["items"][0]["status"] == "waitlisted"
    assert "1" in waiting and theirs.get_json()["items"][0]["ticket_url"] in waiting
    assert message(memberday_client, admin, "wx-first", "報名") == seated  # again: the same registration


def test_the_channel_retrying_a_message_signs_up_once(memberday_app, memberday_client, admin, new_event,
                                                     new_member, coupon_template):
    event = _keyword_event(new_event, coupon_template)
    member = new_member(openid="wx-retry")

    replies = run_concurrently(
        lambda _: message(memberday_app.test_client(), admin, "wx-retry", "報名", message_id="msg-1"), 5)

    assert len(set(replies)) == 1 and replies[0]
    listed = memberday_client.get(f"/api/v1/events/{event['id']}/registrations?count=exact", headers=admin).get_json()
    assert listed["total"] == 1 and listed["items"][0]["member_id"] == member["id"]


def test_the_coupon_keyword_gives_the_coupon_once(memberday_app, memberday_client, admin, new_event, new_member,
                                                  coupon_template):
    _keyword_event(new_event, coupon_template)
    member = new_member(openid="wx-coupon")

    first = message(memberday_client, admin, "wx-coupon", "精粉節")
    second = message(memberday_client, admin, "wx-coupon", "精粉節")
    at_once = run_concurrently(lambda i: message(memberday_app.test_client(), admin, "wx-coupon", "精粉節"), 6)

    issued = coupons(memberday_client, member)
    assert len(issued) == 1
    code = issued[0]["code"]
    assert code in first and code in second and all(code in reply for reply in at_once)
    assert first != second  # the second says they already have it


def test_a_stranger_gets_a_join_link_that_brings_them_back_to_this_sign_up(memberday_client, admin, new_event,
                                                                           coupon_template):
    event = _keyword_event(new_event, coupon_template)

    reply = message(memberday_client, admin, "wx-stranger", "報名")

    link = re.search(r"https?://\S+", reply).group(0)
    parts = urlsplit(link)
    assert parts.path == f"/e/{event['id']}/join"
    page = memberday_client.get(f"{parts.path}?{parts.query}")
    assert page.status_code == 200 and event["title"] in page.get_data(as_text=True)

    token = csrf_token(memberday_client, f"{parts.path}?{parts.query}")
    joined = memberday_client.post(f"{parts.path}?{parts.query}", data={"name": "New Fan", "phone": "0912345678",
                                                                       "csrf_token": token})

    assert joined.status_code == 303
    ticket_path = urlsplit(joined.headers["Location"]).path
    assert ticket_path.startswith("/t/")
    ticket_page = memberday_client.get(ticket_path).get_data(as_text=True)
    assert "New Fan" in ticket_page and event["title"] in ticket_page
    # The account is the chat's: the next keyword from the same sender is a known member's.
    again = message(memberday_client, admin, "wx-stranger", "報名")
    assert ticket_path in again
    # The link used again does not make a second account.
    second = memberday_client.post(f"{parts.path}?{parts.query}", data={"name": "Someone",
                                                                       "csrf_token": csrf_token(memberday_client)})
    assert second.status_code == 200 and "already a member" in second.get_data(as_text=True)
    assert memberday_client.get(f"/api/v1/events/{event['id']}/registrations?count=exact",
                                headers=admin).get_json()["total"] == 1


def test_a_forged_or_foreign_join_link_is_refused(memberday_client, admin, new_event, coupon_template):
    event = _keyword_event(new_event, coupon_template)
    other = new_event()
    link = re.search(r"https?://\S+", message(memberday_client, admin, "wx-x", "報名")).group(0)
    token = urlsplit(link).query.split("t=", 1)[1]

    form = {"name": "Mallory", "csrf_token": csrf_token(memberday_client)}
    forged = memberday_client.post(f"/e/{event['id']}/join?t={token[:-2]}xx", data=form)
    foreign = memberday_client.post(f"/e/{other['id']}/join?t={token}", data=form)

    assert forged.status_code == foreign.status_code == 400
    assert memberday_client.get("/api/v1/members?q=Mallory", headers=admin).get_json()["items"] == []


def test_keywords_of_an_event_that_is_cancelled_do_nothing(memberday_client, admin, new_event, new_member,
                                                           coupon_template):
    event = _keyword_event(new_event, coupon_template)
    new_member(openid="wx-late")
    memberday_client.post(f"/api/v1/events/{event['id']}/cancel", headers=admin)

    assert message(memberday_client, admin, "wx-late", "報名") is None
    assert message(memberday_client, admin, "wx-late", "精粉節") is None


def test_a_member_outside_the_audience_is_told_so(memberday_client, admin, new_event, new_member, coupon_template):
    _keyword_event(new_event, coupon_template, audience={"tiers": ["gold"]})
    member = new_member(openid="wx-silver", tier="silver")

    assert "not open" in message(memberday_client, admin, "wx-silver", "報名")
    assert "not open" in message(memberday_client, admin, "wx-silver", "精粉節")
    assert coupons(memberday_client, member) == []
