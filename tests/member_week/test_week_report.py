"""The report: every figure against a small fixture worked out by hand; refunds do not count."""
from datetime import datetime, timedelta

import pytest

from week_helpers import TAIPEI, iso, order

START = datetime(2031, 3, 10, tzinfo=TAIPEI)


def _seed_holding_out(app, member_ids: list[int], held: int) -> str:
    """A holdout seed under which exactly ``held`` of these members fall in a 50 % holdout."""
    from plugins.member_week.services import holdout_bucket

    for n in range(10_000):
        seed = f"fixture-{n}"
        if sum(holdout_bucket(seed, member_id) < 5000 for member_id in member_ids) == held:
            return seed
    raise AssertionError("no seed found")


@pytest.fixture
def worked_week(memberday_app, memberday_client, admin, new_member, new_week, tick):
    """Six participants and four held-out members with the history and window orders below.

    stage at snapshot   engaged   paid orders in the window
    P1 prospect         claim     200
    P2 prospect         -         100 + 50
    P3 prospect         page      (one after the window)
    P4 at_risk          -         300
    P5 at_risk          -         50
    P6 new              -         100, refunded
    H1 prospect                   80
    H2 prospect                   -
    H3 at_risk                    60
    H4 at_risk                    -
    """
    from plugins.member_week import services

    members = [new_member() for _ in range(10)]
    seed = _seed_holding_out(memberday_app, [m["id"] for m in members], 4)
    with memberday_app.app_context():
        held = [m for m in members if services.holdout_bucket(seed, m["id"]) < 5000]
    p = [m for m in members if m not in held]
    h = held
    history = START - timedelta(days=45)
    for n, member in enumerate([p[3], p[4], h[2], h[3]]):
        order(memberday_client, admin, f"OLD-{n}", member["id"], "100.00", paid_at=history)
    order(memberday_client, admin, "OLD-NEW", p[5]["id"], "100.00", paid_at=START - timedelta(days=10))

    week = new_week(starts_at=iso(START), ends_at=iso(START + timedelta(days=7)), holdout_percent=50,
                    holdout_seed=seed, announce_at=iso(START - timedelta(days=5)),
                    benefits=[{"title": "Bonus", "kind": "points", "points": 10}])
    tick(START - timedelta(days=5))
    tick(START)
    day = START + timedelta(days=1)
    with memberday_app.app_context():
        services.claim(week["id"], p[0]["id"], week["benefits"][0]["id"], now=day)
        assert services.record_engagement(week["id"], p[2]["id"], "page_visit", now=day)
        # Outside the window, or held out: not engagement.
        assert not services.record_engagement(week["id"], p[1]["id"], "page_visit", now=START - timedelta(hours=1))
        assert not services.record_engagement(week["id"], h[0]["id"], "page_visit", now=day)
    for external_id, member, amount in [("W-P1", p[0], "200.00"), ("W-P2a", p[1], "100.00"),
                                        ("W-P2b", p[1], "50.00"), ("W-P4", p[3], "300.00"),
                                        ("W-P5", p[4], "50.00"), ("W-P6", p[5], "100.00"),
                                        ("W-H1", h[0], "80.00"), ("W-H3", h[2], "60.00")]:
        order(memberday_client, admin, external_id, member["id"], amount, paid_at=day)
    order(memberday_client, admin, "AFTER-P3", p[2]["id"], "500.00", paid_at=START + timedelta(days=8))
    assert memberday_client.post("/api/v1/orders/W-P6/refund", headers=admin).status_code == 200
    tick(START + timedelta(days=7))
    return week


