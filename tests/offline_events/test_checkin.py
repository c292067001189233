"""The door: one check-in per ticket however many scanners try at once, answers from a closed set,
the same nonce answered the same, and what a check-in grants given once and taken back once."""
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from core.testing import run_concurrently
from events_helpers import balance, coupons, scan, sign_up


def _door_event(new_event, coupon_template, **fields):
    """An event whose check-in is open now, granting 80 points and a drink coupon."""
    starts = datetime.now(timezone.utc) + timedelta(minutes=30)
    return new_event(starts_at=starts, attendance_points=80,
                     attendance_coupon_template_id=coupon_template("Party drink", channel="offline"), **fields)


def test_a_check_in_lets_the_ticket_in_and_grants_points_and_coupon(memberday_client, new_event, new_member,
                                                                    staff, coupon_template):
    event = _door_event(new_event, coupon_template)
    member = new_member(name="Ya-Ting Lin")
    ticket = sign_up(memberday_client, event["id"], member).get_json()

    response = scan(memberday_client, staff, event["id"], ticket["ticket_code"])

    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "ok" and body["name"] == "Ya-Ting Lin"
    assert (body["member_id"], body["registration_id"]) == (member["id"], ticket["id"])
    assert body["granted"]["points"] == 80
    assert [c["title"] for c in body["granted"]["coupons"]] == ["Party drink"]
    assert balance(memberday_client, member) == 80
    assert [c["code"] for c in coupons(memberday_client, member)] == [body["granted"]["coupons"][0]["code"]]
    ledger = memberday_client.get(f"/api/v1/members/{member['id']}/points", headers=member["headers"]).get_json()
    assert ledger["items"][0]["source"] == f"offline_events:registration:{ticket['id']}:attendance:1"
    mine = memberday_client.get(f"/api/v1/registrations/{ticket['id']}", headers=member["headers"]).get_json()
    assert mine["status"] == "checked_in"


def test_the_ticket_link_scans_as_well_as_the_code(memberday_client, new_event, new_member, staff,
                                                   coupon_template):
    event = _door_event(new_event, coupon_template)
    ticket = sign_up(memberday_client, event["id"], new_member()).get_json()

    assert scan(memberday_client, staff, event["id"], ticket["ticket_url"]).status_code == 201


def test_20_scanners_at_once_let_one_ticket_in_once(memberday_app, memberday_client, new_event, new_member,
                                                    staff, coupon_template):
    event = _door_event(new_event, coupon_template)
    member = new_member()
    ticket = sign_up(memberday_client, event["id"], member).get_json()
    nonces = [uuid.uuid4().hex for _ in range(20)]

    def call(index):
        response = scan(memberday_app.test_client(), staff, event["id"], ticket["ticket_code"], nonces[index])
        return response.status_code, response.get_json()

    results = run_concurrently(call, 20)

    assert Counter(status for status, _ in results) == {201: 1, 409: 19}
    assert {body["reason"] for status, body in results if status == 409} == {"already_redeemed"}
    assert balance(memberday_client, member) == 80
    assert len(coupons(memberday_client, member)) == 1

    # Every scanner retrying with its own nonce gets its first answer back, and nothing more is booked.
    for index in (0, 7, 19):
        retry = scan(memberday_client, staff, event["id"], ticket["ticket_code"], nonces[index])
        assert (retry.status_code, retry.get_json()) == results[index]
    assert balance(memberday_client, member) == 80
    assert len(coupons(memberday_client, member)) == 1


def test_the_same_nonce_at_once_is_answered_once(memberday_app, memberday_client, new_event, new_member, staff,
                                                 coupon_template):
    event = _door_event(new_event, coupon_template)
    member = new_member()
    ticket = sign_up(memberday_client, event["id"], member).get_json()

    def call(_):
        response = scan(memberday_app.test_client(), staff, event["id"], ticket["ticket_code"], "retry-me")
        return response.status_code, response.get_json()

    results = run_concurrently(call, 10)

    assert {status for status, _ in results} == {201}
    assert len({body["checkin_id"] for _, body in results}) == 1
    assert balance(memberday_client, member) == 80
    reused = scan(memberday_client, staff, event["id"], "some-other-ticket-text", "retry-me")
    assert reused.status_code == 409 and reused.get_json()["error"]["code"] == "nonce_reused"


