"""Plain helpers the referral tests share (reading rows, reporting orders, running jobs)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import select


def join(client, name, **fields):
    response = client.post("/api/v1/members", json={"name": name, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def referrals(app, **filters):
    """Every referral row (as plain dicts), oldest first."""
    from core.extensions import db
    from plugins.referral.models import Referral

    with app.app_context():
        query = select(Referral).order_by(Referral.id)
        for key, value in filters.items():
            query = query.where(getattr(Referral, key) == value)
        rows = db.session.scalars(query).all()
        return [{column.name: getattr(row, column.name) for column in Referral.__table__.columns} for row in rows]


def points(client, admin, member_id):
    response = client.get(f"/api/v1/members/{member_id}/points", headers=admin)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["balance"], body["pending"]


def report_order(client, admin, external_id, member_id, amount):
    return client.post("/api/v1/orders", headers=admin,
                       json={"external_id": external_id, "member_id": member_id, "amount": amount})


def run_job(app, name, *args):
    from core.jobs import run

    with app.app_context():
        return run(name, *args)


def wait_for(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.1)


def waiting_on_a_lock(conn) -> bool:
    """Whether a session of this database waits on a lock (``conn``: a psycopg autocommit connection)."""
    return conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock'").fetchone()[0] > 0


def kill_a_worker_when(app, env, condition) -> None:
    """Start an rq worker on the app's queue, wait until ``condition()`` holds, then SIGKILL it.

    A SimpleWorker runs the job in the worker process itself, so killing it kills the job mid-way.
    """
    rq = os.path.join(os.path.dirname(sys.executable), "rq")
    worker = subprocess.Popen([rq, "worker", "--worker-class", "rq.worker.SimpleWorker",
                               "--url", app.config["REDIS_URL"], app.config["RQ_QUEUE"]],
                              env=env, start_new_session=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(condition)
    finally:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its job die mid-transaction
        worker.wait(10)
