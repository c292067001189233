"""The QR poster export's speed: images a second rendering alone and through a real export job.

    python benchmarks/qr_export.py                        # 20,000 images, a 20,000-member export
    python benchmarks/qr_export.py --images 5000 --members 0   # rendering only

1. **Rendering alone**, on share links of the shape the export renders
   (``PUBLIC_URL/r/CODE?src=qr``): the export's render (``qr.render_entry``: fixed mask, the
   version remembered, the PNG written from the modules) in this one process and through a pool
   of ``--processes`` spawned processes handed ``EXPORT_CHUNK`` images at a time (pool start-up
   not counted); and, for comparison, the library's defaults as the export rendered before (best
   of eight masks, the version fitted each time, qrcode's own PIL image), on fewer images.
2. **A real export** (``--members``): a fresh PostgreSQL database with that many members, an
   export of every member queued on Redis and run by a real ``rq worker --burst`` process with
   ``REFERRAL_EXPORT_PROCESSES`` rendering processes; timed from the job taking the export
   (``running``) to ``done``, the segments joined into the ZIP included. It runs twice: the first
   export also creates every member's referral code, the second finds them.

Each figure is images a second (wall clock) and what it makes of 1,000,000 members; with it, the
CPU time an image took (every process of the work, the worker's start-up included) and the rate
that CPU time allows on this machine's cores with nothing else running on them. The load average
is printed before and after: the machine may be shared. The database is dropped at the end.
This is a measuring tool, not a test.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

ADMIN_PG = os.environ.get("MEMBERDAY_BENCH_PG", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MEMBERDAY_BENCH_REDIS", "redis://127.0.0.1:6379/0")
PUBLIC_URL = "https://members.example.com"
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MILLION = 1_000_000

MEMBERS_SQL = """
INSERT INTO members (name, tier, tags, marketing_consent, points_balance, points_pending, orders_count, created_at)
SELECT 'Member ' || n, 'member', '[]'::json, false, 0, 0, 0, now()
FROM generate_series(1, :members) AS n
"""


def entries(count: int, image_format: str) -> list[tuple[str, str, str]]:
    codes = ["".join(secrets.choice(CODE_ALPHABET) for _ in range(7)) for _ in range(count)]
    return [(f"{n}-{code}.{image_format}", f"{PUBLIC_URL}/r/{code}?src=qr", image_format)
            for n, code in enumerate(codes, 1)]


def library_defaults(entry: tuple[str, str, str]) -> tuple[str, bytes]:
    """The image as the export rendered it before: qrcode's defaults and its own PIL image."""
    import qrcode

    name, data, _ = entry
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=10, border=4)
    code.add_data(data)
    code.make(fit=True)
    buffer = BytesIO()
    code.make_image().save(buffer)
    return name, buffer.getvalue()


def rate(label: str, seconds: float, images: int, cpu: float | None = None) -> float:
    """Print images a second (wall clock) and what a million take at that rate; with ``cpu`` (CPU
    seconds, every process of the work), also CPU per image and the rate that would be on as many
    cores as this machine has with nothing else on them."""
    per_second = images / seconds
    line = (f"  {label}: {images:,} images in {seconds:.2f} s = {per_second:,.0f} images/s "
            f"({seconds / images * 1000:.2f} ms an image); 1,000,000 members: {MILLION / per_second / 60:.1f} min")
    if cpu is not None:
        free = os.cpu_count() * images / cpu
        line += (f"; CPU {cpu:.2f} s = {cpu / images * 1000:.2f} ms an image, on {os.cpu_count()} free cores "
                 f"{free:,.0f} images/s, 1,000,000 members: {MILLION / free / 60:.1f} min")
    print(line, flush=True)
    return per_second


