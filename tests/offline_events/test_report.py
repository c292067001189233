"""The report: the funnel from sign-up to the door, and attendees against no-shows in the online shop."""
from datetime import datetime, timedelta, timezone

from events_helpers import sign_up


def test_report_counts_the_funnel_and_follows_attendees_and_no_shows_online(memberday_app, memberday_client,
                                                                            admin, new_member):
    from plugins.offline_events import services

    starts = datetime.now(timezone.utc) - timedelta(days=20)
    with memberday_app.app_context():
        event = services.create_event({"title": "Autumn party", "capacity": 4, "starts_at": starts,
                                       "ends_at": starts + timedelta(hours=3), "attendance_points": 10},
                                      now=starts - timedelta(days=10))
        event_id = event.id
    members = [new_member() for _ in range(6)]
    with memberday_app.app_context():
        registrations = [services.register(event_id, m["id"], now=starts - timedelta(days=5))[0].id
                         for m in members]
        services.cancel_registration(registrations[3], now=starts - timedelta(days=2))  # seats members[4]
        for index in (0, 1, 4):
            services.check_in(event_id, f"door-{index}", registration_id=registrations[index],
                              now=starts + timedelta(minutes=10))

    def order(member, external_id, amount, paid_at):
        response = memberday_client.post("/api/v1/orders", headers=admin, json={
            "external_id": external_id, "member_id": member["id"], "amount": amount, "paid_at": paid_at.isoformat()})
        assert response.status_code == 201, response.get_json()

    order(members[0], "A-1", "300.00", starts + timedelta(days=2))
    order(members[0], "A-2", "100.00", starts + timedelta(days=9))
    order(members[1], "A-3", "80.50", starts + timedelta(days=40))   # after the 30 days: not counted
    order(members[2], "N-1", "50.00", starts + timedelta(days=3))    # a no-show who still bought
    order(members[4], "A-4", "999.00", starts - timedelta(days=1))   # before the event: not counted
    order(members[1], "A-5", "120.00", starts + timedelta(days=5))
    assert memberday_client.post("/api/v1/orders/A-5/refund", headers=admin).status_code == 200

    response = memberday_client.get(f"/api/v1/events/{event_id}/report", headers=admin)

    assert response.status_code == 200
    report = response.get_json()
    assert {key: report[key] for key in ("registered", "confirmed", "waitlisted", "cancelled", "checked_in",
                                         "no_shows")} == {"registered": 6, "confirmed": 4, "waitlisted": 1,
                                                          "cancelled": 1, "checked_in": 3, "no_shows": 1}
    assert report["attendance_rate"] == 0.75
    assert report["attendees_online"] == {"members": 3, "ordered_within_30_days": 1, "conversion_rate": 0.3333,
                                          "orders": 2, "revenue": "400.00", "aov": "200.00"}
    assert report["absentees_online"] == {"members": 1, "ordered_within_30_days": 1, "conversion_rate": 1.0,
                                          "orders": 1, "revenue": "50.00", "aov": "50.00"}
