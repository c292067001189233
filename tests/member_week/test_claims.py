"""Claims under real concurrency on PostgreSQL: once per member and benefit, never past the stock."""
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from core.testing import run_concurrently
from week_helpers import claim, iso, running_window


def _coupons(app, member_id=None) -> int:
    from core.extensions import db
    from core.rewards.models import Coupon

    with app.app_context():
        query = select(func.count()).select_from(Coupon)
        if member_id is not None:
            query = query.where(Coupon.member_id == member_id)
        return db.session.scalar(query)


def test_twenty_concurrent_claims_by_one_member_give_one(memberday_app, new_member, new_week, coupon_template, tick):
    member = new_member()
    starts, ends = running_window()
    week = new_week(starts_at=starts, ends_at=ends, holdout_percent=0, benefits=[
        {"title": "Coffee", "kind": "coupon", "coupon_template_id": coupon_template(), "stock": 100}])
    tick()
    benefit_id = week["benefits"][0]["id"]

    responses = run_concurrently(lambda i: claim(memberday_app.test_client(), member, week["id"], benefit_id), 20)

    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 19}
    assert {r.get_json()["error"]["code"] for r in responses if r.status_code == 409} == {"already_claimed"}
    won = next(r.get_json() for r in responses if r.status_code == 201)
    assert won["kind"] == "coupon" and won["benefit_id"] == benefit_id and len(won["coupon"]["code"]) == 16
    assert _coupons(memberday_app, member["id"]) == 1
    benefit = memberday_app.test_client().get(f"/api/v1/member-weeks/{week['id']}",
                                              headers=member["headers"]).get_json()["benefits"][0]
    assert (benefit["stock"], benefit["claimed"], benefit["claimed_by_me"]) == (99, 1, True)


def test_fifty_members_racing_for_a_stock_of_ten_get_exactly_ten(memberday_app, new_member, new_week,
                                                                   coupon_template, tick):
    members = [new_member() for _ in range(50)]
    starts, ends = running_window()
    week = new_week(starts_at=starts, ends_at=ends, holdout_percent=0, benefits=[
        {"title": "Make-up voucher", "kind": "coupon", "coupon_template_id": coupon_template(), "stock": 10}])
    tick()
    benefit_id = week["benefits"][0]["id"]

    responses = run_concurrently(
        lambda i: claim(memberday_app.test_client(), members[i], week["id"], benefit_id), 50)

    assert Counter(r.status_code for r in responses) == {201: 10, 409: 40}
    assert {r.get_json()["error"]["code"] for r in responses if r.status_code == 409} == {"out_of_stock"}
    assert _coupons(memberday_app) == 10
    winners = {members[i]["id"] for i, r in enumerate(responses) if r.status_code == 201}
    assert sum(_coupons(memberday_app, member_id) for member_id in winners) == 10
    # The refused claims left nothing behind: their claim rows went with the stock refusal.
    from core.extensions import db
    from plugins.member_week.models import Claim

    with memberday_app.app_context():
        claimed_by = set(db.session.scalars(select(Claim.member_id).where(Claim.benefit_id == benefit_id)))
    assert claimed_by == winners


def test_the_same_idempotency_key_gets_the_first_answer(memberday_app, memberday_client, admin, new_member,
                                                         new_week, tick):
    member = new_member()
    starts, ends = running_window()
    week = new_week(starts_at=starts, ends_at=ends, holdout_percent=0,
                    benefits=[{"title": "Bonus", "kind": "points", "points": 150}])
    tick()
    benefit_id = week["benefits"][0]["id"]

    responses = run_concurrently(
        lambda i: claim(memberday_app.test_client(), member, week["id"], benefit_id, key="tap-1"), 8)

    assert {r.status_code for r in responses} == {201}
    assert len({r.get_json()["id"] for r in responses}) == 1
    assert responses[0].get_json()["points"] == 150
    later = claim(memberday_client, member, week["id"], benefit_id, key="tap-1")
    assert later.status_code == 201 and later.get_json() == responses[0].get_json()
    fresh = claim(memberday_client, member, week["id"], benefit_id, key="tap-2")
    assert fresh.status_code == 409 and fresh.get_json()["error"]["code"] == "already_claimed"
    balance = memberday_client.get(f"/api/v1/members/{member['id']}/points", headers=admin).get_json()["balance"]
    assert balance == 150


def test_claims_only_while_the_week_runs(memberday_app, memberday_client, admin, new_member, new_week, tick):
    member = new_member()
    now = datetime.now(timezone.utc)
    week = new_week(starts_at=iso(now + timedelta(days=2)), ends_at=iso(now + timedelta(days=5)),
                    announce_at=iso(now - timedelta(minutes=1)), holdout_percent=0,
                    benefits=[{"title": "Bonus", "kind": "points", "points": 10}])
    tick()
    benefit_id = week["benefits"][0]["id"]
    shown = memberday_client.get("/api/v1/member-weeks/current", headers=member["headers"]).get_json()
    assert shown["status"] == "announced" and shown["benefits"][0]["claimed_by_me"] is False

    early = claim(memberday_client, member, week["id"], benefit_id)
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "not_running"
    assert claim(memberday_client, member, week["id"], 999999).status_code == 404
    assert memberday_client.post(f"/api/v1/member-weeks/{week['id']}/claim", json={"benefit_id": benefit_id},
                                 headers=admin).status_code == 403
    assert memberday_client.post(f"/api/v1/member-weeks/{week['id']}/claim", json={"benefit_id": "x"},
                                 headers=member["headers"]).status_code == 400


def test_a_claim_waiting_on_a_cancel_is_refused_once_the_cancel_commits(memberday_app, new_member, new_week,
                                                                        coupon_template, tick):
    import threading
    import time

    import psycopg

    member = new_member()
    starts, ends = running_window()
    week = new_week(starts_at=starts, ends_at=ends, holdout_percent=0, benefits=[
        {"title": "Coffee", "kind": "coupon", "coupon_template_id": coupon_template(), "stock": 10}])
    tick()
    # An operator's cancel, half way: the week's row is locked and its status changed, not yet committed.
    canceller = psycopg.connect(memberday_app.config["DATABASE_URL"])
    canceller.execute("UPDATE member_week_weeks SET status = 'cancelled' WHERE id = %s", (week["id"],))
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(
        claim(memberday_app.test_client(), member, week["id"], week["benefits"][0]["id"])))
    waiting.start()
    deadline = time.monotonic() + 30
    watcher = psycopg.connect(memberday_app.config["DATABASE_URL"], autocommit=True)
    while time.monotonic() < deadline and not watcher.execute(
            "SELECT 1 FROM pg_locks WHERE NOT granted AND locktype = 'transactionid'").fetchone():
        time.sleep(0.05)
    watcher.close()
    canceller.commit()
    canceller.close()
    waiting.join(30)

    assert answers and answers[0].status_code == 409, answers and answers[0].get_json()
    assert answers[0].get_json()["error"]["code"] == "not_running"
    assert _coupons(memberday_app, member["id"]) == 0
