"""Qualification, the hold, release and reversal of referral rewards, on PostgreSQL."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from core.testing import bearer, csrf_token, run_concurrently, sign_in_browser, join_browser

from referral_helpers import join, points, referrals, report_order, run_job

PROGRAMME = dict(qualify_on="first_order", min_order_amount="100.00", hold_days=14, referrer_points=200,
                 referee_points=100, max_referrals_per_day=None, max_referrals_per_month=None)


@pytest.fixture
def programme(configure):
    return configure(**PROGRAMME)


def test_friend_follows_link_joins_on_landing_page_and_both_are_rewarded_once_by_the_worker(
        memberday_app, memberday_client, memberday_worker, admin, referrer, configure, clock):
    from core.rewards.services import create_template

    with memberday_app.app_context():
        welcome = create_template("Welcome drink", valid_days=30).id
    configure(**PROGRAMME, referee_coupon_template_id=welcome)
    friend = memberday_app.test_client()

    visit = friend.get(f"/r/{referrer['code']}", headers={"User-Agent": "Phone/1.0"})
    assert visit.status_code == 303
    landing = urlsplit(visit.headers["Location"]).path
    assert landing == f"/r/{referrer['code']}/join"
    page = friend.get(landing)
    assert page.status_code == 200 and "Ada invited you" in page.get_data(as_text=True)
    joined = join_browser(friend, landing, name="Bo Friend", phone="+886900000002")
    assert joined.status_code == 303 and urlsplit(joined.headers["Location"]).path == "/me"
    assert friend.get("/me").status_code == 200  # signed in
    memberday_worker.run()  # with a queue, plugins react to the join on the worker

    [referral] = referrals(memberday_app)
    friend_id = referral["referee_id"]
    assert (referral["referrer_id"], referral["status"], referral["channel"]) == (referrer["id"], "pending", "web")

    # Below the minimum: not the qualifying order.
    assert report_order(memberday_client, admin, "SHOP-1", friend_id, "60.00").status_code == 201
    memberday_worker.run()  # the order's event, off the shop's request
    assert referrals(memberday_app)[0]["status"] == "pending"
    assert report_order(memberday_client, admin, "SHOP-2", friend_id, "150.00").status_code == 201
    memberday_worker.run()
    [referral] = referrals(memberday_app)
    assert (referral["status"], referral["qualifying_order"]) == ("held", "SHOP-2")
    assert points(memberday_client, admin, referrer["id"]) == (0, 200)
    assert points(memberday_client, admin, friend_id) == (210, 100)  # the orders' own points are spendable

    # The hold is not over: a release run changes nothing.
    run_job_through_worker(memberday_app, memberday_worker, clock.now)
    assert referrals(memberday_app)[0]["status"] == "held"

    clock.advance(days=PROGRAMME["hold_days"], hours=1)
    run_job_through_worker(memberday_app, memberday_worker, clock.now)
    run_job_through_worker(memberday_app, memberday_worker, clock.now)
    assert memberday_worker.failed() == []
    assert referrals(memberday_app)[0]["status"] == "rewarded"
    assert points(memberday_client, admin, referrer["id"]) == (200, 0)
    assert points(memberday_client, admin, friend_id) == (310, 0)
    coupons = memberday_client.get(f"/api/v1/members/{friend_id}/coupons", headers=admin).get_json()["items"]
    assert [c["title"] for c in coupons] == ["Welcome drink"]
    assert memberday_client.get(f"/api/v1/members/{referrer['id']}/coupons", headers=admin).get_json()["items"] == []


def run_job_through_worker(app, worker, now):
    from core.jobs import enqueue

    with app.app_context():
        enqueue("referral.release_due", now)
    worker.run()


def test_qualifying_order_reported_twice_at_once_and_release_run_twice_at_once_reward_once(
        memberday_app, memberday_client, admin, referrer, programme, clock):
    friend = join(memberday_client, "Bo Friend", referral_code=referrer["code"])

    def report(_):
        return report_order(memberday_app.test_client(), admin, "SHOP-9", friend["id"], "300.00").status_code

    assert sorted(run_concurrently(report, 6)) == [200] * 5 + [201]
    assert points(memberday_client, admin, referrer["id"]) == (0, 200)

    clock.advance(days=PROGRAMME["hold_days"], hours=1)
    results = run_concurrently(lambda _: run_job(memberday_app, "referral.release_due", clock.now), 4)
    assert sum(result["released"] for result in results) == 1
    assert referrals(memberday_app)[0]["status"] == "rewarded"
    assert points(memberday_client, admin, referrer["id"]) == (200, 0)
    assert points(memberday_client, admin, friend["id"]) == (400, 0)
    with memberday_app.app_context():
        from core.extensions import db
        from core.rewards.models import PointsEntry

        sources = db.session.scalars(select(PointsEntry.source).where(PointsEntry.source.like("referral:%"))).all()
    assert sorted(sources) == ["referral:1:referee", "referral:1:referee:release",
                               "referral:1:referrer", "referral:1:referrer:release"]


def test_two_different_qualifying_orders_at_once_qualify_the_referral_once(
        memberday_app, memberday_client, admin, referrer, programme):
    friend = join(memberday_client, "Bo Friend", referral_code=referrer["code"])

    def report(index):
        return report_order(memberday_app.test_client(), admin, f"SHOP-{index}", friend["id"], "120.00").status_code

    assert run_concurrently(report, 4) == [201] * 4
    [referral] = referrals(memberday_app)
    assert referral["status"] == "held" and referral["qualifying_order"] in {f"SHOP-{i}" for i in range(4)}
    assert points(memberday_client, admin, referrer["id"]) == (0, 200)
    assert points(memberday_client, admin, friend["id"]) == (480, 100)


def test_refund_during_hold_cancels_referral_reward(memberday_app, memberday_client, admin, referrer, programme,
                                                    clock):
    friend = join(memberday_client, "Bo Friend", referral_code=referrer["code"])
    report_order(memberday_client, admin, "SHOP-1", friend["id"], "250.00")
    assert points(memberday_client, admin, referrer["id"]) == (0, 200)

    refund = memberday_client.post("/api/v1/orders/SHOP-1/refund", headers=admin)
    assert refund.status_code == 200, refund.get_json()
    [referral] = referrals(memberday_app)
    assert (referral["status"], referral["reason"]) == ("reversed", "refunded_during_hold")

    clock.advance(days=PROGRAMME["hold_days"], hours=1)
    assert run_job(memberday_app, "referral.release_due", clock.now) == {"released": 0}
    assert points(memberday_client, admin, referrer["id"]) == (0, 0)
    assert points(memberday_client, admin, friend["id"]) == (0, 0)
    # A later order does not bring a cancelled referral back.
    report_order(memberday_client, admin, "SHOP-2", friend["id"], "250.00")
    assert referrals(memberday_app)[0]["status"] == "reversed"


@pytest.mark.parametrize("clawback", [True, False])
def test_refund_after_release_claws_back_only_when_the_programme_says_so(
        memberday_app, memberday_client, admin, referrer, configure, clock, clawback):
    configure(**PROGRAMME, clawback_after_release=clawback)
    friend = join(memberday_client, "Bo Friend", referral_code=referrer["code"])
    report_order(memberday_client, admin, "SHOP-1", friend["id"], "250.00")
    clock.advance(days=PROGRAMME["hold_days"], hours=1)
    assert run_job(memberday_app, "referral.release_due", clock.now) == {"released": 1}
    assert points(memberday_client, admin, referrer["id"]) == (200, 0)

    assert memberday_client.post("/api/v1/orders/SHOP-1/refund", headers=admin).status_code == 200
    [referral] = referrals(memberday_app)
    if clawback:
        assert (referral["status"], referral["reason"]) == ("reversed", "refunded_after_release")
        assert points(memberday_client, admin, referrer["id"]) == (0, 0)
        assert points(memberday_client, admin, friend["id"]) == (0, 0)
    else:
        assert (referral["status"], referral["reason"]) == ("rewarded", None)
        assert points(memberday_client, admin, referrer["id"]) == (200, 0)
        assert points(memberday_client, admin, friend["id"]) == (100, 0)


def test_signup_qualifies_at_once_and_no_hold_releases_straight_away(
        memberday_app, memberday_client, admin, referrer, configure):
    configure(**dict(PROGRAMME, qualify_on="signup", hold_days=0))
    friend = join(memberday_client, "Bo Friend", referral_code=referrer["code"])
    [referral] = referrals(memberday_app)
    assert referral["status"] == "rewarded"
    assert points(memberday_client, admin, referrer["id"]) == (200, 0)
    assert points(memberday_client, admin, friend["id"]) == (100, 0)


def test_milestone_bonus_is_booked_once_when_the_count_is_reached(
        memberday_app, memberday_client, admin, referrer, configure, clock):
    configure(**dict(PROGRAMME, qualify_on="signup", hold_days=3),
              milestones=[{"count": 2, "points": 500}, {"count": 5, "points": 2000}])
    join(memberday_client, "Friend 1", referral_code=referrer["code"])
    clock.advance(days=3, hours=1)
    run_job(memberday_app, "referral.release_due", clock.now)
    assert points(memberday_client, admin, referrer["id"]) == (200, 0)

    join(memberday_client, "Friend 2", referral_code=referrer["code"])
    join(memberday_client, "Friend 3", referral_code=referrer["code"])
    clock.advance(days=3, hours=1)
    results = run_concurrently(lambda _: run_job(memberday_app, "referral.release_due", clock.now), 3)
    assert sum(result["released"] for result in results) == 2
    run_job(memberday_app, "referral.release_due", clock.now)
    assert points(memberday_client, admin, referrer["id"]) == (3 * 200 + 500, 0)


def test_cron_once_releases_due_referrals(memberday_app, memberday_client, admin, referrer, programme, clock):
    from plugins.referral.services import qualify

    join(memberday_client, "Bo Friend", referral_code=referrer["code"])
    [referral] = referrals(memberday_app)
    with memberday_app.app_context():  # it qualified a hold ago, so its hold is over now
        qualify(referral["id"], now=clock.advance(days=-PROGRAMME["hold_days"], seconds=-1))
    assert referrals(memberday_app)[0]["status"] == "held"
    result = memberday_app.test_cli_runner().invoke(args=["cron", "--once"])
    assert result.exit_code == 0, result.output
    assert "referral.release_due: {'released': 1}" in result.output
    assert referrals(memberday_app)[0]["status"] == "rewarded"
    assert points(memberday_client, admin, referrer["id"]) == (200, 0)


def test_rewarded_members_are_told_and_see_pending_points_on_their_page(
        memberday_app, memberday_client, admin, referrer, programme, clock):
    friend = join(memberday_client, "Bo Friend", referral_code=referrer["code"])
    report_order(memberday_client, admin, "SHOP-1", friend["id"], "100.00")
    page = memberday_app.test_client()
    sign_in_browser(page, referrer)
    assert "200 more points on their way" in page.get("/me").get_data(as_text=True)

    clock.advance(days=PROGRAMME["hold_days"], hours=1)
    run_job(memberday_app, "referral.release_due", clock.now)
    inbox = memberday_client.get(f"/api/v1/members/{referrer['id']}/notifications",
                                 headers=bearer(referrer["token"])).get_json()["items"]
    assert [note["title"] for note in inbox].count("Your friend joined") == 1


def test_embedded_sqlite_default_runs_the_same_programme(memberday_sqlite_app):
    from core.testing import create_operator_token

    client = memberday_sqlite_app.test_client()
    admin = bearer(create_operator_token(memberday_sqlite_app, "admin"))
    assert client.patch("/api/v1/plugins/referral", headers=admin,
                        json={"settings": dict(PROGRAMME, hold_days=0)}).status_code == 200
    ada = join(client, "Ada")
    code = client.get(f"/api/v1/members/{ada['id']}/referral", headers=admin).get_json()["code"]
    browser = memberday_sqlite_app.test_client()
    assert browser.get(f"/r/{code}").status_code == 303
    assert join_browser(browser, f"/r/{code}/join", name="Bo").status_code == 303
    [referral] = referrals(memberday_sqlite_app)
    assert report_order(client, admin, "SHOP-1", referral["referee_id"], "150.00").status_code == 201
    assert referrals(memberday_sqlite_app)[0]["status"] == "rewarded"
    assert points(client, admin, ada["id"]) == (200, 0)