def test_the_report_matches_the_figures_worked_out_by_hand(memberday_client, admin, worked_week):
    response = memberday_client.get(f"/api/v1/member-weeks/{worked_week['id']}/report", headers=admin)
    assert response.status_code == 200
    report = response.get_json()

    assert report["participants"] == 6 and report["held_out"] == 4
    # engaged: P1 (converted, one order of 200) and P3 (no order in the window)
    assert report["engaged"] == {"members": 2, "conversion_rate": 0.5, "aov": "200.00"}
    # not engaged: P2, P4, P5 converted; P6's only order was refunded. 4 orders, 500 in all.
    assert report["not_engaged"] == {"members": 4, "conversion_rate": 0.75, "aov": "125.00"}
    # held out: H1 and H3 bought, 140 over 2 orders; 140 / 4 members
    assert report["holdout"] == {"members": 4, "conversion_rate": 0.5, "aov": "70.00",
                                 "revenue_per_member": "35.00"}
    # prospects P1, P2 converted of P1-P3; the held-out prospects H1, H2: one of two
    assert report["prospects"] == {"count": 3, "converted": 2, "conversion_rate": 0.666667, "baseline_rate": 0.5}
    # at risk P4, P5 both came back (1.0) against H3 of H3, H4 (0.5)
    assert report["at_risk"] == {"count": 2, "returned": 2, "activity_multiple": 2.0}

    uplift = report["uplift"]
    # 4/6 - 2/4; se = sqrt((2/3)(1/3)/6 + (1/2)(1/2)/4) = 0.315495; ± 1.959964 × se
    assert uplift["conversion_rate"] == pytest.approx(0.166667, abs=1e-6)
    assert uplift["conversion_rate_ci95"] == pytest.approx([-0.451692, 0.785025], abs=2e-6)
    # revenue per member: 700/6 - 140/4 = 81.67; s² = 14666.67 and 1700; se = 53.5672;
    # Welch ν = 6.559, t(0.975, ν) = 2.3972 → 81.67 ± 128.41
    assert uplift["revenue_per_member"] == "81.67"
    assert uplift["revenue_per_member_ci95"] == ["-46.75", "210.08"]
    assert report["computed_at"]


def test_the_report_is_stored_recomputed_on_demand_and_exported_as_csv(memberday_app, memberday_client, admin,
                                                                        worked_week, new_member):
    path = f"/api/v1/member-weeks/{worked_week['id']}/report"
    first = memberday_client.get(path, headers=admin).get_json()
    assert memberday_client.get(path, headers=admin).get_json()["computed_at"] == first["computed_at"]

    refreshed = memberday_client.post(path + "/refresh", headers=admin).get_json()
    assert refreshed["computed_at"] > first["computed_at"]
    assert {k: v for k, v in refreshed.items() if k != "computed_at"} == \
        {k: v for k, v in first.items() if k != "computed_at"}

    csv = memberday_client.get(path, query_string={"format": "csv"}, headers=admin)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    rows = dict(line.split(",", 1) for line in csv.get_data(as_text=True).strip().splitlines()[1:])
    assert rows["participants"] == "6" and rows["engaged.aov"] == "200.00"
    assert rows["uplift.revenue_per_member_ci95.low"] == "-46.75"
    assert rows["prospects.baseline_rate"] == "0.5"
    assert memberday_client.get(path, query_string={"format": "xls"}, headers=admin).status_code == 400
    member = new_member()
    assert memberday_client.get(path, headers=member["headers"]).status_code == 403


def test_the_periodic_job_recomputes_running_and_recently_ended_weeks(memberday_app, worked_week):
    from plugins.member_week import report

    with memberday_app.app_context():
        assert report.refresh_due(now=START + timedelta(days=8)) == 1
        assert report.refresh_due(now=START + timedelta(days=60)) == 0


def test_without_a_holdout_the_baseline_is_the_window_before(memberday_app, memberday_client, admin, new_member,
                                                              new_week, tick):
    early = [new_member() for _ in range(4)]      # prospects when the window before began
    bought_before = early[:1]                     # ... one of whom bought in it
    week = new_week(starts_at=iso(START), ends_at=iso(START + timedelta(days=7)), holdout_percent=0,
                    announce_at=iso(START - timedelta(days=20)))
    order(memberday_client, admin, "PRE-1", bought_before[0]["id"], "30.00", paid_at=START - timedelta(days=3))
    at_risk = new_member()
    order(memberday_client, admin, "RISK-OLD", at_risk["id"], "30.00", paid_at=START - timedelta(days=60))
    tick(START - timedelta(days=20))
    # at risk at the snapshot (40 days since their order), came back before the week and in it
    order(memberday_client, admin, "RISK-PRE", at_risk["id"], "30.00", paid_at=START - timedelta(days=2))
    order(memberday_client, admin, "RISK-IN", at_risk["id"], "30.00", paid_at=START + timedelta(days=2))
    order(memberday_client, admin, "IN-1", early[1]["id"], "30.00", paid_at=START + timedelta(days=1))
    tick(START + timedelta(days=7))

    with memberday_app.app_context():
        from plugins.member_week import report

        figures = report.compute(week["id"])
    assert figures["held_out"] == 0 and figures["participants"] == 5
    assert figures["prospects"]["baseline_rate"] == 0.25
    assert figures["at_risk"] == {"count": 1, "returned": 1, "activity_multiple": 1.0}
    assert figures["uplift"]["conversion_rate"] is None
