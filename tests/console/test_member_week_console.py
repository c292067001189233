"""Member week console pages: schedule, change and cancel a week through the generated form; the plan
accepted; the report with its uplift chart against the holdout, and its CSV."""
from __future__ import annotations

import html
import json
import re
from datetime import datetime, timedelta, timezone
from decimal import Decimal

TAIPEI = timezone(timedelta(hours=8))
START = datetime(2031, 3, 10, tzinfo=TAIPEI)


def week_id_of(response) -> int:
    return int(re.search(r"/console/member_week/weeks/(\d+)", response.headers["Location"]).group(1))


def test_a_week_is_scheduled_changed_and_cancelled_from_the_console(console):
    page = console.get("/console/member_week/weeks/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for field in ("name", "starts_at", "ends_at", "points_multiplier", "holdout_percent", "audience", "benefits"):
        assert f'data-field="{field}"' in html
    assert 'data-field="holdout_seed"' not in html

    too_long = console.post("/console/member_week/weeks/new", {
        "name": "Too long", "starts_at": "2031-05-01T00:00", "ends_at": "2031-05-30T00:00", "holdout_percent": "10",
        "audience": "{}", "benefits": "[]"})
    assert too_long.status_code == 400 and 'class="field-error"' in too_long.get_data(as_text=True)

    created = console.post("/console/member_week/weeks/new", {
        "name": "May member week", "starts_at": "2031-05-01T00:00", "ends_at": "2031-05-08T00:00",
        "points_multiplier": "2", "holdout_percent": "10", "audience": '{"stages": ["active"]}',
        "benefits": '[{"title": "Bonus", "kind": "points", "points": 50}]', "keyword": "MAY"})
    assert created.status_code == 303, created.get_data(as_text=True)
    week_id = week_id_of(created)
    listed = console.get("/console/member_week/").get_data(as_text=True)
    assert f'data-week="{week_id}"' in listed and 'data-status="scheduled"' in listed

    overlapping = console.post("/console/member_week/weeks/new", {
        "name": "Clash", "starts_at": "2031-05-03T00:00", "ends_at": "2031-05-06T00:00", "holdout_percent": "10",
        "audience": "{}", "benefits": "[]"})
    assert overlapping.status_code == 409 and "“May member week”" in overlapping.get_data(as_text=True)

    edit = console.get(f"/console/member_week/weeks/{week_id}/edit").get_data(as_text=True)
    assert 'value="May member week"' in edit and "2031-05-01T00:00" in edit
    changed = console.post(f"/console/member_week/weeks/{week_id}/edit", {
        "name": "May week", "starts_at": "2031-05-01T00:00", "ends_at": "2031-05-08T00:00", "points_multiplier": "3",
        "holdout_percent": "10", "audience": '{"stages": ["active"]}', "keyword": "MAY",
        "benefits": '[{"title": "Bonus", "kind": "points", "points": 50}]'})
    assert changed.status_code == 303

    api = console.http.get(f"/api/v1/member-weeks/{week_id}",
                           headers={"Authorization": f"Bearer {console.operator['token']}"}).get_json()
    assert api["name"] == "May week" and Decimal(api["points_multiplier"]) == 3
    assert api["starts_at"].startswith("2031-05-01T00:00:00+08:00") and api["benefits"][0]["points"] == 50

    assert console.post(f"/console/member_week/weeks/{week_id}/cancel").status_code == 303
    again = console.post(f"/console/member_week/weeks/{week_id}/cancel", follow_redirects=True)
    assert "already cancelled" in again.get_data(as_text=True)
    api = console.http.get(f"/api/v1/member-weeks/{week_id}",
                           headers={"Authorization": f"Bearer {console.operator['token']}"}).get_json()
    assert api["status"] == "cancelled"


def test_a_promotion_is_added_and_the_plan_proposal_accepted(console):
    day = (datetime.now(TAIPEI) + timedelta(days=75)).date()
    assert console.post("/console/member_week/promotions", {
        "name": "Big sale", "starts_at": f"{day}T00:00", "ends_at": f"{day + timedelta(days=1)}T00:00"}
    ).status_code == 303
    assert "Big sale" in console.get("/console/member_week/").get_data(as_text=True)
    plan = console.get("/console/member_week/plan").get_data(as_text=True)
    row = next(row for row in re.findall(r'<tr data-month="[^"]+">.*?</tr>', plan, re.S) if "Big sale" in row)
    fields = {name: html.unescape(value) for name, value in
              re.findall(r'name="(starts_at|ends_at|announce_at|promotion_id|name)"[^>]*?value="([^"]*)"', row)}
    assert fields["name"] and fields["promotion_id"]
    accepted = console.post("/console/member_week/plan/accept", fields)
    assert accepted.status_code == 303 and accepted.headers["Location"].endswith("/edit")
    plan = console.get("/console/member_week/plan").get_data(as_text=True)
    row = next(row for row in re.findall(r'<tr data-month="[^"]+">.*?</tr>', plan, re.S) if "Big sale" in row)
    assert re.search(r"/console/member_week/weeks/\d+", row) and 'data-action="accept"' not in row


def test_the_report_shows_the_uplift_against_the_holdout_with_its_interval_and_a_csv(console):
    from core.members.services import create_member
    from core.orders.services import report_paid_order
    from plugins.member_week import services

    app = console.app
    with app.app_context():
        ids = [create_member(f"Week member {n}")[0].id for n in range(40)]
        week = services.create_week({"name": "Spring week", "starts_at": START, "ends_at": START + timedelta(days=7),
                                     "announce_at": START - timedelta(days=3), "holdout_percent": 50,
                                     "holdout_seed": "console-test", "audience": {}, "benefits": []},
                                    now=START - timedelta(days=10))
        week_id = week.id
        services.tick(now=START - timedelta(days=3))
        services.tick(now=START)
        held = {i for i in ids if services.holdout_bucket("console-test", i) < 5000}
        # Three in four participants buy in the window, one in four of the holdout.
        for n, member_id in enumerate(ids):
            if (member_id in held and n % 4 == 0) or (member_id not in held and n % 4 != 0):
                report_paid_order(f"W-{member_id}", member_id, Decimal("100"), START + timedelta(days=1))
    page = console.get(f"/console/member_week/weeks/{week_id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    chart = json.loads(re.search(r'<script type="application/json" id="uplift-chart">(.*?)</script>', html,
                                 re.S).group(1))
    box = next(series for series in chart["series"] if series["type"] == "boxplot")
    low, _, uplift, _, high = box["data"][0]
    assert low < uplift < high and uplift > 0
    assert 'data-figure="uplift"' in html

    csv = console.get(f"/console/member_week/weeks/{week_id}/report.csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    rows = dict(line.split(",", 1) for line in csv.get_data(as_text=True).splitlines()[1:])
    assert float(rows["uplift.conversion_rate"]) * 100 == uplift
    assert int(rows["participants"]) + int(rows["held_out"]) == 40
    assert console.post(f"/console/member_week/weeks/{week_id}/report/refresh").status_code == 303


def test_member_week_pages_leave_with_the_plugin(console):
    headers = {"Authorization": f"Bearer {console.operator['token']}"}
    assert "/console/member_week/" in console.get("/console/").get_data(as_text=True)
    assert console.http.patch("/api/v1/plugins/member_week", json={"enabled": False},
                              headers=headers).status_code == 200
    assert console.get("/console/member_week/").status_code == 404
    assert "/console/member_week/" not in console.get("/console/").get_data(as_text=True)
