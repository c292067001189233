"""The announcement and the reminder: every participant told once, in batches, even when two runs
overlap or a worker is killed half way; the holdout is the share it says."""
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import psycopg
from sqlalchemy import text

from core.testing import run_concurrently
from week_helpers import iso, notifications_per_member, snapshot, week_row


def _bulk_members(app, count: int) -> None:
    """``count`` members in one INSERT ... SELECT (a scale fixture; nothing here is about time)."""
    from core.database import transaction
    from core.extensions import db

    with app.app_context(), transaction():
        db.session.execute(text(
            "INSERT INTO members (name, tier, tags, marketing_consent, points_balance, points_pending, "
            "orders_count, created_at) SELECT 'Bulk ' || n, 'member', '[]', false, 0, 0, 0, now() "
            "FROM generate_series(1, :count) AS n"), {"count": count})


def _announced_week(app, client, admin, name: str, holdout: int = 10) -> dict:
    now = datetime.now(timezone.utc)
    response = client.post("/api/v1/member-weeks", headers=admin, json={
        "name": name, "starts_at": iso(now + timedelta(days=10)), "ends_at": iso(now + timedelta(days=17)),
        "announce_at": iso(now - timedelta(minutes=1)), "holdout_percent": holdout})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def _participants(app, week_id: int) -> set[int]:
    return {member_id for member_id, row in snapshot(app, week_id).items() if not row["held_out"]}


def test_two_announcement_runs_at_once_tell_each_member_once_and_hold_out_the_share(
        memberday_app, memberday_client, memberday_worker, admin, configure):
    # memberday_worker: jobs go to the queue (not inline), so the two runs below are the only ones.
    configure(notify_batch_size=200)
    _bulk_members(memberday_app, 10_000)
    week = _announced_week(memberday_app, memberday_client, admin, "Ten thousand week")
    with memberday_app.app_context():
        from plugins.member_week import services

        services.tick()  # the snapshot; the announcement itself is queued, and run below twice at once
    row = week_row(memberday_app, week["id"])
    assert row["audience_size"] == 10_000
    assert abs(row["held_out_count"] / 10_000 - 0.10) <= 0.01

    def run(_):
        with memberday_app.app_context():
            return services.announce(week["id"])

    sent = run_concurrently(run, 2)

    participants = _participants(memberday_app, week["id"])
    assert sum(sent) == len(participants) == 10_000 - row["held_out_count"]
    told = notifications_per_member(memberday_app, "Ten thousand week")
    assert set(told) == participants and set(told.values()) == {1}
    row = week_row(memberday_app, week["id"])
    assert row["notified_count"] == len(participants) and row["announced_at"] is not None

    with memberday_app.app_context():
        assert services.announce(week["id"]) == 0  # a third run (the queued one) finds nothing left
    assert set(notifications_per_member(memberday_app, "Ten thousand week").values()) == {1}


def _simple_worker(app, memberday_worker, burst: bool = False) -> subprocess.Popen:
    """A real rq worker that runs each job in its own process (so killing it kills the job mid-way)."""
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    return subprocess.Popen([rq, "worker", "--worker-class", "rq.worker.SimpleWorker", *(["--burst"] if burst else []),
                             "--url", app.config["REDIS_URL"], app.config["RQ_QUEUE"]],
                            env=memberday_worker.env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _waiting_on_a_lock(conn) -> bool:
    return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'").fetchone()[0] > 0


def _wait_for(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)


def test_an_announcement_killed_half_way_resumes_without_telling_anyone_twice(
        memberday_app, memberday_client, memberday_worker, admin, configure):
    configure(notify_batch_size=20)
    _bulk_members(memberday_app, 3_000)
    week = _announced_week(memberday_app, memberday_client, admin, "Crash week")
    with memberday_app.app_context():
        from plugins.member_week import services

        services.tick()  # snapshot now; the announcement job waits in the queue
    url = memberday_app.config["DATABASE_URL"]
    watcher = psycopg.connect(url, autocommit=True)
    notified = lambda: watcher.execute("SELECT notified_count FROM member_week_weeks WHERE id = %s",
                                       (week["id"],)).fetchone()[0]
    worker = _simple_worker(memberday_app, memberday_worker)
    blocker = psycopg.connect(url)
    try:
        _wait_for(lambda: notified() >= 200)
        # Hold the week row: the job's next batch waits on it with its rows half written.
        blocker.execute("SELECT id FROM member_week_weeks WHERE id = %s FOR UPDATE", (week["id"],))
        _wait_for(lambda: _waiting_on_a_lock(watcher))
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    blocker.rollback()
    blocker.close()
    _wait_for(lambda: not _waiting_on_a_lock(watcher))
    participants = _participants(memberday_app, week["id"])
    done = notified()
    watcher.close()
    assert 200 <= done < len(participants)
    told = notifications_per_member(memberday_app, "Crash week")
    assert len(told) == done and set(told.values()) == {1}

    with memberday_app.app_context():
        assert services.tick()["resumed"] == 1  # the clock job queues what is left
    assert _simple_worker(memberday_app, memberday_worker, burst=True).wait(300) == 0

    told = notifications_per_member(memberday_app, "Crash week")
    assert set(told) == participants and set(told.values()) == {1}
    assert week_row(memberday_app, week["id"])["announced_at"] is not None


def test_the_reminder_goes_out_once_at_the_start_and_the_cli_shows_progress(
        memberday_app, memberday_client, admin, new_member, configure):
    from plugins.member_week import services

    configure(notify_batch_size=10)
    members = [new_member() for _ in range(25)]
    now = datetime.now(timezone.utc)
    week = memberday_client.post("/api/v1/member-weeks", headers=admin, json={
        "name": "Reminder week", "starts_at": iso(now + timedelta(days=3)), "ends_at": iso(now + timedelta(days=8)),
        "announce_at": iso(now - timedelta(minutes=1)), "holdout_percent": 0}).get_json()
    runner = memberday_app.test_cli_runner()
    early = runner.invoke(args=["member-week", "announce", str(week["id"])])
    assert early.exit_code != 0 and "announced" in early.output

    with memberday_app.app_context():
        services.tick()  # announced; jobs run inline here, so the announcement is sent at once
    result = runner.invoke(args=["member-week", "progress", str(week["id"])])
    assert result.exit_code == 0 and "announcement 25/25 (finished)" in result.output
    again = runner.invoke(args=["member-week", "announce", str(week["id"])])
    assert again.exit_code == 0 and "0 members told in this run" in again.output

    start = now + timedelta(days=3)
    with memberday_app.app_context():
        services.tick(now=start)
        services.tick(now=start + timedelta(hours=1))
    reminded = notifications_per_member(memberday_app, "starts today")
    assert set(reminded) == {m["id"] for m in members} and set(reminded.values()) == {1}
    result = runner.invoke(args=["member-week", "progress", str(week["id"])])
    assert "reminder 25/25 (finished)" in result.output
    inbox = memberday_client.get(f"/api/v1/members/{members[0]['id']}/notifications",
                                 headers=members[0]["headers"]).get_json()["items"]
    assert {n["title"] for n in inbox} >= {"Member week: Reminder week", "Member week starts today: Reminder week"}
