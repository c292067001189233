"""The calendar: promotions, the planner, weeks that never overlap, and a status that follows time and jobs."""
from datetime import datetime, timedelta, timezone

from core.testing import run_concurrently
from week_helpers import TAIPEI, iso, week_row

START = datetime(2031, 3, 10, tzinfo=TAIPEI)


def test_a_week_gets_its_defaults_and_benefit_ids(new_week, coupon_template):
    template = coupon_template()
    week = new_week(starts_at="2031-03-10", ends_at="2031-03-16", points_multiplier="2.5",
                    benefits=[{"title": "Coffee", "kind": "coupon", "coupon_template_id": template, "stock": 100},
                              {"title": "Bonus", "kind": "points", "points": 150}])

    assert week["status"] == "scheduled"
    assert week["starts_at"] == "2031-03-10T00:00:00+08:00"
    assert week["ends_at"] == "2031-03-17T00:00:00+08:00"  # a plain end date includes that day
    assert week["announce_at"] == "2031-02-08T00:00:00+08:00"  # 30 days before
    assert week["holdout_percent"] == 10 and week["points_multiplier"] == "2.50"
    assert [(b["kind"], b["stock"]) for b in week["benefits"]] == [("coupon", 100), ("points", None)]
    assert all(isinstance(b["id"], int) for b in week["benefits"])


def test_bad_weeks_are_refused_with_the_field_named(memberday_client, admin):
    def post(**fields):
        body = {"name": "W", "starts_at": "2031-03-10", "ends_at": "2031-03-16", **fields}
        return memberday_client.post("/api/v1/member-weeks", json=body, headers=admin)

    assert "ends_at" in post(ends_at="2031-03-30").get_json()["error"]["fields"]  # 21 days
    assert "points_multiplier" in post(points_multiplier="10.5").get_json()["error"]["fields"]
    assert "holdout_percent" in post(holdout_percent=60).get_json()["error"]["fields"]
    assert "audience" in post(audience={"tiers": ["diamond"]}).get_json()["error"]["fields"]
    response = post(benefits=[{"title": "Coffee", "kind": "coupon"}])
    assert response.status_code == 400 and "benefits" in response.get_json()["error"]["fields"]
    response = post(benefits=[{"title": "Coffee", "kind": "coupon", "coupon_template_id": 999}])
    assert response.status_code == 400 and "benefits" in response.get_json()["error"]["fields"]
    assert post(starts_at="10 March").status_code == 400
    assert memberday_client.get("/api/v1/member-weeks", query_string={"status": "maybe"},
                                headers=admin).status_code == 400


def test_overlapping_weeks_are_refused(memberday_client, admin, new_week):
    first = new_week(starts_at="2031-03-10", ends_at="2031-03-16")

    response = memberday_client.post("/api/v1/member-weeks", headers=admin,
                                     json={"name": "Clash", "starts_at": "2031-03-16", "ends_at": "2031-03-20"})
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "overlapping_week"
    assert response.get_json()["error"]["week_id"] == first["id"]

    # Touching windows do not overlap: the first ends at the midnight the next one starts.
    assert new_week(starts_at="2031-03-17", ends_at="2031-03-20")["status"] == "scheduled"
    # A cancelled week frees its window.
    assert memberday_client.post(f"/api/v1/member-weeks/{first['id']}/cancel", headers=admin).status_code == 200
    assert new_week(starts_at="2031-03-12", ends_at="2031-03-14")["status"] == "scheduled"


def test_two_overlapping_weeks_created_at_once_one_wins(memberday_app, admin):
    def create(index):
        client = memberday_app.test_client()
        day = 10 + index % 3
        return client.post("/api/v1/member-weeks", headers=admin, json={
            "name": f"Race {index}", "starts_at": f"2031-05-{day:02d}", "ends_at": f"2031-05-{day + 5:02d}"})

    responses = run_concurrently(create, 8)

    assert sorted(r.status_code for r in responses) == [201] + [409] * 7
    assert {r.get_json()["error"]["code"] for r in responses if r.status_code == 409} == {"overlapping_week"}


def test_status_follows_time_and_jobs_not_requests(memberday_app, memberday_client, admin, new_week, tick):
    week = new_week(starts_at=iso(START), ends_at=iso(START + timedelta(days=7)),
                    announce_at=iso(START - timedelta(days=30)))
    status = lambda: memberday_client.get(f"/api/v1/member-weeks/{week['id']}", headers=admin).get_json()["status"]

    tick(START - timedelta(days=30, seconds=1))
    assert status() == "scheduled"
    tick(START - timedelta(days=30))
    assert status() == "announced"
    assert week_row(memberday_app, week["id"])["snapshot_at"] is not None
    tick(START - timedelta(seconds=1))
    assert status() == "announced"
    tick(START)
    assert status() == "running"
    tick(START + timedelta(days=7))
    assert status() == "ended"
    tick(START + timedelta(days=8))
    assert status() == "ended"