def children_cpu() -> float:
    """CPU seconds of this process's finished children (and theirs)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def render_alone(images: int, processes: int, image_format: str) -> None:
    from plugins.referral import qr
    from plugins.referral.services import EXPORT_CHUNK

    work = entries(images, image_format)
    qr.render_entry(work[0])  # the version remembered, as in any export after its first image
    started, cpu = time.perf_counter(), time.process_time()
    for entry in work:
        qr.render_entry(entry)
    rate("render, 1 process", time.perf_counter() - started, images, cpu=time.process_time() - cpu)

    context = multiprocessing.get_context("spawn")
    warm = work[:processes * EXPORT_CHUNK]
    cpu = children_cpu()
    with context.Pool(processes) as pool:  # what starting a pool costs, to take from the next one's CPU
        pool.map(qr.render_entry, warm, chunksize=EXPORT_CHUNK)
    start_up = children_cpu() - cpu
    cpu = children_cpu()
    with context.Pool(processes) as pool:
        pool.map(qr.render_entry, warm, chunksize=EXPORT_CHUNK)  # started and warm
        started, own = time.perf_counter(), time.process_time()
        for _ in pool.imap(qr.render_entry, work, chunksize=EXPORT_CHUNK):
            pass
        seconds, own = time.perf_counter() - started, time.process_time() - own
    rate(f"render, pool of {processes}", seconds, images, cpu=children_cpu() - cpu - start_up + own)

    before = work[:max(images // 20, 50)]
    started, cpu = time.perf_counter(), time.process_time()
    for entry in before:
        library_defaults(entry)
    rate("before: library defaults (best of 8 masks, qrcode's PIL image), 1 process",
         time.perf_counter() - started, len(before), cpu=time.process_time() - cpu)


def database_url(name: str) -> str:
    parts = urlsplit(ADMIN_PG)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def real_export(members: int, processes: int, image_format: str) -> None:
    import psycopg
    from sqlalchemy import text

    from core.testing import make_app, upgrade_database

    name = f"memberday_qrbench_{os.getpid()}_{secrets.token_hex(3)}"
    folder = tempfile.mkdtemp(prefix=name)
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = database_url(name)
        upgrade_database(url)
        settings = {"REFERRAL_EXPORT_DIR": folder, "REFERRAL_EXPORT_PROCESSES": processes, "PUBLIC_URL": PUBLIC_URL}
        app = make_app(url, REDIS_URL=REDIS_URL, RQ_QUEUE=name, **settings)
        with app.app_context():
            from core.extensions import db

            db.session.execute(text(MEMBERS_SQL), {"members": members})
            db.session.commit()
            db.session.execute(text("ANALYZE members"))
            db.session.commit()
        env = dict(os.environ, MEMBERDAY_ENV="testing", DATABASE_URL=url, REDIS_URL=REDIS_URL,
                   MEMBERDAY_RQ_QUEUE=name, SECRET_KEY=app.config["SECRET_KEY"],
                   **{f"MEMBERDAY_{key}": str(value) for key, value in settings.items()})
        rq = os.path.join(os.path.dirname(sys.executable), "rq")
        for label in ("export 1 (creates the codes)", "export 2 (the codes exist)"):
            with app.app_context():
                from plugins.referral import services

                export_id = services.request_qr_export(None, image_format, requested_by="benchmark").id
            cpu = children_cpu()
            worker = subprocess.Popen([rq, "worker", "--burst", "--url", REDIS_URL, name], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            started = finished = None
            while True:
                with app.app_context():
                    export = services.get_export(export_id)
                    status, done, path = export.status, export.done, services.export_path(export)
                now = time.perf_counter()
                if status == "running" and started is None:
                    started = now
                if status in ("done", "failed"):
                    finished = now
                    break
                if worker.poll() is not None:
                    raise SystemExit(f"the worker stopped with the export {status}: {worker.stderr.read().decode()}")
                time.sleep(0.02)
            worker.wait(60)
            if status != "done":
                raise SystemExit(f"the export failed: {export.error}")
            size = os.path.getsize(path)
            # The CPU is the worker's, start to end: its start-up and the rendering processes' included.
            rate(f"{label}, {members:,} members, {processes} rendering processes, ZIP {size / 1e6:.1f} MB",
                 finished - started, done, cpu=children_cpu() - cpu)
            os.remove(path)
        with app.app_context():
            from core.extensions import db
            from core.jobs import queue

            queue().delete(delete_jobs=True)
            db.engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=20_000, help="images rendered alone (0: none)")
    parser.add_argument("--members", type=int, default=20_000, help="members in the real export (0: none)")
    parser.add_argument("--processes", type=int, default=2, help="rendering processes (REFERRAL_EXPORT_PROCESSES)")
    parser.add_argument("--format", dest="image_format", choices=["png", "svg"], default="png")
    args = parser.parse_args(argv)
    print(f"load average before: {' '.join(f'{value:.2f}' for value in os.getloadavg())} "
          f"({os.cpu_count()} CPUs), {time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime())} UTC", flush=True)
    if args.images:
        render_alone(args.images, args.processes, args.image_format)
    if args.members:
        real_export(args.members, args.processes, args.image_format)
    print(f"load average after: {' '.join(f'{value:.2f}' for value in os.getloadavg())}", flush=True)


if __name__ == "__main__":
    main()
