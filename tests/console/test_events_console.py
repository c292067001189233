"""Offline events in the console: the events' pages, and the door scanner checking tickets in, offline too."""
from __future__ import annotations

from datetime import timedelta

from core.database import utcnow
from core.testing import bearer


def make_event(console, **changes):
    now = utcnow()
    body = {"title": "Fan party", "venue": "Taipei", "capacity": 10,
            "starts_at": (now + timedelta(hours=1)).isoformat(), "ends_at": (now + timedelta(hours=4)).isoformat(),
            "signup_opens_at": (now - timedelta(days=1)).isoformat(),
            "signup_closes_at": (now + timedelta(minutes=30)).isoformat(), "attendance_points": 50}
    body.update(changes)
    response = console.http.post("/api/v1/events", headers=bearer(console.operator["token"]), json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def register(console, event_id, name):
    member = console.http.post("/api/v1/members", json={"name": name}).get_json()
    response = console.http.post(f"/api/v1/events/{event_id}/registrations",
                                 headers=bearer(console.operator["token"]), json={"member_id": member["id"]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_the_door_checks_a_ticket_in_once_and_the_event_page_counts_it(console, staff_console):
    event = make_event(console)
    ticket = register(console, event["id"], "Mia")
    assert "Fan party" in staff_console.get("/console/offline_events/scan").get_data(as_text=True)
    first = staff_console.post_json(f"/console/offline_events/scan/{event['id']}/checkin",
                                    {"ticket": ticket["ticket_url"], "nonce": "door-1"})
    assert first.status_code == 201 and first.get_json()["status"] == "ok"
    again = staff_console.post_json(f"/console/offline_events/scan/{event['id']}/checkin",
                                    {"ticket": ticket["ticket_code"], "nonce": "door-2"})
    assert again.status_code == 409 and again.get_json()["reason"] == "already_redeemed"
    assert staff_console.get(f"/console/offline_events/{event['id']}").status_code == 403
    live = console.get(f"/console/offline_events/{event['id']}/live").get_json()
    assert live == {"checked_in": 1, "expected": 1}
    assert "Mia" in console.get(f"/console/offline_events/{event['id']}").get_data(as_text=True)


def test_scans_kept_offline_are_uploaded_in_one_batch(console, staff_console):
    event = make_event(console)
    one, two = register(console, event["id"], "One"), register(console, event["id"], "Two")
    listed = staff_console.get(f"/console/offline_events/scan/{event['id']}/list").get_json()
    assert {item["name"] for item in listed["items"]} == {"One", "Two"}
    assert "phone" not in str(listed) and "ticket_code" not in str(listed)
    scans = [{"ticket": one["ticket_code"], "nonce": "n1", "scanned_at": utcnow().isoformat()},
             {"ticket": two["ticket_code"], "nonce": "n2", "scanned_at": utcnow().isoformat()},
             {"ticket": one["ticket_code"], "nonce": "n3", "scanned_at": utcnow().isoformat()}]
    answer = staff_console.post_json(f"/console/offline_events/scan/{event['id']}/batch", {"items": scans})
    assert answer.status_code == 200
    assert [item.get("reason", item["status"]) for item in answer.get_json()["items"]] == ["ok", "ok", "already_redeemed"]
    retried = staff_console.post_json(f"/console/offline_events/scan/{event['id']}/batch", {"items": scans})
    assert retried.get_json() == answer.get_json()
    bad = staff_console.post_json(f"/console/offline_events/scan/{event['id']}/batch", {"items": "nope"})
    assert bad.status_code == 400
