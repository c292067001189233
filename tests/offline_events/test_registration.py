"""Signing up: a seat while there is one, then the waitlist in arrival order; a cancellation seats the
first in line and tells them. Under real concurrency on PostgreSQL, capacity is never exceeded."""
from collections import Counter
from datetime import datetime, timedelta, timezone

from core.testing import bearer, run_concurrently
from events_helpers import inbox, sign_up


def test_a_member_signs_up_and_gets_a_ticket(memberday_client, new_event, new_member):
    event = new_event(capacity=2)
    member = new_member()

    response = sign_up(memberday_client, event["id"], member)

    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "confirmed" and body["waitlist_position"] is None
    assert len(body["ticket_code"]) >= 20
    assert body["ticket_url"].endswith(f"/t/{body['ticket_code']}")
    assert body["ticket_qr_url"].endswith(f"/t/{body['ticket_code']}/qr.png")
    listed = memberday_client.get(f"/api/v1/events/{event['id']}").get_json()
    assert listed["seats_left"] == 1
    notes = inbox(memberday_client, member)
    assert len(notes) == 1 and body["ticket_url"] in notes[0]["body"]


def test_the_same_member_again_gets_the_same_registration(memberday_client, new_event, new_member, admin):
    event = new_event()
    member = new_member()
    first = sign_up(memberday_client, event["id"], member).get_json()

    again = sign_up(memberday_client, event["id"], member)
    by_operator = sign_up(memberday_client, event["id"], member, headers=admin)

    assert again.status_code == 200 and by_operator.status_code == 200
    assert again.get_json()["id"] == by_operator.get_json()["id"] == first["id"]
    assert again.get_json()["ticket_code"] == first["ticket_code"]
    assert memberday_client.get(f"/api/v1/events/{event['id']}").get_json()["seats_left"] == 49


def test_a_member_token_signs_up_only_its_own_member(memberday_client, new_event, new_member):
    event = new_event()
    alice, bob = new_member(), new_member()

    response = sign_up(memberday_client, event["id"], bob, headers=alice["headers"])

    assert response.status_code == 403
    assert memberday_client.post(f"/api/v1/events/{event['id']}/registrations",
                                 json={"member_id": bob["id"]}).status_code == 401


def test_sign_up_outside_the_window_is_closed(memberday_client, new_event, new_member):
    now = datetime.now(timezone.utc)
    later = new_event(signup_opens_at=(now + timedelta(hours=2)).isoformat())
    closed = new_event(signup_opens_at=(now - timedelta(hours=5)).isoformat(),
                       signup_closes_at=(now - timedelta(hours=1)).isoformat())
    member = new_member()

    for event in (later, closed):
        response = sign_up(memberday_client, event["id"], member)
        assert response.status_code == 409
        assert response.get_json()["error"]["code"] == "signup_closed"


def test_a_member_outside_the_audience_is_not_eligible(memberday_client, new_event, new_member):
    event = new_event(audience={"tiers": ["gold", "platinum"]})
    silver, gold = new_member(tier="silver"), new_member(tier="gold")

    refused = sign_up(memberday_client, event["id"], silver)
    accepted = sign_up(memberday_client, event["id"], gold)

    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "not_eligible"
    assert accepted.status_code == 201
    listed = memberday_client.get("/api/v1/events", headers=silver["headers"]).get_json()["items"]
    assert event["id"] not in [item["id"] for item in listed]
    assert event["id"] in [item["id"] for item in
                           memberday_client.get("/api/v1/events", headers=gold["headers"]).get_json()["items"]]


def test_cancelling_a_seat_confirms_the_first_waitlisted_member_and_tells_them(memberday_client, new_event,
                                                                               new_member):
    event = new_event(capacity=1)
    seated, first, second = new_member(), new_member(), new_member()
    seat = sign_up(memberday_client, event["id"], seated).get_json()
    waiting = [sign_up(memberday_client, event["id"], member).get_json() for member in (first, second)]
    assert [(w["status"], w["waitlist_position"]) for w in waiting] == [("waitlisted", 1), ("waitlisted", 2)]

    cancelled = memberday_client.post(f"/api/v1/registrations/{seat['id']}/cancel", headers=seated["headers"])

    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    promoted = memberday_client.get(f"/api/v1/registrations/{waiting[0]['id']}", headers=first["headers"])
    assert promoted.get_json()["status"] == "confirmed"
    still = memberday_client.get(f"/api/v1/registrations/{waiting[1]['id']}", headers=second["headers"])
    assert still.get_json()["waitlist_position"] == 1
    notes = inbox(memberday_client, first)
    assert len(notes) == 2 and waiting[0]["ticket_code"] in notes[0]["body"]
    assert "seat" in notes[0]["title"] and "waitlist" in notes[1]["title"].lower()
    assert len(inbox(memberday_client, second)) == 1

    again = memberday_client.post(f"/api/v1/registrations/{seat['id']}/cancel", headers=seated["headers"])
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_cancelled"


def test_a_member_cannot_cancel_someone_elses_registration(memberday_client, new_event, new_member):
    event = new_event()
    alice, bob = new_member(), new_member()
    registration = sign_up(memberday_client, event["id"], alice).get_json()

    response = memberday_client.post(f"/api/v1/registrations/{registration['id']}/cancel", headers=bob["headers"])

    assert response.status_code == 404