def test_unusable_tickets_get_their_reason(memberday_app, memberday_client, new_event, new_member, staff,
                                           coupon_template):
    event = _door_event(new_event, coupon_template, capacity=1)
    other = _door_event(new_event, coupon_template)
    seated, waiting, leaving = new_member(), new_member(), new_member()
    seat = sign_up(memberday_client, event["id"], seated).get_json()
    wait = sign_up(memberday_client, event["id"], waiting).get_json()
    gone = sign_up(memberday_client, other["id"], leaving).get_json()
    memberday_client.post(f"/api/v1/registrations/{gone['id']}/cancel", headers=leaving["headers"])
    later = new_event(starts_at=datetime.now(timezone.utc) + timedelta(days=3))
    early = sign_up(memberday_client, later["id"], new_member()).get_json()

    answers = {
        "waitlisted": scan(memberday_client, staff, event["id"], wait["ticket_code"]),
        "canceled": scan(memberday_client, staff, other["id"], gone["ticket_code"]),
        "wrong_event": scan(memberday_client, staff, other["id"], seat["ticket_code"]),
        "not_open": scan(memberday_client, staff, later["id"], early["ticket_code"]),
    }
    for reason, response in answers.items():
        assert response.status_code == 409, (reason, response.get_json())
        assert response.get_json()["status"] == "error"
        assert response.get_json()["reason"] == reason
    assert answers["waitlisted"].get_json()["waitlist_position"] == 1
    assert balance(memberday_client, seated) == balance(memberday_client, waiting) == 0

    # The check-in window is checked at the scan's time: moved through the service's ``now``.
    from plugins.offline_events import services

    with memberday_app.app_context():
        starts = datetime.fromisoformat(later["starts_at"])
        too_late = services.check_in(later["id"], "late", ticket=early["ticket_code"], now=starts + timedelta(hours=4))
        in_time = services.check_in(later["id"], "in-time", ticket=early["ticket_code"],
                                    now=starts - timedelta(minutes=90))
    assert (too_late.status_code, too_late.body["reason"]) == (409, "not_open")
    assert (in_time.status_code, in_time.body["status"]) == (201, "ok")


def test_junk_is_invalid_and_never_a_500(memberday_client, new_event, staff, coupon_template):
    event = _door_event(new_event, coupon_template)
    for junk in ("nope", "x" * 500, "https://example.com/t/", "https://example.com/t/AAAAAAAAAAAAAAAAAAAAAA",
                 "'; DROP TABLE offline_events_registrations; --", "表情😀表情😀表情", "../../etc/passwd", "%00%00%00%00"):
        response = scan(memberday_client, staff, event["id"], junk)
        assert response.status_code == 404, (junk, response.get_json())
        assert response.get_json() == {"status": "error", "reason": "invalid", "nonce": response.get_json()["nonce"]}
    bad_bodies = [{}, {"event_id": event["id"]}, {"event_id": "one", "ticket": "x", "nonce": "n"},
                  {"event_id": event["id"], "ticket": "x"}, {"event_id": event["id"], "ticket": "", "nonce": "n"},
                  {"event_id": event["id"], "ticket": "x", "nonce": "n" * 101},
                  {"event_id": event["id"], "ticket": "x", "registration_id": 1, "nonce": "n"},
                  {"event_id": event["id"], "ticket": "a\x00b", "nonce": "n"},
                  {"event_id": 2**40, "ticket": "x", "nonce": "n"}, ["not", "an", "object"]]
    for body in bad_bodies:
        response = memberday_client.post("/api/v1/checkins", json=body, headers=staff)
        assert response.status_code == 400, (body, response.get_json())
    assert memberday_client.post("/api/v1/checkins", data="{", headers=dict(staff, **{
        "Content-Type": "application/json"})).status_code == 400


