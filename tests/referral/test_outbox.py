"""Referral rewards against the event outbox: a refund the plugin missed while off still cancels
the reward at release; an order whose process died before delivering its event still qualifies, once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta

from sqlalchemy import select

from referral_helpers import join, points, referrals, report_order, run_job

PROGRAMME = dict(qualify_on="first_order", min_order_amount="100.00", hold_days=14, referrer_points=200,
                 referee_points=100, max_referrals_per_day=None, max_referrals_per_month=None)


def switch(client, admin, enabled):
    response = client.patch("/api/v1/plugins/referral", json={"enabled": enabled}, headers=admin)
    assert response.status_code == 200, response.get_json()


def referral_deliveries(app):
    from core.events.models import Event, EventDelivery
    from core.extensions import db

    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            select(Event.name, EventDelivery.status, EventDelivery.attempts)
            .join(EventDelivery, EventDelivery.event_id == Event.id)
            .where(EventDelivery.plugin_id == "referral").order_by(Event.id)).all()]


def test_a_refund_while_the_plugin_was_off_cancels_the_reward_at_release(memberday_app, memberday_client, admin,
                                                                         referrer, configure, clock):
    configure(**PROGRAMME)
    friend = join(memberday_client, "Bo Friend", referral_code=referrer["code"])
    assert report_order(memberday_client, admin, "SHOP-1", friend["id"], "300.00").status_code == 201
    assert referrals(memberday_app)[0]["status"] == "held"

    switch(memberday_client, admin, False)
    assert memberday_client.post("/api/v1/orders/SHOP-1/refund", headers=admin).status_code == 200
    switch(memberday_client, admin, True)
    assert referrals(memberday_app)[0]["status"] == "held"  # it never heard of the refund
    assert ("memberday_order_refunded", "skipped", 0) in referral_deliveries(memberday_app)

    clock.advance(days=PROGRAMME["hold_days"], hours=1)
    for _ in range(2):
        assert run_job(memberday_app, "referral.release_due", clock.now) == {"released": 0}
    [referral] = referrals(memberday_app)
    assert (referral["status"], referral["reason"]) == ("reversed", "refunded_during_hold")
    assert points(memberday_client, admin, referrer["id"]) == (0, 0)
    assert points(memberday_client, admin, friend["id"]) == (0, 0)
    assert memberday_client.get(f"/api/v1/members/{referrer['id']}/coupons",
                                headers=admin).get_json()["items"] == []


KILLED_AFTER_COMMIT = textwrap.dedent("""
    import os, signal, sys
    from decimal import Decimal

    from core import create_app
    from core.database import on_commit, transaction
    from core.orders.services import report_paid_order

    app = create_app()
    with app.app_context():
        with transaction():
            # Runs first after the commit, before the events are delivered.
            on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
            report_paid_order(sys.argv[1], int(sys.argv[2]), Decimal(sys.argv[3]))
    print("not reached")
""")


def test_a_process_killed_after_its_commit_has_its_events_delivered_by_the_relay_once(
        memberday_app, memberday_client, admin, referrer, configure, tmp_path):
    from core.database import utcnow
    from core.events.services import relay

    configure(**PROGRAMME)
    friend = join(memberday_client, "Bo Friend", referral_code=referrer["code"])
    env = dict(os.environ, MEMBERDAY_ENV="testing", DATABASE_URL=memberday_app.config["DATABASE_URL"],
               SECRET_KEY=memberday_app.config["SECRET_KEY"])
    env.pop("REDIS_URL", None)
    script = tmp_path / "killed.py"
    script.write_text(KILLED_AFTER_COMMIT)
    result = subprocess.run([sys.executable, str(script), "SHOP-1", str(friend["id"]), "300.00"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "not reached" not in result.stdout

    # The order and its points were committed; the referral never heard of it.
    assert points(memberday_client, admin, friend["id"]) == (300, 0)
    assert referrals(memberday_app)[0]["status"] == "pending"

    with memberday_app.app_context():
        assert relay() == {"events": 0}  # the dead process's claim has not run out yet
        later = utcnow() + timedelta(minutes=2)
        delivered = relay(now=later)
        assert delivered["events"] >= 1
        assert relay(now=later + timedelta(minutes=2)) == {"events": 0}
    [referral] = referrals(memberday_app)
    assert (referral["status"], referral["qualifying_order"]) == ("held", "SHOP-1")
    assert points(memberday_client, admin, friend["id"]) == (300, 100)
    assert points(memberday_client, admin, referrer["id"]) == (0, 200)
    assert referral_deliveries(memberday_app).count(("memberday_order_paid", "delivered", 1)) == 1

    # A run of ``memberday cron --once`` later finds nothing left to deliver and books nothing again.
    result = memberday_app.test_cli_runner().invoke(args=["cron", "--once"])
    assert "core.relay_events: {'events': 0}" in result.output
    assert points(memberday_client, admin, referrer["id"]) == (0, 200)
