"""Member week at scale: the audience snapshot and announcement of a large audience, and the report,
on PostgreSQL, with the data generated in SQL.

    python benchmarks/member_week_scale.py                                  # 1,000,000 members, 5,000,000 orders
    python benchmarks/member_week_scale.py --members 100000 --orders 500000 # a smaller run

One run creates a fresh database ``memberday_weekbench_<pid>_<random>``, migrates it, generates the
members and their orders over the past year with ``INSERT ... SELECT generate_series`` (3 % of the
orders refunded), sets each member's order dates and count from their paid orders, and then times,
in this process, exactly what the jobs run:

* ``snapshot``: the clock job announcing a week for every member (``services.tick`` at the week's
  ``announce_at``): one INSERT ... SELECT of the audience with stage and holdout;
* ``announce``: the announcement job (``services.announce``): every participant notified once, in
  batches of ``notify_batch_size``, one delivery job queued per batch (on a throwaway rq queue when
  Redis answers, so that delivery through the channels, a separate job, is not in the figure);
* ``report``: the report job (``report.compute``) over the week's window.

It prints each figure with members per second, and drops the database (``--keep`` keeps it).
This is a measuring tool, not a test.
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

ADMIN_PG = os.environ.get("MEMBERDAY_BENCH_PG", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MEMBERDAY_BENCH_REDIS", "redis://127.0.0.1:6379/0")

MEMBERS_SQL = """
INSERT INTO members (name, tier, tags, marketing_consent, points_balance, points_pending, orders_count,
                     created_at)
SELECT 'Member ' || n,
       (ARRAY['member', 'member', 'member', 'silver', 'silver', 'gold', 'platinum'])[1 + n % 7],
       (CASE n % 5 WHEN 0 THEN '["beauty"]' WHEN 1 THEN '["beauty", "coffee"]' ELSE '[]' END)::json,
       n % 2 = 0, 0, 0, 0, now() - (730 * random()) * interval '1 day'
FROM generate_series(1, :members) AS n
"""

ORDERS_SQL = """
INSERT INTO orders (external_id, member_id, amount, status, multiplier, points_earned, paid_at, refunded_at,
                    created_at)
SELECT 'B' || n, m, amount, CASE WHEN n % 33 = 0 THEN 'refunded' ELSE 'paid' END, 1, floor(amount),
       paid_at, CASE WHEN n % 33 = 0 THEN paid_at + interval '2 days' END, paid_at
FROM (SELECT n,
             -- 60 % of members ever buy; some buy often
             1 + floor(:members * 0.6 * power(random(), 1.5))::int AS m,
             round((80 + 1200 * random() * random())::numeric, 2) AS amount,
             now() - (365 * random()) * interval '1 day' AS paid_at
      FROM generate_series(:low, :high) AS n) AS g
"""

MEMBER_DATES_SQL = """
UPDATE members SET orders_count = o.count, first_order_at = o.first, last_order_at = o.last
FROM (SELECT member_id, count(*) AS count, min(paid_at) AS first, max(paid_at) AS last
      FROM orders WHERE status = 'paid' GROUP BY member_id) AS o
WHERE members.id = o.member_id
"""


def database_url(name: str) -> str:
    parts = urlsplit(ADMIN_PG)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def redis_available() -> bool:
    try:
        from redis import Redis

        return bool(Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


def step(label: str, func):
    started = time.perf_counter()
    result = func()
    elapsed = time.perf_counter() - started
    print(f"{label:<34} {elapsed:8.1f} s", flush=True)
    return result, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=5_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="DATABASE", help="measure again on a database a --keep run left "
                        "(its weeks, snapshots and notifications are removed first)")
    args = parser.parse_args()

    import psycopg
    from sqlalchemy import text

    name = args.reuse or f"memberday_weekbench_{os.getpid()}_{secrets.token_hex(3)}"
    if not args.reuse:
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    url = database_url(name)
    queue = f"memberday-weekbench-{secrets.token_hex(4)}"
    redis = REDIS_URL if redis_available() else None
    print(f"database {name}; {args.members:,} members, {args.orders:,} orders; "
          f"deliveries {'queued on ' + queue if redis else 'run inline (no Redis)'}", flush=True)
    try:
        from core import create_app
        from core.testing import upgrade_database

        if not args.reuse:
            upgrade_database(url)
        app = create_app({"ENV_NAME": "production", "DATABASE_URL": url, "REDIS_URL": redis, "RQ_QUEUE": queue,
                          "SECRET_KEY": secrets.token_hex(16)})
        with app.app_context():
            from core.database import transaction, utcnow
            from core.extensions import db
            from plugins.member_week import report, services

            def generate():
                with transaction():
                    db.session.execute(text(MEMBERS_SQL), {"members": args.members})
                chunk = 1_000_000
                for low in range(1, args.orders + 1, chunk):
                    with transaction():
                        db.session.execute(text(ORDERS_SQL), {"members": args.members, "low": low,
                                                              "high": min(args.orders, low + chunk - 1)})
                with transaction():
                    db.session.execute(text(MEMBER_DATES_SQL))
                db.session.commit()
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))

            def forget_weeks():
                with transaction():
                    db.session.execute(text("TRUNCATE member_week_weeks, notifications CASCADE"))
                with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                    conn.execute(text("VACUUM ANALYZE"))

            step("generate members and orders (SQL)", forget_weeks if args.reuse else generate)
            now = utcnow()
            zone = services.brand_zone()
            start = (now - timedelta(days=12)).astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
            announce_at = start - timedelta(days=30)
            week = services.create_week({
                "name": "Benchmark week", "starts_at": start, "ends_at": start + timedelta(days=7),
                "announce_at": announce_at, "points_multiplier": 2, "audience": {}, "holdout_percent": 10,
                "benefits": []}, now=announce_at - timedelta(days=1))
            week_id = week.id

            moved, snapshot_s = step("snapshot (clock job at announce_at)", lambda: services.tick(now=announce_at))
            week = services.get_week(week_id)
            size, participants = week.audience_size, week.participants_count
            sent, announce_s = step("announcement (every participant)", lambda: services.announce(week_id))
            figures, report_s = step("report", lambda: report.compute(week_id))
            figures_again, report2_s = step("report again (warm)", lambda: report.compute(week_id))

        print()
        print(f"audience {size:,} members, {participants:,} participants, {size - participants:,} held out; "
              f"{sent:,} notified")
        print(f"snapshot      {snapshot_s:6.1f} s  {size / snapshot_s:10,.0f} members/s")
        print(f"announcement  {announce_s:6.1f} s  {sent / announce_s:10,.0f} members/s")
        print(f"both          {snapshot_s + announce_s:6.1f} s  {size / (snapshot_s + announce_s):10,.0f} members/s")
        print(f"report        {report_s:6.1f} s (then {report2_s:.1f} s); participants {figures['participants']:,}, "
              f"uplift {figures['uplift']['conversion_rate']} {figures['uplift']['conversion_rate_ci95']}")
    finally:
        if redis:
            from redis import Redis
            from rq import Queue

            Queue(queue, connection=Redis.from_url(REDIS_URL)).delete(delete_jobs=True)
        if not args.keep:
            with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            print(f"dropped {name}")


if __name__ == "__main__":
    main()
