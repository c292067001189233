"""A worker that dies half-way through releasing rewards books nothing; the retry rewards once."""

import psycopg

from core.jobs import enqueue
from referral_helpers import join, kill_a_worker_when, points, referrals, report_order, wait_for, waiting_on_a_lock

PROGRAMME = dict(qualify_on="first_order", min_order_amount="100.00", hold_days=14, referrer_points=200,
                 referee_points=100, max_referrals_per_day=None, max_referrals_per_month=None)






def test_a_worker_killed_half_way_through_a_release_books_nothing_and_the_retry_rewards_once(
        memberday_app, memberday_client, memberday_worker, admin, referrer, configure, clock):
    configure(**PROGRAMME)
    friend = join(memberday_client, "Bo Friend", referral_code=referrer["code"])
    memberday_worker.run()  # with a queue, plugins react to the join and the order on the worker
    report_order(memberday_client, admin, "SHOP-1", friend["id"], "300.00")
    memberday_worker.run()
    clock.advance(days=PROGRAMME["hold_days"], hours=1)
    url = memberday_app.config["DATABASE_URL"]

    # Hold the referrer's row: the job releases the friend's side, then waits on this lock.
    blocker = psycopg.connect(url)
    blocker.execute("SELECT id FROM members WHERE id = %s FOR UPDATE", (referrer["id"],))
    watcher = psycopg.connect(url, autocommit=True)
    with memberday_app.app_context():
        enqueue("referral.release_due", clock.now)
    kill_a_worker_when(memberday_app, memberday_worker.env, lambda: waiting_on_a_lock(watcher))
    blocker.rollback()
    blocker.close()
    wait_for(lambda: not waiting_on_a_lock(watcher))
    watcher.close()

    # Nothing of the half-done release was committed.
    assert referrals(memberday_app)[0]["status"] == "held"
    assert points(memberday_client, admin, friend["id"]) == (300, 100)
    assert points(memberday_client, admin, referrer["id"]) == (0, 200)

    # The retry (a new run of the job) rewards both sides, once.
    with memberday_app.app_context():
        enqueue("referral.release_due", clock.now)
    memberday_worker.run()
    assert referrals(memberday_app)[0]["status"] == "rewarded"
    assert points(memberday_client, admin, friend["id"]) == (400, 0)
    assert points(memberday_client, admin, referrer["id"]) == (200, 0)
