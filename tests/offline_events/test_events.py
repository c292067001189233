"""Events as operators make them: windows with defaults, keywords unique among open events, cancellation."""
from datetime import datetime, timedelta, timezone

from core.testing import run_concurrently
from events_helpers import inbox, sign_up


def test_an_event_has_default_windows_and_is_listed_with_seats_left(memberday_client, new_event, admin):
    starts = datetime(2031, 5, 1, 11, 0, tzinfo=timezone.utc)
    event = new_event(starts_at=starts, capacity=30)

    assert event["checkin_opens_at"] == "2031-05-01T17:00:00+08:00"  # two hours before the start, Taipei time
    assert event["checkin_closes_at"] == "2031-05-01T22:00:00+08:00"
    assert event["signup_closes_at"] == "2031-05-01T19:00:00+08:00"
    listed = memberday_client.get("/api/v1/events").get_json()["items"]
    assert [(item["id"], item["seats_left"]) for item in listed] == [(event["id"], 30)]
    assert "audience" not in listed[0] and "attendance_points" not in listed[0]


def test_bad_events_are_refused_with_the_field_named(memberday_client, admin, coupon_template):
    starts = datetime.now(timezone.utc) + timedelta(days=3)
    good = {"title": "Party", "capacity": 10, "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat()}
    cases = [
        ({"ends_at": (starts - timedelta(hours=1)).isoformat()}, "ends_at"),
        ({"capacity": -1}, "capacity"),
        ({"capacity": "lots"}, "capacity"),
        ({"starts_at": "tomorrow"}, "starts_at"),
        ({"starts_at": "2031-05-01T10:00:00"}, "starts_at"),
        ({"coupon_keyword": "精粉節"}, "coupon_template_id"),
        ({"coupon_keyword": "精粉節", "coupon_template_id": 999999}, "coupon_template_id"),
        ({"signup_keyword": "報名", "coupon_keyword": "報名", "coupon_template_id": coupon_template()},
         "coupon_keyword"),
        ({"audience": {"tiers": ["diamond"]}}, "audience"),
        ({"signup_closes_at": (starts + timedelta(hours=5)).isoformat()}, "signup_closes_at"),
    ]
    for change, field in cases:
        response = memberday_client.post("/api/v1/events", json=dict(good, **change), headers=admin)
        assert response.status_code == 400, (change, response.get_json())
        assert field in response.get_json()["error"]["fields"], (change, response.get_json())
    assert memberday_client.get("/api/v1/events?all=true", headers=admin).get_json()["total"] == 0


def test_only_operators_create_and_change_events(memberday_client, new_event, new_member, staff):
    event = new_event()
    member = new_member()
    body = {"title": "Mine", "capacity": 1, "starts_at": "2031-01-01T10:00:00+08:00",
            "ends_at": "2031-01-01T12:00:00+08:00"}

    assert memberday_client.post("/api/v1/events", json=body).status_code == 401
    assert memberday_client.post("/api/v1/events", json=body, headers=member["headers"]).status_code == 403
    assert memberday_client.post("/api/v1/events", json=body, headers=staff).status_code == 403
    assert memberday_client.patch(f"/api/v1/events/{event['id']}", json={"capacity": 5},
                                  headers=staff).status_code == 403
    assert memberday_client.get(f"/api/v1/events/{event['id']}/report", headers=staff).status_code == 403


def test_a_keyword_is_unique_among_open_events(memberday_client, new_event, admin, coupon_template):
    template = coupon_template()
    first = new_event(signup_keyword="報名", coupon_keyword="精粉節", coupon_template_id=template)
    starts = datetime.now(timezone.utc) + timedelta(days=5)
    body = {"title": "Second party", "capacity": 5, "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat()}

    for keyword in ("報名", " 報名 ", "精粉節"):
        taken = memberday_client.post("/api/v1/events", json=dict(body, signup_keyword=keyword), headers=admin)
        assert taken.status_code == 409 and taken.get_json()["error"]["code"] == "keyword_taken"
    latin = new_event(signup_keyword="JOIN")
    again = memberday_client.post("/api/v1/events", json=dict(body, signup_keyword="ｊｏｉｎ"), headers=admin)
    assert again.status_code == 409
    patch = memberday_client.patch(f"/api/v1/events/{latin['id']}", json={"signup_keyword": "報名"}, headers=admin)
    assert patch.status_code == 409 and patch.get_json()["error"]["code"] == "keyword_taken"

    # Cancelled, the first event lets its keywords go.
    assert memberday_client.post(f"/api/v1/events/{first['id']}/cancel", headers=admin).status_code == 200
    reused = memberday_client.post("/api/v1/events", json=dict(body, signup_keyword="報名"), headers=admin)
    assert reused.status_code == 201


def test_an_event_that_is_over_gives_its_keyword_up(memberday_app, memberday_client, admin):
    from plugins.offline_events import services

    past = datetime.now(timezone.utc) - timedelta(days=10)
    with memberday_app.app_context():
        services.create_event({"title": "Last month", "capacity": 5, "starts_at": past,
                               "ends_at": past + timedelta(hours=2), "signup_keyword": "報名"},
                              now=past - timedelta(days=5))
    starts = datetime.now(timezone.utc) + timedelta(days=5)
    response = memberday_client.post("/api/v1/events", headers=admin, json={
        "title": "This month", "capacity": 5, "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=2)).isoformat(), "signup_keyword": "報名"})
    assert response.status_code == 201


def test_two_events_claiming_one_keyword_at_once_get_it_once(memberday_app, admin):
    starts = datetime.now(timezone.utc) + timedelta(days=5)

    def create(index):
        return memberday_app.test_client().post("/api/v1/events", headers=admin, json={
            "title": f"Party {index}", "capacity": 5, "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(), "signup_keyword": "報名"}).status_code

    statuses = run_concurrently(create, 8)

    assert sorted(statuses) == [201] + [409] * 7


def test_cancelling_an_event_cancels_and_tells_every_registrant(memberday_client, new_event, new_member, admin):
    event = new_event(capacity=1)
    seated, waiting = new_member(), new_member()
    sign_up(memberday_client, event["id"], seated)
    sign_up(memberday_client, event["id"], waiting)

    response = memberday_client.post(f"/api/v1/events/{event['id']}/cancel", headers=admin)

    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    assert response.get_json()["counts"] == {"cancelled": 2}
    for member in (seated, waiting):
        notes = inbox(memberday_client, member)
        assert len(notes) == 2 and notes[0]["title"].startswith("Cancelled")
    assert memberday_client.get(f"/api/v1/events/{event['id']}").status_code == 404
    again = memberday_client.post(f"/api/v1/events/{event['id']}/cancel", headers=admin)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_cancelled"
    change = memberday_client.patch(f"/api/v1/events/{event['id']}", json={"capacity": 3}, headers=admin)
    assert change.status_code == 409 and change.get_json()["error"]["code"] == "event_cancelled"