def test_raising_the_capacity_seats_the_waitlist_in_order(memberday_client, new_event, new_member, admin):
    event = new_event(capacity=1)
    members = [new_member() for _ in range(4)]
    registrations = [sign_up(memberday_client, event["id"], member).get_json() for member in members]

    lowered = memberday_client.patch(f"/api/v1/events/{event['id']}", json={"capacity": 0}, headers=admin)
    assert lowered.status_code == 409 and lowered.get_json()["error"]["code"] == "capacity_below_confirmed"
    raised = memberday_client.patch(f"/api/v1/events/{event['id']}", json={"capacity": 3}, headers=admin)

    assert raised.status_code == 200 and raised.get_json()["seats_left"] == 0
    statuses = [memberday_client.get(f"/api/v1/registrations/{r['id']}", headers=admin).get_json()["status"]
                for r in registrations]
    assert statuses == ["confirmed", "confirmed", "confirmed", "waitlisted"]


def test_200_concurrent_sign_ups_for_50_seats(memberday_app, memberday_client, new_event, new_member, admin):
    event = new_event(capacity=50)
    members = [new_member() for _ in range(200)]

    def call(index):
        client = memberday_app.test_client()
        response = sign_up(client, event["id"], members[index])
        return response.status_code, response.get_json()

    results = run_concurrently(call, 200)

    assert {status for status, _ in results} == {201}
    statuses = Counter(body["status"] for _, body in results)
    assert statuses == {"confirmed": 50, "waitlisted": 150}
    positions = sorted(body["waitlist_position"] for _, body in results if body["status"] == "waitlisted")
    assert positions == list(range(1, 151))
    assert len({body["ticket_code"] for _, body in results}) == 200
    listed = memberday_client.get(f"/api/v1/events/{event['id']}/registrations?status=waitlisted&per_page=200",
                                  headers=admin).get_json()
    assert sorted(item["waitlist_position"] for item in listed["items"]) == list(range(1, 151))

    # One cancellation promotes exactly one: the first in line.
    seated = next(body for _, body in results if body["status"] == "confirmed")
    first_in_line = next(body for _, body in results if body.get("waitlist_position") == 1)
    owner = next(m for m in members if m["id"] == seated["member_id"])
    assert memberday_client.post(f"/api/v1/registrations/{seated['id']}/cancel",
                                 headers=owner["headers"]).status_code == 200
    after = memberday_client.get(f"/api/v1/events/{event['id']}", headers=admin).get_json()
    assert after["counts"] == {"confirmed": 50, "waitlisted": 149, "cancelled": 1}
    assert memberday_client.get(f"/api/v1/registrations/{first_in_line['id']}",
                                headers=admin).get_json()["status"] == "confirmed"
    waiting = memberday_client.get(f"/api/v1/events/{event['id']}/registrations?status=waitlisted&per_page=200",
                                   headers=admin).get_json()["items"]
    assert sorted(item["waitlist_position"] for item in waiting) == list(range(1, 150))


def test_concurrent_cancellations_of_different_seats_promote_one_each(memberday_app, memberday_client, new_event,
                                                                      new_member, admin):
    event = new_event(capacity=10)
    members = [new_member() for _ in range(16)]
    registrations = [sign_up(memberday_client, event["id"], member).get_json() for member in members]

    def cancel(index):
        client = memberday_app.test_client()
        return client.post(f"/api/v1/registrations/{registrations[index]['id']}/cancel",
                           headers=members[index]["headers"]).status_code

    assert run_concurrently(cancel, 4) == [200] * 4

    after = memberday_client.get(f"/api/v1/events/{event['id']}", headers=admin).get_json()
    assert after["counts"] == {"confirmed": 10, "waitlisted": 2, "cancelled": 4}
    statuses = [memberday_client.get(f"/api/v1/registrations/{r['id']}", headers=admin).get_json()["status"]
                for r in registrations[10:]]
    assert statuses == ["confirmed"] * 4 + ["waitlisted"] * 2


def test_same_idempotency_key_signs_up_once_and_answers_the_same(memberday_app, new_event, new_member):
    event = new_event(capacity=5)
    member = new_member()
    headers = dict(member["headers"], **{"Idempotency-Key": "tap-42"})

    def call(_):
        response = sign_up(memberday_app.test_client(), event["id"], member, headers=headers)
        return response.status_code, response.get_json()

    results = run_concurrently(call, 8)

    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1


def test_a_waitlisted_member_sees_their_place_in_their_list(memberday_client, new_event, new_member):
    event = new_event(capacity=0)
    member = new_member()
    sign_up(memberday_client, event["id"], member)

    mine = memberday_client.get(f"/api/v1/members/{member['id']}/registrations", headers=member["headers"])

    assert mine.status_code == 200
    assert [(r["status"], r["waitlist_position"]) for r in mine.get_json()["items"]] == [("waitlisted", 1)]
    other = memberday_client.get(f"/api/v1/members/{member['id'] + 1}/registrations", headers=member["headers"])
    assert other.status_code == 403
