"""Jobs: the worker runs rq's scheduler (so retried and re-enqueued jobs run), and a QR export
that died half way restarts, removes its partial files and finishes; two runs at once build it once."""
import os
import subprocess
import sys
import time
import zipfile
from datetime import timedelta

from core.testing import run_concurrently
from referral_helpers import join


def memberday_cli(worker, *args, timeout=120):
    command = os.path.join(os.path.dirname(sys.executable), "memberday")
    result = subprocess.run([command, *args], env=worker.env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def test_the_worker_runs_jobs_scheduled_for_later(memberday_app, memberday_worker):
    """What a retry looks like to rq: a job scheduled for a moment later. Without the scheduler it never runs."""
    from rq.job import Job

    from core.jobs import perform, queue, redis_connection

    with memberday_app.app_context():
        job = queue().enqueue_in(timedelta(seconds=1), perform, "core.purge_idempotency_keys", [], {})
        job_id = job.id
    time.sleep(1.5)  # let it fall due; the worker's scheduler moves it onto the queue
    memberday_cli(memberday_worker, "worker", "--burst")
    with memberday_app.app_context():
        assert Job.fetch(job_id, connection=redis_connection()).get_status() == "finished"


def _export(app, member_ids, **values):
    from core.database import transaction
    from core.extensions import db
    from plugins.referral.models import ReferralQrExport

    with app.app_context():
        with transaction():
            export = ReferralQrExport(member_ids=member_ids, image_format="png", requested_by="test", **values)
            db.session.add(export)
            db.session.flush()
            return export.id


def _status(app, export_id):
    from core.extensions import db
    from plugins.referral.models import ReferralQrExport

    with app.app_context():
        export = db.session.get(ReferralQrExport, export_id)
        return export.status, export.done, export.filename


def test_an_export_that_died_half_way_restarts_and_removes_its_partial_files(memberday_app, memberday_client,
                                                                           memberday_worker, tmp_path):
    from core.jobs import enqueue

    memberday_app.config["REFERRAL_EXPORT_DIR"] = str(tmp_path)
    memberday_worker.env["MEMBERDAY_REFERRAL_EXPORT_DIR"] = str(tmp_path)
    members = [join(memberday_client, f"Member {n}")["id"] for n in range(3)]
    # What a worker killed half way leaves: the export "running" and its partial files.
    export_id = _export(memberday_app, members, status="running", total=3, done=2)
    leftovers = [tmp_path / f".referral-qr-{export_id}.zip.part", tmp_path / f".referral-qr-{export_id}.zip.4242.part"]
    for path in leftovers:
        path.write_bytes(b"PK half a zip")
    other = tmp_path / ".referral-qr-9999.zip.part"  # another export's: not ours to remove
    other.write_bytes(b"PK")

    with memberday_app.app_context():
        enqueue("referral.export_qr", export_id)
    memberday_cli(memberday_worker, "worker", "--burst")

    status, done, filename = _status(memberday_app, export_id)
    assert (status, done) == ("done", 3)
    assert not any(path.exists() for path in leftovers) and other.exists()
    assert len(zipfile.ZipFile(tmp_path / filename).namelist()) == 3


def test_two_runs_of_one_export_at_once_build_it_once(memberday_app, memberday_client, tmp_path):
    from plugins.referral.services import build_qr_export

    memberday_app.config["REFERRAL_EXPORT_DIR"] = str(tmp_path)
    members = [join(memberday_client, f"Member {n}")["id"] for n in range(60)]
    export_id = _export(memberday_app, members, status="queued")

    def build(i):
        with memberday_app.app_context():
            return build_qr_export(export_id)["status"]

    outcomes = run_concurrently(build, 2)
    assert "done" in outcomes
    assert set(outcomes) <= {"done", "busy"}
    status, done, filename = _status(memberday_app, export_id)
    assert (status, done) == ("done", 60)
    assert len(zipfile.ZipFile(tmp_path / filename).namelist()) == 60
    assert sorted(os.listdir(tmp_path)) == [filename]
