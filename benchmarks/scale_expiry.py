"""The expiry backlog alone: generate N members as scale.py does, expire the 7-day backlog once,
and show where the time went by statement.

    python benchmarks/scale_expiry.py 1000000 2000   # N members, lots per batch
    python benchmarks/scale_expiry.py 1000000 2000 --keep scale1m   # generate once, reuse after

Creates and drops its own database (like scale.py); with ``--keep NAME`` the generated members stay
in the database NAME and each run expires a copy of it. See README.md.
"""
import argparse
import os
import secrets
import sys
import threading
import time
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("MEMBERDAY_ENV", "production")

import psycopg  # noqa: E402

import scale  # noqa: E402
from core.testing import make_app  # noqa: E402


def main(n: int, batch: int, keep: str | None = None, wal_compression: str | None = None,
         parts: int | None = None) -> None:
    from sqlalchemy import event

    name = None
    try:
        name, _ = scale.new_database(n, "memberday_expiry", f"{keep}_{n}" if keep else None)
        url = scale.database_url(name)
        app = make_app(url, ENV_NAME="production", SECRET_KEY=secrets.token_hex(16), WECHAT_TOKEN=secrets.token_hex(16))
        from core.extensions import db
        from core.rewards import services as ledger

        times, counts, counting = defaultdict(float), defaultdict(int), threading.Lock()
        with app.app_context():
            def before(conn, cursor, statement, params, context, many):
                conn.info["started"] = time.perf_counter()

            def after(conn, cursor, statement, params, context, many):
                key = " ".join(statement.split())[:60]
                with counting:  # the parts run on threads of their own
                    times[key] += time.perf_counter() - conn.info["started"]
                    counts[key] += 1

            event.listen(db.engine, "before_cursor_execute", before)
            event.listen(db.engine, "after_cursor_execute", after)
            if wal_compression:
                # A server setting (postgresql.conf); set here for the job's own connections only,
                # which needs a superuser, as the benchmark's connections are.
                @event.listens_for(db.engine, "connect")
                def compress(dbapi_connection, record):
                    with dbapi_connection.cursor() as cursor:
                        cursor.execute(f"SET wal_compression = {wal_compression}")

                db.engine.dispose()
            started = time.perf_counter()
            parts = parts or ledger.expiry_parts()
            expired = ledger.expire_due_lots(batch=batch, parts=parts)
            print(f"{expired:,} lots expired in {(time.perf_counter() - started) * 1000:.0f} ms, {batch} a batch, "
                  f"{parts} part(s) at once")
            db.session.remove()
            db.engine.dispose()
        for key in sorted(times, key=times.get, reverse=True)[:6]:
            print(f"{times[key] * 1000:8.0f} ms {counts[key]:5d}  {key}")
    finally:
        if name is not None:
            with psycopg.connect(scale.ADMIN_PG, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("members", type=int, nargs="?", default=1_000_000)
    parser.add_argument("batch", type=int, nargs="?", default=2000)
    parser.add_argument("--keep", metavar="NAME", help="generate once into the database NAME_<members> and keep it; "
                        "later runs with the same NAME expire a copy of it")
    parser.add_argument("--wal-compression", choices=["off", "pglz", "lz4", "zstd"],
                        help="compress the WAL the job writes (PostgreSQL's wal_compression; default: the server's)")
    parser.add_argument("--parts", type=int, help="members split into this many parts expired at once "
                        "(default: POINTS_EXPIRY_PARTS)")
    args = parser.parse_args()
    main(args.members, args.batch, args.keep, args.wal_compression, args.parts)
