"""The scale benchmark: lists, search, targeting, the referral funnel and jobs at N members and N/10.

    python benchmarks/scale.py --members 1000000

For each size it creates a database, migrates it, generates the members and their history in SQL
(orders, ledger entries and lots, referral clicks and referrals, one member with a long ledger),
rebuilds the referral rollups as the migration would, runs ANALYZE, then times every case through
the app (the API through Flask's test client, in this process; services called directly) and drops
the database. It prints each case's median at N/10 and at N and how it grew. See README.md.
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import time
from datetime import timedelta
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

ADMIN_PG = os.environ.get("MEMBERDAY_BENCH_PG", "postgresql://127.0.0.1:5432/test")
# Jobs are queued as in production (a queue of the run's own, emptied at the end; nothing works it).
REDIS = os.environ.get("MEMBERDAY_BENCH_REDIS", "redis://127.0.0.1:6379/0")
HEAVY_ENTRIES = 20_000  # the ledger of member 1: a member whose history is long
MANY_LOTS = 10_000  # member 2 has this many spendable lots: a spend must not read them all
RELEASE_BATCH = 200  # referrals released by one batch of the release job
QR_MEMBERS = 2_000  # members in the timed QR export


def database_url(name: str) -> str:
    parts = urlsplit(ADMIN_PG)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


GENERATE = [
    # Members: names from common family and given names, a phone and e-mail each, tiers and tags in
    # fixed proportions, 0-5 orders with the last one up to 400 days ago.
    """
    INSERT INTO members (id, name, phone, email, tier, tags, marketing_consent, points_balance, points_pending,
                         orders_count, first_order_at, last_order_at, created_at)
    SELECT i,
           (ARRAY['Chen','Lin','Wang','Huang','Chang','Li','Wu','Liu','Tsai','Yang'])[1 + i % 10] || ' ' ||
           (ARRAY['Mei-ling','Wei','Jun','Hui','Yi-ting','Chih-hao','Shu-fen','Ming'])[1 + (i / 10) % 8] || ' ' || i,
           '+8869' || lpad(i::text, 8, '0'), 'm' || i || '@example.com',
           (ARRAY['member','member','member','silver','silver','gold','platinum'])[1 + (i::bigint * 7919) % 7],
           (CASE WHEN i % 20 = 0 THEN '["vip"]' WHEN i % 20 = 1 THEN '["vip", "coffee"]'
                 WHEN i % 20 < 6 THEN '["coffee"]' ELSE '[]' END)::json,
           i % 3 = 0, 0, 0, oc,
           CASE WHEN oc > 0 THEN last - (oc - 1) * interval '20 days' END,
           CASE WHEN oc > 0 THEN last END,
           now() - interval '3 years' + i * interval '1 second'
    FROM (SELECT i, (abs(hashint4(i)::bigint) % 6) AS oc,
                 now() - (abs(hashint4(i + 1)::bigint) % 400) * interval '1 day' - (i % 86400) * interval '1 second' AS last
          FROM generate_series(1, :n) AS i) AS g
    """,
    "SELECT setval(pg_get_serial_sequence('members', 'id'), :n)",
    # Each order earned points: an order, a credit entry and a lot that expires after a year; the
    # lots of the last 7 days are still active: the backlog the expiry job finds after a week off.
    # Orders, entries and lots are inserted in the order they were paid, as a shop reports them, so
    # rows of the same days sit together on disk and their ids and order numbers follow time (a
    # member's rows are spread over the years, as they are in a real ledger).
    """
    INSERT INTO orders (external_id, member_id, amount, status, multiplier, points_earned, paid_at, created_at)
    SELECT 'B' || lpad((row_number() OVER (ORDER BY paid, member_id, k))::text, 9, '0'), member_id, 100, 'paid', 1,
           100, paid, paid
    FROM (SELECT m.id AS member_id, k, m.last_order_at - k * interval '20 days' AS paid
          FROM members m, generate_series(0, m.orders_count - 1) AS k) AS o
    ORDER BY paid, member_id, k
    """,
    """
    INSERT INTO points_entries (member_id, kind, points, pending_points, reason, source, created_at)
    SELECT member_id, 'credit', 100, 0, 'Order', 'order:' || external_id, paid_at FROM orders ORDER BY id
    """,
    """
    INSERT INTO points_lots (member_id, source, points, remaining, status, expires_at, created_at)
    SELECT member_id, 'order:' || external_id, 100, CASE WHEN active THEN 100 ELSE 0 END,
           CASE WHEN active THEN 'active' ELSE 'expired' END, paid_at + interval '365 days', paid_at
    FROM (SELECT *, paid_at > now() - interval '372 days' AS active FROM orders) AS o ORDER BY id
    """,
    f"""
    INSERT INTO points_entries (member_id, kind, points, pending_points, reason, source, created_at)
    SELECT 1, 'credit', 1, 0, 'Stamp', 'stamp:' || k, now() - k * interval '1 minute'
    FROM generate_series(1, {HEAVY_ENTRIES}) AS k
    """,
    """
    UPDATE members SET points_balance = b.balance
    FROM (SELECT member_id, sum(remaining) AS balance FROM points_lots WHERE status = 'active' GROUP BY member_id) b
    WHERE members.id = b.member_id
    """,
    # Member 2 collected stamps: MANY_LOTS spendable lots of 3 points, expiring over the next months.
    f"""
    INSERT INTO points_lots (member_id, source, points, remaining, status, expires_at, created_at)
    SELECT 2, 'stamp-lot:' || k, 3, 3, 'active', now() + interval '30 days' + (k % 5000) * interval '1 hour', now()
    FROM generate_series(1, {MANY_LOTS}) AS k
    """,
    f"""
    INSERT INTO points_entries (member_id, kind, points, pending_points, reason, source, lot_id, created_at)
    SELECT 2, 'credit', 3, 0, 'Stamp', source, id, now() FROM points_lots WHERE member_id = 2 AND source LIKE 'stamp-lot:%'
    """,
    # Share-link visits: two per member, from a fifth of the members, over the last 90 days.
    """
    INSERT INTO referral_clicks (referrer_id, source, user_agent, client_hash, created_at)
    SELECT 1 + i % greatest(:n / 5, 1), CASE WHEN i % 3 = 0 THEN 'qr' ELSE 'link' END, '', '',
           now() - (i % 90) * interval '1 day' - (i % 3600) * interval '1 second'
    FROM generate_series(1, 2 * :n) AS i
    """,
    # A tenth of the members joined through a friend's code.
    """
    INSERT INTO referral_referrals (referrer_id, referee_id, code, channel, status, reason, created_at, qualified_at,
                                    hold_until, rewarded_at, reversed_at)
    SELECT 1 + i % greatest(:n / 50, 1), i * 10, 'C', 'api', s,
           CASE WHEN s = 'rejected' THEN 'self_referral' WHEN s = 'reversed' THEN 'refunded_during_hold' END,
           t, CASE WHEN s IN ('held', 'rewarded', 'reversed') THEN t + interval '1 day' END,
           CASE WHEN s IN ('held', 'rewarded', 'reversed') THEN t + interval '15 days' END,
           CASE WHEN s = 'rewarded' THEN t + interval '15 days' END,
           CASE WHEN s = 'reversed' THEN t + interval '3 days' END
    FROM (SELECT i, (ARRAY['pending','held','rewarded','rewarded','rejected','reversed'])[1 + i % 6] AS s,
                 now() - (i % 120) * interval '1 day' - interval '16 days' AS t
          FROM generate_series(1, :n / 10) AS i) AS g
    """,
    # Held referrals (all past their hold) have their rewards booked as pending lots, as qualify does.
    """
    INSERT INTO points_lots (member_id, source, points, remaining, status, expires_at, created_at)
    SELECT CASE WHEN side = 'referee' THEN r.referee_id ELSE r.referrer_id END, 'referral:' || r.id || ':' || side,
           CASE WHEN side = 'referee' THEN 100 ELSE 200 END, CASE WHEN side = 'referee' THEN 100 ELSE 200 END,
           'pending', r.hold_until + interval '365 days', r.qualified_at
    FROM referral_referrals r, (VALUES ('referee'), ('referrer')) AS s (side) WHERE r.status = 'held'
    """,
    """
    INSERT INTO points_entries (member_id, kind, points, pending_points, reason, source, lot_id, expires_at,
                                created_at)
    SELECT member_id, 'hold', 0, points, 'Referral reward', source, id, expires_at, created_at
    FROM points_lots WHERE status = 'pending' AND source LIKE 'referral:%'
    """,
    """
    UPDATE members SET points_balance = b.balance, points_pending = b.pending
    FROM (SELECT member_id, coalesce(sum(remaining) FILTER (WHERE status = 'active'), 0) AS balance,
                 coalesce(sum(remaining) FILTER (WHERE status = 'pending'), 0) AS pending
          FROM points_lots WHERE status IN ('active', 'pending') GROUP BY member_id) b
    WHERE members.id = b.member_id
    """,
]


def generate(app, n: int) -> float:
    from sqlalchemy import text

    from core.extensions import db
    from plugins.referral import rollup

    started = time.perf_counter()
    with app.app_context():
        with db.engine.begin() as connection:
            for statement in GENERATE:
                connection.execute(text(statement), {"n": n})
            rollup.rebuild(connection)
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def cases(app, n: int) -> dict:
    """Each case: a callable doing one operation as an operator or a job would."""
    from core.auth.services import create_operator
    from core.database import utcnow
    from core.members import audience
    from core.members.audience import Audience
    from core.rewards import services as ledger
    from plugins.referral import services as referral

    with app.app_context():
        _, token = create_operator(f"bench-{secrets.token_hex(3)}", "admin")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    middle = n // 2

    def get(path):
        def call():
            response = client.get(path, headers=headers)
            assert response.status_code == 200, (path, response.get_json())
        return call

    def in_app(func):
        def call():
            with app.app_context():
                func()
        return call

    cursor = client.get(f"/api/v1/members?per_page=1&after=" + _cursor(middle + 1), headers=headers).get_json()
    assert cursor["items"], cursor
    points_after = _cursor(_nth_entry(app, 1, HEAVY_ENTRIES // 2))
    return {
        "members, page 1": get("/api/v1/members"),
        "members, page 1, count=exact": get("/api/v1/members?count=exact"),
        "members, at the middle (after=)": get(f"/api/v1/members?after={_cursor(middle)}"),
        "members, page 200 (page=)": get("/api/v1/members?page=200&per_page=50"),
        "search: exact phone": get(f"/api/v1/members?q=%2B8869{middle:08d}"),
        "search: exact e-mail": get(f"/api/v1/members?q=m{middle}@example.com"),
        "search: name fragment": get("/api/v1/members?q=yi-ting%20chen"),
        "filter: tag=vip, page 1": get("/api/v1/members?tag=vip"),
        "filter: stage=at_risk, page 1": get("/api/v1/members?stage=at_risk"),
        "filter: tags_any + stage + tier": get("/api/v1/members?tags_any=vip,coffee&stage=lapsed&tier=gold"),
        "stage counts, every member": in_app(lambda: audience.count_by_stage(Audience())),
        "audience preview with overlap": in_app(lambda: audience.overlap(Audience(tags_all=("vip",)),
                                                                         Audience(stages=("active", "new")))),
        "points history, page 1 (20k entries)": get("/api/v1/members/1/points"),
        "points history, middle (after=)": get(f"/api/v1/members/1/points?after={points_after}"),
        "referral funnel, all time": in_app(lambda: referral.funnel("all")),
        "referral funnel, this month": in_app(lambda: referral.funnel("month")),
        "referral leaderboard, all time": in_app(lambda: referral.leaderboard("all")),
        "referral leaderboard, this week": in_app(lambda: referral.leaderboard("week")),
        "referral stats of a member": in_app(lambda: referral.member_stats(1)),
        "lot expiry job, nothing due": in_app(lambda: ledger.expire_due(utcnow() - timedelta(days=800))),
        f"spend of 30 points, member with {MANY_LOTS:,} lots": in_app(
            lambda: ledger.debit(2, 30, "Bench spend", f"bench:spend:{secrets.token_hex(6)}")),
    }


def once(app) -> dict:
    """Cases that change the data: timed once, last."""
    from sqlalchemy import select

    from core.extensions import db
    from core.members.models import Member
    from core.rewards import services as ledger
    from plugins.referral import services as referral

    figures = {}

    def timed(label, func):
        with app.app_context():
            started = time.perf_counter()
            result = func()
            figures[label] = (time.perf_counter() - started) * 1000
            db.session.remove()
        print(f"  {label}: {figures[label]:.0f} ms ({result})", flush=True)

    timed("lot expiry job, 7-day backlog", lambda: ledger.expire_due())
    timed(f"referral release, one batch of {RELEASE_BATCH}", lambda: referral.release_batch(batch=RELEASE_BATCH))

    def export():
        ids = list(db.session.scalars(select(Member.id).order_by(Member.id.desc()).limit(QR_MEMBERS)))
        job = referral.request_qr_export(ids, run_in_background=False)
        return referral.build_qr_export(job.id)

    timed(f"QR export, {QR_MEMBERS:,} members", export)
    return figures


def _cursor(member_id: int) -> str:
    from core.schemas import encode_cursor

    return encode_cursor([member_id])


def _nth_entry(app, member_id: int, nth: int) -> int:
    from sqlalchemy import select

    from core.extensions import db
    from core.rewards.models import PointsEntry

    with app.app_context():
        return db.session.scalar(select(PointsEntry.id).where(PointsEntry.member_id == member_id)
                                 .order_by(PointsEntry.id.desc()).offset(nth).limit(1))


class DatabaseTime:
    """Seconds spent inside the driver's execute calls (the statement on the server and its round
    trip), summed: what a case costs the database, apart from the request around it."""

    def __init__(self) -> None:
        self.total = 0.0

    def watch(self, engine) -> None:
        from sqlalchemy import event

        def before(conn, cursor, statement, params, context, many):
            conn.info["scale_started"] = time.perf_counter()

        def after(conn, cursor, statement, params, context, many):
            self.total += time.perf_counter() - conn.info.pop("scale_started", time.perf_counter())

        event.listen(engine, "before_cursor_execute", before)
        event.listen(engine, "after_cursor_execute", after)


def measure(call, repeat: int, database: DatabaseTime) -> tuple[float, float]:
    """(median wall ms, median database ms) of ``repeat`` calls after a warm-up."""
    call()  # warm: caches, plans, the pool
    timings, in_database = [], []
    for _ in range(repeat):
        database.total = 0.0
        started = time.perf_counter()
        call()
        timings.append(time.perf_counter() - started)
        in_database.append(database.total)
    return statistics.median(timings) * 1000, statistics.median(in_database) * 1000


def _database_exists(name: str) -> bool:
    import psycopg

    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def new_database(n: int, prefix: str, keep: str | None = None) -> tuple[str, float | None]:
    """A database of N generated members for one run; returns its name and the generation's seconds.

    Without ``keep`` it is created and generated here (dropped by the caller). With ``keep``, the
    database ``keep`` is generated once if it does not exist yet and kept; each run works on a
    copy of it (``CREATE DATABASE … TEMPLATE``), so the cases that change data start the same way
    every time and nothing is generated twice. Drop the kept database by hand when done.
    """
    import psycopg

    from core.testing import make_app, upgrade_database

    name = f"{prefix}_{n}_{secrets.token_hex(3)}"
    seconds = None
    if keep is not None and _database_exists(keep):
        print(f"  copying the kept database {keep}", flush=True)
    else:
        target = keep or name
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{target}"')
        url = database_url(target)
        upgrade_database(url)
        app = make_app(url, ENV_NAME="production", SECRET_KEY=secrets.token_hex(16), WECHAT_TOKEN=secrets.token_hex(16))
        seconds = generate(app, n)
        with app.app_context():
            from core.extensions import db

            db.engine.dispose()
        print(f"  {n:,} members generated in {seconds:.0f} s", flush=True)
    if keep is not None:
        with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{keep}" STRATEGY FILE_COPY')
    return name, seconds


def run_size(n: int, repeat: int, sql: dict, keep: str | None = None) -> tuple[dict, float]:
    """Time every case at ``n`` members: wall ms per case returned, database ms per case put in ``sql``."""
    import psycopg

    from core.testing import make_app

    name = None
    try:
        name, seconds = new_database(n, "memberday_scale", keep)
        url = database_url(name)
        app = make_app(url, ENV_NAME="production", SECRET_KEY=secrets.token_hex(16), WECHAT_TOKEN=secrets.token_hex(16),
                       REFERRAL_EXPORT_DIR=os.path.join(os.environ.get("TMPDIR", "/tmp"), name),
                       REDIS_URL=REDIS, RQ_QUEUE=name)
        database = DatabaseTime()
        with app.app_context():
            from core.extensions import db

            database.watch(db.engine)
        figures = {}
        for label, call in cases(app, n).items():
            figures[label], sql[label] = measure(call, repeat, database)
        figures.update(once(app))
        with app.app_context():
            from core.extensions import db
            from core.jobs import queue

            queue().delete(delete_jobs=True)
            db.engine.dispose()
        return figures, seconds
    finally:
        import shutil

        if name is not None:
            shutil.rmtree(os.path.join(os.environ.get("TMPDIR", "/tmp"), name), ignore_errors=True)
            with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000, help="N: the larger size (N/10 is run too)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs of each case (the median is shown)")
    parser.add_argument("--keep", metavar="NAME", help="generate each size once into the database NAME_<size> and "
                        "keep it; later runs with the same NAME work on a copy of it instead of generating again")
    parser.add_argument("--only-n", action="store_true", help="time N only (not N/10)")
    args = parser.parse_args(argv)
    os.environ.setdefault("MEMBERDAY_ENV", "production")
    sizes = [max(args.members // 10, 10), args.members]
    if args.only_n:
        sizes = [args.members]
    results, sql = {}, {}
    for n in sizes:
        print(f"{n:,} members:", flush=True)
        sql[n] = {}
        results[n], _ = run_size(n, args.repeat, sql[n], f"{args.keep}_{n}" if args.keep else None)
    large = sizes[-1]
    in_db = {label: f"{sql[large][label]:.1f}" if label in sql[large] else "-" for label in results[large]}
    if args.only_n:
        print(f"\n| case | {large:,} members (ms) | in the database (ms) |")
        print("| --- | ---: | ---: |")
        for label, figure in results[large].items():
            print(f"| {label} | {figure:.1f} | {in_db[label]} |")
        return
    small = sizes[0]
    print(f"\n| case | {small:,} members (ms) | {large:,} members (ms) | growth | in the database at "
          f"{large:,} (ms) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label in results[large]:
        a, b = results[small][label], results[large][label]
        print(f"| {label} | {a:.1f} | {b:.1f} | ×{b / a:.1f} | {in_db[label]} |")


if __name__ == "__main__":
    main()
