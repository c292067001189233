"""The QR poster export streams members in keyset batches, checkpoints each finished segment,
continues after a killed worker with each member in the ZIP once, and never renders a large
export inside the request that asked for it."""
from __future__ import annotations

import os
import zipfile
from io import BytesIO

import psycopg

from core.jobs import enqueue
from referral_helpers import join, kill_a_worker_when, waiting_on_a_lock




def _progress(client, admin, export_id):
    response = client.get(f"/api/v1/referral/qr-exports/{export_id}", headers=admin)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _small_segments(app, worker, folder):
    """Segments of 4 members read 3 at a time, in the test's app and in the worker."""
    settings = {"REFERRAL_EXPORT_DIR": str(folder), "REFERRAL_EXPORT_SEGMENT": 4, "REFERRAL_EXPORT_BATCH": 3}
    app.config.update(settings)
    worker.env.update({f"MEMBERDAY_{key}": str(value) for key, value in settings.items()})


def test_every_member_exported_through_a_worker_in_segments(memberday_app, memberday_client, memberday_worker,
                                                            admin, tmp_path):
    _small_segments(memberday_app, memberday_worker, tmp_path)
    members = [join(memberday_client, f"Member {n}")["id"] for n in range(11)]
    response = memberday_client.post("/api/v1/referral/qr-exports", headers=admin, json={})
    assert response.status_code == 202, response.get_json()
    export_id = response.get_json()["id"]
    assert _progress(memberday_client, admin, export_id)["status"] == "queued"

    memberday_worker.run()
    assert memberday_worker.failed() == []
    progress = _progress(memberday_client, admin, export_id)
    assert (progress["status"], progress["done"], progress["total"]) == ("done", 11, 11)
    download = memberday_client.get(f"/api/v1/referral/qr-exports/{export_id}/download", headers=admin)
    names = zipfile.ZipFile(BytesIO(download.data)).namelist()
    assert sorted(int(name.split("-")[0]) for name in names) == sorted(members)
    assert os.listdir(tmp_path) == [f"referral-qr-{export_id}.zip"]  # the segments are gone


def test_a_killed_worker_leaves_a_checkpoint_and_the_next_run_continues_from_it(
        memberday_app, memberday_client, memberday_worker, admin, tmp_path):
    _small_segments(memberday_app, memberday_worker, tmp_path)
    members = [join(memberday_client, f"Member {n}")["id"] for n in range(11)]
    url = memberday_app.config["DATABASE_URL"]
    # The ninth member's code is being written by another transaction: the job, reaching it in its
    # third segment, waits there (after two checkpoints) until that transaction ends.
    blocker = psycopg.connect(url)
    blocker.execute("INSERT INTO referral_codes (member_id, code, created_at) VALUES (%s, 'ZZZZZZZ', now())",
                    (members[8],))
    watcher = psycopg.connect(url, autocommit=True)
    response = memberday_client.post("/api/v1/referral/qr-exports", headers=admin, json={})
    export_id = response.get_json()["id"]
    kill_a_worker_when(memberday_app, memberday_worker.env, lambda: waiting_on_a_lock(watcher))
    blocker.rollback()
    blocker.close()
    watcher.close()

    progress = _progress(memberday_client, admin, export_id)
    assert (progress["status"], progress["done"], progress["total"]) == ("running", 8, 11)
    with memberday_app.app_context():
        from core.extensions import db
        from plugins.referral.models import ReferralQrExport

        export = db.session.get(ReferralQrExport, export_id)
        assert (export.segments, export.resume_after, export.done_before) == (2, members[7], 8)
    # Mark the first run's first segment: a run that started over would render those images again.
    first = tmp_path / f".referral-qr-{export_id}.zip.seg000000.part"
    with zipfile.ZipFile(first) as archive:
        kept = archive.namelist()
    with zipfile.ZipFile(first, "w") as archive:
        for name in kept:
            archive.writestr(name, b"rendered by the first run")

    with memberday_app.app_context():
        enqueue("referral.export_qr", export_id)
    memberday_worker.run()
    progress = _progress(memberday_client, admin, export_id)
    assert (progress["status"], progress["done"], progress["total"]) == ("done", 11, 11)
    download = memberday_client.get(f"/api/v1/referral/qr-exports/{export_id}/download", headers=admin)
    archive = zipfile.ZipFile(BytesIO(download.data))
    names = archive.namelist()
    assert sorted(int(name.split("-")[0]) for name in names) == sorted(members)  # each member once
    assert [archive.read(name) for name in kept] == [b"rendered by the first run"] * 4
    assert archive.read(names[-1]).startswith(b"\x89PNG")
    assert os.listdir(tmp_path) == [f"referral-qr-{export_id}.zip"]


def test_without_a_worker_a_large_export_is_refused_and_a_small_one_runs_at_once(
        memberday_app, memberday_client, admin, tmp_path):
    memberday_app.config.update(REFERRAL_EXPORT_DIR=str(tmp_path), REFERRAL_INLINE_EXPORT_MAX=3)
    assert not memberday_app.config.get("REDIS_URL")
    members = [join(memberday_client, f"Member {n}")["id"] for n in range(5)]

    refused = memberday_client.post("/api/v1/referral/qr-exports", headers=admin, json={})
    assert refused.status_code == 409, refused.get_json()
    error = refused.get_json()["error"]
    assert error["code"] == "worker_required" and "worker" in error["message"]
    refused = memberday_client.post("/api/v1/referral/qr-exports", headers=admin, json={"member_ids": members[:4]})
    assert refused.status_code == 409
    with memberday_app.app_context():
        from sqlalchemy import func, select

        from core.extensions import db
        from plugins.referral.models import ReferralQrExport

        assert db.session.scalar(select(func.count(ReferralQrExport.id))) == 0  # nothing half-started

    small = memberday_client.post("/api/v1/referral/qr-exports", headers=admin, json={"member_ids": members[:3]})
    assert small.status_code == 202, small.get_json()
    progress = _progress(memberday_client, admin, small.get_json()["id"])
    assert (progress["status"], progress["done"], progress["total"]) == ("done", 3, 3)


def test_an_export_on_sqlite_creates_missing_codes_in_one_go(memberday_sqlite_app, tmp_path):
    from core.members.services import create_member
    from plugins.referral import services

    memberday_sqlite_app.config.update(REFERRAL_EXPORT_DIR=str(tmp_path), REFERRAL_EXPORT_SEGMENT=2,
                                       REFERRAL_EXPORT_PROCESSES=1)
    with memberday_sqlite_app.app_context():
        members = [create_member(f"Member {n}")[0].id for n in range(5)]
        known = services.code_for(members[1]).code
        export = services.request_qr_export(None, "svg", run_in_background=False)
        assert services.build_qr_export(export.id) == {"export": export.id, "status": "done", "members": 5}
        export = services.get_export(export.id)
        names = zipfile.ZipFile(services.export_path(export)).namelist()
    assert sorted(int(name.split("-")[0]) for name in names) == members
    assert f"{members[1]}-{known}.svg" in names
