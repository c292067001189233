"""Who takes part: the audience snapshot, the holdout, what each member sees, earns and may claim."""
from datetime import datetime, timedelta

from week_helpers import TAIPEI, claim, iso, order, running_window, snapshot

START = datetime(2031, 3, 10, tzinfo=TAIPEI)


def test_audience_members_earn_the_multiplier_inside_the_window_and_others_see_nothing(
        memberday_app, memberday_client, admin, new_member, new_week, coupon_template, tick):
    gold = new_member(tier="gold", tags=["vip", "beauty"])
    gold_no_tag = new_member(tier="gold", tags=["vip"])
    silver = new_member(tier="silver", tags=["vip", "beauty"])
    starts, ends = running_window()
    week = new_week(starts_at=starts, ends_at=ends, points_multiplier="3", holdout_percent=0,
                    audience={"tiers": ["gold"], "tags_all": ["vip"], "tags_any": ["beauty", "coffee"]},
                    benefits=[{"title": "Lipstick", "kind": "coupon", "coupon_template_id": coupon_template()}])
    tick()
    assert set(snapshot(memberday_app, week["id"])) == {gold["id"]}
    benefit_id = week["benefits"][0]["id"]

    assert order(memberday_client, admin, "IN-1", gold["id"], "100.00")["points_earned"] == 300
    assert order(memberday_client, admin, "OUT-1", gold_no_tag["id"], "100.00")["points_earned"] == 100
    assert order(memberday_client, admin, "OUT-2", silver["id"], "100.00")["points_earned"] == 100

    listing = memberday_client.get("/api/v1/member-weeks", headers=gold["headers"]).get_json()
    assert [w["id"] for w in listing["items"]] == [week["id"]]
    for outsider in (gold_no_tag, silver):
        assert memberday_client.get("/api/v1/member-weeks", headers=outsider["headers"]).get_json()["items"] == []
        assert memberday_client.get(f"/api/v1/member-weeks/{week['id']}",
                                    headers=outsider["headers"]).status_code == 404
        assert memberday_client.get("/api/v1/member-weeks/current", headers=outsider["headers"]).status_code == 404
        refused = claim(memberday_client, outsider, week["id"], benefit_id)
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "not_eligible"
    # Anonymous callers see only weeks for every member.
    assert memberday_client.get("/api/v1/member-weeks").get_json()["items"] == []
    assert claim(memberday_client, gold, week["id"], benefit_id).status_code == 201


def test_held_out_members_see_nothing_earn_nothing_and_claim_nothing(
        memberday_app, memberday_client, admin, new_member, new_week, coupon_template, tick):
    members = [new_member(tags=["holdout-test"]) for _ in range(12)]
    starts, ends = running_window()
    week = new_week(starts_at=starts, ends_at=ends, points_multiplier="2", holdout_percent=50,
                    audience={"tags_all": ["holdout-test"]},
                    benefits=[{"title": "Coffee", "kind": "coupon", "coupon_template_id": coupon_template()}])
    tick()
    rows = snapshot(memberday_app, week["id"])
    held = [m for m in members if rows[m["id"]]["held_out"]]
    taking_part = [m for m in members if not rows[m["id"]]["held_out"]]
    assert held and taking_part

    from plugins.member_week.services import holdout_bucket

    seed = memberday_client.get(f"/api/v1/member-weeks/{week['id']}", headers=admin).get_json()["holdout_seed"]
    with memberday_app.app_context():
        # Anyone can recompute the holdout from the seed.
        assert all((holdout_bucket(seed, m["id"]) < 5000) == rows[m["id"]]["held_out"] for m in members)

    for n, member in enumerate(held):
        assert order(memberday_client, admin, f"HELD-{n}", member["id"], "50.00")["points_earned"] == 50
        assert memberday_client.get("/api/v1/member-weeks", headers=member["headers"]).get_json()["items"] == []
        refused = claim(memberday_client, member, week["id"], week["benefits"][0]["id"])
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "not_eligible"
    for n, member in enumerate(taking_part):
        assert order(memberday_client, admin, f"PART-{n}", member["id"], "50.00")["points_earned"] == 100
        current = memberday_client.get("/api/v1/member-weeks/current", headers=member["headers"]).get_json()
        assert current["id"] == week["id"] and current["status"] == "running"


def test_the_window_edges_are_the_brands_local_time(memberday_app, memberday_client, admin, new_member, new_week,
                                                     tick):
    member = new_member()
    week = new_week(starts_at="2031-03-10", ends_at="2031-03-16", points_multiplier="2", holdout_percent=0)
    tick(START - timedelta(days=1))
    assert member["id"] in snapshot(memberday_app, week["id"])
    end = START + timedelta(days=7)

    cases = [(START - timedelta(seconds=1), 100), (START, 200), (end - timedelta(seconds=1), 200), (end, 100)]
    for n, (paid_at, points) in enumerate(cases):
        earned = order(memberday_client, admin, f"EDGE-{n}", member["id"], "100.00", paid_at=paid_at)
        assert earned["points_earned"] == points, (paid_at, earned)


def test_a_refund_takes_back_exactly_what_the_multiplied_order_earned(memberday_client, admin, new_member,
                                                                       new_week, tick):
    member = new_member()
    starts, ends = running_window()
    new_week(starts_at=starts, ends_at=ends, points_multiplier="2.5", holdout_percent=0)
    tick()
    earned = order(memberday_client, admin, "REFUND-1", member["id"], "99.90")
    assert earned["points_earned"] == 247  # floor(99 × 2.5)
    order(memberday_client, admin, "KEEP-1", member["id"], "10.00")
    points = lambda: memberday_client.get(f"/api/v1/members/{member['id']}/points", headers=admin).get_json()
    assert points()["balance"] == 247 + 25

    assert memberday_client.post("/api/v1/orders/REFUND-1/refund", headers=admin).status_code == 200

    assert points()["balance"] == 25
    assert points()["items"][0]["points"] == -247


def test_members_who_join_after_the_announcement_are_not_in_the_week(memberday_client, admin, new_member,
                                                                       new_week, tick):
    starts, ends = running_window()
    new_week(starts_at=starts, ends_at=ends, points_multiplier="2", holdout_percent=0)
    tick()
    late = new_member()

    assert order(memberday_client, admin, "LATE-1", late["id"], "100.00")["points_earned"] == 100
    assert memberday_client.get("/api/v1/member-weeks", headers=late["headers"]).get_json()["items"] == []


def test_a_cancelled_week_stops_multiplying_at_once(memberday_client, admin, new_member, new_week, tick):
    member = new_member()
    starts, ends = running_window()
    week = new_week(starts_at=starts, ends_at=ends, points_multiplier="2", holdout_percent=0)
    tick()
    assert order(memberday_client, admin, "C-1", member["id"], "10.00")["points_earned"] == 20

    assert memberday_client.post(f"/api/v1/member-weeks/{week['id']}/cancel", headers=admin).status_code == 200

    assert order(memberday_client, admin, "C-2", member["id"], "10.00")["points_earned"] == 10
    assert memberday_client.get("/api/v1/member-weeks", headers=member["headers"]).get_json()["items"] == []
