"""Scanning offline: the list a scanner keeps, and the batch it uploads later, each item answered
as a single check-in -- a ticket already let in online is ``already_redeemed`` and nothing is booked twice."""
import hashlib
import uuid
from datetime import datetime, timedelta, timezone

from events_helpers import balance, coupons, scan, sign_up


def _event(new_event, coupon_template, **fields):
    return new_event(starts_at=datetime.now(timezone.utc) + timedelta(minutes=30), attendance_points=50,
                     attendance_coupon_template_id=coupon_template(), **fields)


def test_the_checkin_list_holds_hashes_statuses_and_names_only(memberday_client, new_event, new_member, staff,
                                                               coupon_template):
    event = _event(new_event, coupon_template, capacity=1)
    seated = new_member(name="Ya-Ting Lin", phone="+886912000001", email="yating@example.com")
    waiting = new_member(name="Chih-Ming Chen", phone="+886912000002")
    seat = sign_up(memberday_client, event["id"], seated).get_json()
    sign_up(memberday_client, event["id"], waiting)
    scan(memberday_client, staff, event["id"], seat["ticket_code"])

    response = memberday_client.get(f"/api/v1/events/{event['id']}/checkin-list", headers=staff)

    assert response.status_code == 200
    body = response.get_json()
    assert body["hash"] == "sha256" and body["event"]["id"] == event["id"]
    assert [(item["name"], item["status"]) for item in body["items"]] == [("Ya-Ting Lin", "checked_in"),
                                                                          ("Chih-Ming Chen", "waitlisted")]
    assert body["items"][0]["ticket_hash"] == hashlib.sha256(seat["ticket_code"].encode()).hexdigest()
    text = response.get_data(as_text=True)
    for secret in (seat["ticket_code"], "+886912000001", "912000002", "yating@example.com"):
        assert secret not in text
    assert set(body["items"][0]) == {"registration_id", "ticket_hash", "status", "name"}


def test_the_checkin_list_is_for_staff(memberday_client, new_event, new_member, coupon_template):
    event = _event(new_event, coupon_template)
    member = new_member()
    assert memberday_client.get(f"/api/v1/events/{event['id']}/checkin-list").status_code == 401
    assert memberday_client.get(f"/api/v1/events/{event['id']}/checkin-list",
                                headers=member["headers"]).status_code == 403


def test_a_batch_repeating_an_online_check_in_books_nothing_twice(memberday_client, new_event, new_member, staff,
                                                                  coupon_template):
    event = _event(new_event, coupon_template)
    members = [new_member() for _ in range(3)]
    tickets = [sign_up(memberday_client, event["id"], member).get_json() for member in members]
    online = scan(memberday_client, staff, event["id"], tickets[0]["ticket_code"])
    assert online.status_code == 201
    scanned_at = datetime.now(timezone.utc) - timedelta(minutes=3)
    items = [{"ticket": ticket["ticket_code"], "nonce": uuid.uuid4().hex, "scanned_at": scanned_at.isoformat()}
             for ticket in tickets]
    items.append({"ticket": "not-a-ticket-at-all", "nonce": uuid.uuid4().hex, "scanned_at": scanned_at.isoformat()})
    body = {"event_id": event["id"], "items": items}

    response = memberday_client.post("/api/v1/checkins/batch", json=body, headers=staff)

    assert response.status_code == 200
    answers = response.get_json()["items"]
    assert [(a["status"], a.get("reason")) for a in answers] == [
        ("error", "already_redeemed"), ("ok", None), ("ok", None), ("error", "invalid")]
    assert [a["http_status"] for a in answers] == [409, 201, 201, 404]
    assert [a["nonce"] for a in answers] == [item["nonce"] for item in items]
    assert [balance(memberday_client, member) for member in members] == [50, 50, 50]
    assert [len(coupons(memberday_client, member)) for member in members] == [1, 1, 1]
    checked = memberday_client.get(f"/api/v1/registrations/{tickets[1]['id']}", headers=members[1]["headers"])
    assert checked.get_json()["checked_in_at"] == scanned_at.astimezone(
        datetime.fromisoformat(checked.get_json()["checked_in_at"]).tzinfo).isoformat()

    # The scanner lost the answer and uploads the whole batch again: the same answers, nothing booked.
    retried = memberday_client.post("/api/v1/checkins/batch", json=body, headers=staff)
    assert retried.status_code == 200 and retried.get_json()["items"] == answers
    assert [balance(memberday_client, member) for member in members] == [50, 50, 50]
    assert [len(coupons(memberday_client, member)) for member in members] == [1, 1, 1]


def test_an_offline_scan_is_judged_at_its_scan_time(memberday_app, memberday_client, new_event, new_member,
                                                    staff, coupon_template):
    event = _event(new_event, coupon_template)
    ticket = sign_up(memberday_client, event["id"], new_member()).get_json()
    before_window = datetime.fromisoformat(event["checkin_opens_at"]) - timedelta(minutes=1)

    response = memberday_client.post("/api/v1/checkins/batch", headers=staff, json={
        "event_id": event["id"], "items": [{"ticket": ticket["ticket_code"], "nonce": "early",
                                            "scanned_at": before_window.isoformat()}]})

    assert response.get_json()["items"][0]["reason"] == "not_open"


def test_bad_batches_are_refused_whole(memberday_client, new_event, staff, new_member, coupon_template):
    event = _event(new_event, coupon_template)
    member = new_member()
    good = {"ticket": "abc", "nonce": "n1"}
    for body in ({"event_id": event["id"]}, {"event_id": event["id"], "items": []},
                 {"event_id": event["id"], "items": [good, dict(good, ticket="def")]},
                 {"event_id": event["id"], "items": [{"ticket": "abc"}]},
                 {"event_id": event["id"], "items": [dict(good, scanned_at="yesterday")]},
                 {"event_id": event["id"], "items": [good] * 501},
                 {"event_id": event["id"], "items": "abc"}):
        response = memberday_client.post("/api/v1/checkins/batch", json=body, headers=staff)
        assert response.status_code == 400, (str(body)[:80], response.get_json())
    assert memberday_client.post("/api/v1/checkins/batch", headers=member["headers"], json={
        "event_id": event["id"], "items": [good]}).status_code == 403
