"""Jobs run through a real rq worker on Redis, and inline in the embedded default."""
from sqlalchemy import select

from core.extensions import db
from core.notifications.models import Notification
from core.notifications.services import notify
from core.rewards import services as rewards
from core.testing import bearer


def test_a_notification_is_delivered_by_a_real_rq_worker(memberday_app, memberday_worker, member):
    with memberday_app.app_context():
        notify(member["id"], "Welcome", "Your first coffee is on us.")
        assert db.session.scalar(select(Notification.status)) == "queued"
        from core.jobs import queue

        # The delivery is queued (next to the job that hands the event of it to plugins).
        assert [job.description for job in queue().jobs].count("core.deliver_notification") == 1
    memberday_worker.run()
    assert memberday_worker.failed() == []
    client = memberday_app.test_client()
    inbox = client.get(f"/api/v1/members/{member['id']}/notifications", headers=bearer(member["token"])).get_json()
    assert [(n["title"], n["status"], n["channel"]) for n in inbox["items"]] == [("Welcome", "sent", "inbox")]


def test_a_job_run_twice_delivers_once(memberday_app, memberday_worker, member):
    from core.jobs import enqueue
    from core.database import transaction

    with memberday_app.app_context():
        notification = notify(member["id"], "Hello", "")
        with transaction():
            enqueue("core.deliver_notification", notification.id)  # a retry of the same job
    memberday_worker.run()
    with memberday_app.app_context():
        row = db.session.scalar(select(Notification))
        assert (row.status, row.attempts) == ("sent", 1)


def test_the_expiry_job_runs_in_the_worker(memberday_app, memberday_worker, member):
    from datetime import timedelta

    from core.database import utcnow
    from core.jobs import enqueue

    with memberday_app.app_context():
        rewards.credit(member["id"], 10, "old", "t:old", expires_at=utcnow() - timedelta(seconds=1))
        enqueue("core.expire_due")
    memberday_worker.run()
    profile = memberday_app.test_client().get(f"/api/v1/members/{member['id']}", headers=bearer(member["token"]))
    assert profile.get_json()["points_balance"] == 0


def test_inline_jobs_run_at_once_in_the_default_mode(memberday_sqlite_app):
    client = memberday_sqlite_app.test_client()
    member = client.post("/api/v1/members", json={"name": "Lin"}).get_json()
    with memberday_sqlite_app.app_context():
        assert memberday_sqlite_app.config["REDIS_URL"] is None
        notify(member["id"], "Inline", "")
    inbox = client.get(f"/api/v1/members/{member['id']}/notifications", headers=bearer(member["token"])).get_json()
    assert inbox["items"][0]["status"] == "sent"


def test_cron_once_runs_every_periodic_job(memberday_app, member):
    from datetime import timedelta

    from core.database import utcnow

    with memberday_app.app_context():
        rewards.credit(member["id"], 10, "old", "t:old", expires_at=utcnow() - timedelta(seconds=1))
    result = memberday_app.test_cli_runner().invoke(args=["cron", "--once"])
    assert result.exit_code == 0, result.output
    assert "core.expire_due" in result.output and "core.purge_idempotency_keys" in result.output
    with memberday_app.app_context():
        from core.members.models import Member

        assert db.session.get(Member, member["id"]).points_balance == 0


def test_a_job_that_says_how_long_it_may_run_is_queued_with_that_timeout(memberday_app, memberday_worker):
    """rq stops a job after 180 s unless told otherwise: a whole-member export is queued with its
    own limit, an ordinary job with rq's default, and the export is built by the real worker."""
    from core.database import transaction
    from core.jobs import enqueue, queue
    from core.plugins.services import set_enabled
    from plugins.referral import services as referral

    with memberday_app.app_context():
        set_enabled("referral", True, actor="test")
        with transaction():
            enqueue("core.expire_due")
        export_id = referral.request_qr_export(None, "png").id
        timeouts = {job.description: job.timeout for job in queue().jobs}
        assert timeouts["referral.export_qr"] == referral.EXPORT_JOB_TIMEOUT > 180
        assert timeouts["core.expire_due"] == queue().DEFAULT_TIMEOUT == 180
    memberday_worker.run()
    assert memberday_worker.failed() == []
    with memberday_app.app_context():
        assert referral.get_export(export_id).status == "done"