def test_a_late_tick_moves_a_week_through_every_step_it_missed(memberday_client, admin, new_week, tick):
    week = new_week(starts_at=iso(START), ends_at=iso(START + timedelta(days=3)))

    moved = tick(START + timedelta(days=4))

    assert moved["announced"] == moved["running"] == moved["ended"] == 1
    assert memberday_client.get(f"/api/v1/member-weeks/{week['id']}", headers=admin).get_json()["status"] == "ended"


def test_a_week_can_be_changed_until_it_starts_and_cancelled_until_it_ends(memberday_app, memberday_client,
                                                                           admin, new_week, tick):
    now = datetime.now(timezone.utc)
    later = new_week(starts_at=iso(now + timedelta(days=40)), ends_at=iso(now + timedelta(days=45)))
    path = f"/api/v1/member-weeks/{later['id']}"

    changed = memberday_client.patch(path, headers=admin, json={"name": "Spring week", "points_multiplier": "3"})
    assert changed.status_code == 200
    assert (changed.get_json()["name"], changed.get_json()["points_multiplier"]) == ("Spring week", "3.00")
    assert memberday_client.patch(path, headers=admin, json={}).status_code == 400
    no_kind = memberday_client.patch(path, headers=admin, json={"benefits": [{"title": "Coffee", "points": 1}]})
    assert no_kind.status_code == 400 and "benefits" in no_kind.get_json()["error"]["fields"]

    running = new_week(starts_at=iso(now - timedelta(hours=1)), ends_at=iso(now + timedelta(days=2)))
    tick()
    response = memberday_client.patch(f"/api/v1/member-weeks/{running['id']}", headers=admin, json={"name": "x"})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "already_started"

    assert memberday_client.post(f"/api/v1/member-weeks/{running['id']}/cancel", headers=admin).status_code == 200
    again = memberday_client.post(f"/api/v1/member-weeks/{running['id']}/cancel", headers=admin)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_cancelled"


def test_promotions_and_a_plan_around_them(memberday_client, admin, new_week, configure):
    configure(days_before_promotion=3, length_days=7, start_weekday=None)
    now = datetime.now(timezone.utc).astimezone(TAIPEI)
    first_of_next = (now.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    promo_day = first_of_next + timedelta(days=20)
    for name, start in (("Spring sale", promo_day), ("Second sale same month", promo_day + timedelta(days=2))):
        response = memberday_client.post("/api/v1/promotions", headers=admin, json={
            "name": name, "starts_at": iso(start), "ends_at": iso(start + timedelta(days=2))})
        assert response.status_code == 201
    assert len(memberday_client.get("/api/v1/promotions", headers=admin).get_json()["items"]) == 2

    plan = memberday_client.get("/api/v1/member-weeks/plan", query_string={"months": 3}, headers=admin)
    assert plan.status_code == 200
    items = plan.get_json()["items"]
    assert len(items) == 1  # at most one a month; a month without a promotion gets none without a weekday
    proposal = items[0]
    assert proposal["promotion"]["name"] == "Spring sale"
    assert proposal["ends_at"] == iso(promo_day - timedelta(days=3))
    assert proposal["starts_at"] == iso(promo_day - timedelta(days=10))
    assert proposal["overlaps_week_id"] is None
    # Nothing was created.
    assert memberday_client.get("/api/v1/member-weeks", headers=admin).get_json()["items"] == []

    week = new_week(starts_at=proposal["starts_at"], ends_at=proposal["ends_at"])
    again = memberday_client.get("/api/v1/member-weeks/plan", query_string={"months": 3}, headers=admin)
    assert again.get_json()["items"][0]["overlaps_week_id"] == week["id"]


def test_the_plan_starts_weeks_on_the_chosen_weekday_and_fills_months_without_a_promotion(
        memberday_client, admin, configure):
    configure(days_before_promotion=3, length_days=7, start_weekday="friday")

    items = memberday_client.get("/api/v1/member-weeks/plan", query_string={"months": 4},
                                 headers=admin).get_json()["items"]

    assert 3 <= len(items) <= 4  # this month's mid-month Friday may already be past
    for item in items:
        start = datetime.fromisoformat(item["starts_at"])
        assert start.weekday() == 4 and start.day >= 15 and (start.hour, start.minute) == (0, 0)
        assert datetime.fromisoformat(item["ends_at"]) - start == timedelta(days=7)
        assert item["promotion"] is None
    assert len({item["month"] for item in items}) == len(items)
    assert memberday_client.get("/api/v1/member-weeks/plan", query_string={"months": 0},
                                headers=admin).status_code == 400


def test_only_operators_manage_the_calendar(memberday_client, new_member):
    member = new_member()
    assert memberday_client.post("/api/v1/promotions", headers=member["headers"], json={
        "name": "x", "starts_at": "2031-01-01", "ends_at": "2031-01-02"}).status_code == 403
    assert memberday_client.get("/api/v1/member-weeks/plan", headers=member["headers"]).status_code == 403
    assert memberday_client.post("/api/v1/member-weeks", json={"name": "x"}).status_code in (400, 401)