def test_a_member_token_cannot_check_anyone_in(memberday_client, new_event, new_member, coupon_template):
    event = _door_event(new_event, coupon_template)
    member = new_member()
    ticket = sign_up(memberday_client, event["id"], member).get_json()

    assert scan(memberday_client, member["headers"], event["id"], ticket["ticket_code"]).status_code == 403
    assert scan(memberday_client, {}, event["id"], ticket["ticket_code"]).status_code == 401
    assert memberday_client.get(f"/api/v1/registrations/{ticket['id']}",
                                headers=member["headers"]).get_json()["status"] == "confirmed"
    assert balance(memberday_client, member) == 0


def test_staff_find_a_registrant_by_name_or_phone_and_check_them_in(memberday_client, new_event, new_member,
                                                                    staff, coupon_template):
    event = _door_event(new_event, coupon_template)
    chen = new_member(name="陳志明 Chih-Ming Chen", phone="+886912000002")
    new_member_ids = [sign_up(memberday_client, event["id"], m).get_json()["id"]
                      for m in (chen, new_member(name="Someone Else"))]

    by_name = memberday_client.get(f"/api/v1/events/{event['id']}/registrations?q=志明", headers=staff).get_json()
    by_phone = memberday_client.get(f"/api/v1/events/{event['id']}/registrations?q=0002", headers=staff).get_json()

    assert [item["id"] for item in by_name["items"]] == [item["id"] for item in by_phone["items"]] == [new_member_ids[0]]
    found = by_name["items"][0]
    assert found["phone_ends_with"] == "0002" and "ticket_code" not in found
    response = memberday_client.post("/api/v1/checkins", headers=staff, json={
        "event_id": event["id"], "registration_id": found["id"], "nonce": uuid.uuid4().hex})
    assert response.status_code == 201 and response.get_json()["name"] == "陳志明 Chih-Ming Chen"
    assert balance(memberday_client, chen) == 80


def test_a_revert_takes_back_what_the_check_in_granted_once(memberday_app, memberday_client, new_event,
                                                            new_member, staff, admin, coupon_template):
    event = _door_event(new_event, coupon_template)
    member = new_member()
    ticket = sign_up(memberday_client, event["id"], member).get_json()
    checkin = scan(memberday_client, staff, event["id"], ticket["ticket_code"]).get_json()
    revert = f"/api/v1/checkins/{checkin['checkin_id']}/revert"

    assert memberday_client.post(revert, headers=staff).status_code == 403
    results = run_concurrently(lambda _: memberday_app.test_client().post(revert, headers=admin).status_code, 6)

    assert sorted(results) == [200] + [409] * 5
    assert balance(memberday_client, member) == 0
    assert [c["status"] for c in coupons(memberday_client, member)] == ["void"]
    record = memberday_client.post(revert, headers=admin)
    assert record.get_json()["error"]["code"] == "already_reverted"
    with memberday_app.app_context():
        from core.extensions import db
        from core.rewards.models import PointsEntry

        kinds = db.session.execute(select(PointsEntry.kind, func.sum(PointsEntry.points))
                                   .where(PointsEntry.member_id == member["id"])
                                   .group_by(PointsEntry.kind)).all()
    assert dict(kinds) == {"credit": 80, "reversal": -80}

    # The ticket is usable again; coming in again grants again, once.
    again = scan(memberday_client, staff, event["id"], ticket["ticket_code"])
    assert again.status_code == 201
    assert balance(memberday_client, member) == 80
    assert scan(memberday_client, staff, event["id"], ticket["ticket_code"]).get_json()["reason"] == "already_redeemed"


def test_a_checked_in_registration_cannot_be_cancelled(memberday_client, new_event, new_member, staff,
                                                       coupon_template):
    event = _door_event(new_event, coupon_template)
    member = new_member()
    ticket = sign_up(memberday_client, event["id"], member).get_json()
    scan(memberday_client, staff, event["id"], ticket["ticket_code"])

    response = memberday_client.post(f"/api/v1/registrations/{ticket['id']}/cancel", headers=member["headers"])

    assert response.status_code == 409 and response.get_json()["error"]["code"] == "already_checked_in"
