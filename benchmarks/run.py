"""Memberday benchmarks: requests per second and latency through gunicorn on PostgreSQL.

    python benchmarks/run.py                 # the full run (a few minutes)
    python benchmarks/run.py --quick         # a short run (well under a minute)
    python benchmarks/run.py --only host     # some cases: names or groups, comma-separated

One run creates a fresh PostgreSQL database, migrates it with ``memberday db
upgrade``, seeds it through the real services, starts gunicorn (2 workers)
serving ``benchmarks/wsgi.py`` on a free port of 127.0.0.1, measures every case
against its baseline in the same run, prints the tables, and removes what it
created. Each case is measured in short windows, each right next to a window
of its baseline, the order alternating (case-base, base-case, ...); its ratio
is the median of those adjacent pairs, so that other work on the machine,
which comes and goes over seconds, hits both sides of a pair alike.

This is a measuring tool, not a test: nothing here runs in the test suite.
See README.md in this folder for what each case measures and why.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import loadgen  # noqa: E402
from loadgen import build_request, http_client, measure  # noqa: E402

ADMIN_PG = os.environ.get("MEMBERDAY_BENCH_PG", "postgresql://127.0.0.1:5432/test")
REDIS_URL = os.environ.get("MEMBERDAY_BENCH_REDIS", "redis://127.0.0.1:6379/0")
GUNICORN_WORKERS = 2
GUNICORN_THREADS = 8

PROFILES = {
    "full": dict(pairs=4, duration=2.0, host_pairs=6, host_duration=1.0, warmup=0.5,
                 mall_pairs=4, mall_duration=2.0, mall_warmup=1.0,
                 host_mixed_pairs=4, host_mixed_duration=3.0, host_mixed_clients=GUNICORN_WORKERS,
                 readers=100, reader_orders=5, order_members=200, http_concurrency=8,
                 mall_concurrency=50, click_codes=50, qr_codes=20, cold_qr=40, host_blocks=10, host_block=400,
                 week_pairs=4, week_duration=2.0, week_warmup=1.0, week_concurrency=50, week_members=120_000),
    "quick": dict(pairs=1, duration=1.0, host_pairs=1, host_duration=0.8, warmup=0.3,
                  mall_pairs=1, mall_duration=1.0, mall_warmup=1.0,
                  host_mixed_pairs=1, host_mixed_duration=1.5, host_mixed_clients=GUNICORN_WORKERS,
                  readers=20, reader_orders=3, order_members=50, http_concurrency=8,
                  mall_concurrency=50, click_codes=20, qr_codes=10, cold_qr=10, host_blocks=5, host_block=150,
                  week_pairs=1, week_duration=1.0, week_warmup=1.0, week_concurrency=50, week_members=40_000),
}
MALL_COST = 10  # points per redemption; members get enough for every redemption a run can make


# --------------------------------------------------------------------------- cases


@dataclass
class Case:
    name: str
    group: str  # "core", "host", "referral", "mall", "week"
    issue: int
    what: str
    make_client: Callable[[dict], Callable]  # (context) -> loadgen make_client
    baseline: str | None = "bare"
    concurrency: str = "http_concurrency"  # profile key
    timing: str = ""  # "", "host_" or "mall_": which pairs/duration/warmup profile keys to use
    needs: tuple = ()  # plugin ids that must be usable
    plugins: str = "builtin"  # which plugins are on while it runs: "builtin" (shipped with Memberday) or "all"


def _json(data) -> bytes:
    return json.dumps(data).encode()


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


JSON_TYPE = {"Content-Type": "application/json"}


def _http(ctx, request_for, expect, label=None):
    """Keep-alive clients spread evenly over the gunicorn workers."""
    return http_client(ctx["port"], request_for, expect, label, workers=GUNICORN_WORKERS)


def bare_client(ctx):
    request = build_request("GET", "/bench/bare", ctx["port"])
    return _http(ctx, lambda i, seq: request, (200,))


def points_client(ctx):
    requests = [build_request("GET", f"/api/v1/members/{mid}/points", ctx["port"], _bearer(token))
                for mid, token in ctx["readers"]]
    return _http(ctx, lambda i, seq: requests[(i * 31 + seq) % len(requests)], (200,))


def orders_client(ctx):
    members = ctx["order_members"]
    nonce = secrets.token_hex(4)
    headers = dict(_bearer(ctx["admin_token"]), **JSON_TYPE)

    def request_for(i, seq):
        body = {"external_id": f"bench-{nonce}-{i}-{seq}", "member_id": members[(i * 37 + seq) % len(members)],
                "amount": "25.00"}
        return build_request("POST", "/api/v1/orders", ctx["port"], headers, _json(body))

    return _http(ctx, request_for, (201,))


def hook_client(prefix: str):
    def make(ctx):
        request = build_request("GET", f"{prefix}/bench/hook", ctx["port"])
        return _http(ctx, lambda i, seq: request, (200,))

    return make


def host_mixed_client(ctx):
    """One client per worker, alternating the two hook routes request by request: both routes meet the
    same machine at the same moments, and with no queue in front of them a request's time is its own."""
    spreader = loadgen.Spreader(ctx["port"], GUNICORN_WORKERS)
    routes = [("hook_plugins", build_request("GET", "/with-plugins/bench/hook", ctx["port"])),
              ("hook_no_plugins", build_request("GET", "/no-plugins/bench/hook", ctx["port"]))]

    def make(index: int):
        conn = spreader.connect()

        def operation(seq: int):
            name, request = routes[(seq + index) % 2]
            return name, conn.request(request).status == 200

        return operation, conn.close

    return make


def click_client(ctx):
    headers = {"User-Agent": "Mozilla/5.0 (memberday benchmark)"}
    requests = [build_request("GET", f"/r/{code}", ctx["port"], headers) for code in ctx["click_codes"]]
    return _http(ctx, lambda i, seq: requests[(i * 7 + seq) % len(requests)], (303,))


def qr_revalidate_client(ctx):
    requests = [build_request("GET", f"/r/{code}/qr.png", ctx["port"], {"If-None-Match": f'"{etag}"'})
                for code, etag in ctx["qr_codes"]]
    return _http(ctx, lambda i, seq: requests[(i * 3 + seq) % len(requests)], (304,))


def qr_warm_client(ctx):
    requests = [build_request("GET", f"/r/{code}/qr.png", ctx["port"]) for code, _ in ctx["qr_codes"]]
    return _http(ctx, lambda i, seq: requests[(i * 3 + seq) % len(requests)], (200,))


def _created_or_error_code(response) -> str:
    """How a response counts: 201, or the status with the error code of the body."""
    if response.status == 201:
        return "201"
    try:
        return f"{response.status} {json.loads(response.body)['error']['code']}"
    except (ValueError, KeyError, TypeError):
        return str(response.status)


def redeem_client(spread: bool):
    """Each client is one member redeeming, with its own token and a fresh Idempotency-Key each time."""

    def make(ctx):
        nonce = secrets.token_hex(4)
        members, items = ctx["mall_members"], ctx["mall_items"]

        def request_for(i, seq):
            member_id, token = members[i % len(members)]
            item_id = items[i % len(items)] if spread else ctx["mall_hot_item"]
            headers = dict(_bearer(token), **JSON_TYPE, **{"Idempotency-Key": f"bench-{nonce}-{i}-{seq}"})
            body = _json({"member_id": member_id, "item_id": item_id})
            return build_request("POST", "/api/v1/mall/redemptions", ctx["port"], headers, body)

        return _http(ctx, request_for, (201,), _created_or_error_code)

    return make


def floor_client(spread: bool):
    """PostgreSQL's own floor: the two conditional updates a redemption must make, and a commit."""

    def make_factory(ctx):
        import psycopg

        members, items = ctx["floor_members"], ctx["floor_items"]

        def make(index: int):
            conn = psycopg.connect(ctx["database_url"])
            member_id = members[index % len(members)]
            item_id = items[index % len(items)] if spread else ctx["floor_hot_item"]

            def operation(seq: int):
                with conn.cursor() as cur:
                    cur.execute("UPDATE points_mall_items SET stock = stock - 1 WHERE id = %s AND stock > 0",
                                (item_id,))
                    took_stock = cur.rowcount == 1
                    cur.execute("UPDATE members SET points_balance = points_balance - %s "
                                "WHERE id = %s AND points_balance >= %s", (MALL_COST, member_id, MALL_COST))
                    took_points = cur.rowcount == 1
                if took_stock and took_points:
                    conn.commit()
                    return "committed", True
                conn.rollback()
                return "refused", False

            return operation, conn.close

        return make

    return make_factory


def claim_client(ctx):
    """Each request is a claim of the one hot benefit by a member who has not claimed it yet (a new
    Idempotency-Key each time): members are handed out from one counter across windows and clients."""
    nonce = secrets.token_hex(4)
    members, week_id, benefit_id = ctx["week_members"], ctx["week_id"], ctx["week_hot_benefit"]
    body = _json({"benefit_id": benefit_id})

    def request_for(i, seq):
        n = next(ctx["week_claim_counter"])
        _, token = members[n % len(members)]
        headers = dict(_bearer(token), **JSON_TYPE, **{"Idempotency-Key": f"bench-{nonce}-{n}"})
        return build_request("POST", f"/api/v1/member-weeks/{week_id}/claim", ctx["port"], headers, body)

    return _http(ctx, request_for, (201,), _created_or_error_code)


def claim_floor_client(ctx):
    """PostgreSQL's own floor for a claim: the claim row (its unique key), stock-1 on the ONE benefit
    row with a conditional UPDATE, and a commit."""
    import psycopg

    members, week_id, benefit_id = ctx["week_members"], ctx["week_id"], ctx["week_floor_benefit"]

    def make(index: int):
        conn = psycopg.connect(ctx["database_url"])

        def operation(seq: int):
            member_id, _ = members[next(ctx["week_floor_counter"]) % len(members)]
            with conn.cursor() as cur:
                cur.execute("INSERT INTO member_week_claims (week_id, benefit_id, member_id, created_at) "
                            "VALUES (%s, %s, %s, now()) ON CONFLICT DO NOTHING", (week_id, benefit_id, member_id))
                claimed = cur.rowcount == 1
                cur.execute("UPDATE member_week_benefits SET stock = stock - 1, claimed = claimed + 1 "
                            "WHERE id = %s AND stock > 0", (benefit_id,))
                took = cur.rowcount == 1
            if claimed and took:
                conn.commit()
                return "committed", True
            conn.rollback()
            return "refused", False

        return operation, conn.close

    return make


CASES: list[Case] = [
    Case("bare", "core", 2, "GET /bench/bare: a bare Flask JSON endpoint in the same app (the baseline)",
         bare_client, baseline=None),
    Case("points_read", "core", 2, "GET /api/v1/members/{id}/points with the member's own token",
         points_client),
    Case("order_report", "core", 2, "POST /api/v1/orders, a new external id each time (operator token)",
         orders_client),
    Case("hook_no_plugins", "host", 3, "GET /no-plugins/bench/hook: enabled-check + multiplier hook, "
         "app built with no plugin", hook_client("/no-plugins"), baseline=None, timing="host_"),
    Case("hook_plugins", "host", 3, "GET /with-plugins/bench/hook: the same route, every installed plugin "
         "registered, the built-in ones on", hook_client("/with-plugins"), baseline="hook_no_plugins",
         timing="host_"),
    Case("hook_all_plugins", "host", 3, "GET /with-plugins/bench/hook with every installed plugin on, "
         "third-party ones too (their multiplier hooks run)", hook_client("/with-plugins"),
         baseline="hook_no_plugins", timing="host_", plugins="all"),
    Case("host_mixed", "host", 3, "the two hook routes above, alternated request by request on one "
         "connection per worker, in the same windows", host_mixed_client, baseline=None,
         concurrency="host_mixed_clients", timing="host_mixed_"),
    Case("referral_click", "referral", 4, "GET /r/{code}: click counted, attribution cookie, 303 (not followed)",
         click_client, needs=("referral",)),
    Case("qr_revalidate", "referral", 4, "GET /r/{code}/qr.png with If-None-Match: 304",
         qr_revalidate_client, needs=("referral",)),
    Case("qr_warm", "referral", 4, "GET /r/{code}/qr.png, image already made in this worker: 200",
         qr_warm_client, needs=("referral",)),
    Case("floor_hot", "mall", 5, "psycopg: stock-1 on ONE item row + balance-cost on the client's member row, "
         "commit", floor_client(spread=False), baseline=None, concurrency="mall_concurrency", timing="mall_",
         needs=("points_mall",)),
    Case("mall_hot", "mall", 5, "POST /api/v1/mall/redemptions, all clients on one item (Idempotency-Key)",
         redeem_client(spread=False), baseline="floor_hot", concurrency="mall_concurrency", timing="mall_",
         needs=("points_mall",)),
    Case("floor_spread", "mall", 5, "psycopg: the same two updates, each client on its own item row",
         floor_client(spread=True), baseline=None, concurrency="mall_concurrency", timing="mall_",
         needs=("points_mall",)),
    Case("mall_spread", "mall", 5, "POST /api/v1/mall/redemptions, each client on its own item",
         redeem_client(spread=True), baseline="floor_spread", concurrency="mall_concurrency", timing="mall_",
         needs=("points_mall",)),
    Case("week_floor_hot", "week", 11, "psycopg: claim row + stock-1 on ONE benefit row, commit (a new member "
         "each time)", claim_floor_client, baseline=None, concurrency="week_concurrency", timing="week_",
         needs=("member_week",)),
    Case("week_claim_hot", "week", 11, "POST /api/v1/member-weeks/{id}/claim, all clients on one coupon benefit "
         "(a new member each time, Idempotency-Key)", claim_client, baseline="week_floor_hot",
         concurrency="week_concurrency", timing="week_", needs=("member_week",)),
]
BY_NAME = {case.name: case for case in CASES}


@dataclass
class Goal:
    text: str
    needs: tuple  # case names (or "cold_qr") whose figures it reads
    check: Callable[[dict], tuple[str, bool]]  # summary -> (figure, met)


def ratio_goal(case: str, minimum: float, issue: int, of: str = "bare") -> Goal:
    def check(summary):
        ratio = summary["cases"][case]["ratio"]
        return f"{ratio:.0%} of {of}", ratio >= minimum

    return Goal(f"issue {issue}: {case} >= {minimum:.0%} of {of}", (case,), check)


def _host_check(summary):
    overhead = summary["host_overhead"]
    return f"{overhead:+.1%} time per request (CPU: {summary['host_cpu_overhead']:+.1%})", overhead < 0.05


def _host_mixed_check(summary):
    mixed = summary["host_mixed"]
    return (f"{mixed['overhead']:+.1%} mean time per request ({mixed['plugins_mean_ms']:.3f} vs "
            f"{mixed['no_plugins_mean_ms']:.3f} ms; windows {mixed['min']:+.1%} to {mixed['max']:+.1%})",
            mixed["overhead"] < 0.05)


def _host_in_process_check(summary):
    figures = summary["host_in_process"]
    return (f"{figures['overhead']:+.1%} CPU per request ({figures['plugins_ms']:.3f} vs "
            f"{figures['no_plugins_ms']:.3f} ms)", figures["overhead"] < 0.05)


def _cold_qr_check(summary):
    cold = summary["cold_qr"]
    return f"median {cold['http_p50_ms']:.1f} ms over HTTP (p95 {cold['http_p95_ms']:.1f}; " \
           f"image alone {cold['generate_p50_ms']:.1f} ms)", cold["http_p50_ms"] < 20


def _week_hot_check(summary):
    ratio = summary["cases"]["week_claim_hot"]["ratio"]
    if not ratio:
        return "no claim completed in the windows", False
    return f"floor is {1 / ratio:.1f}x the hot benefit's claim rate", 1 / ratio <= 3


def _floor_check(summary, case: str, limit: float):
    ratio = summary["cases"][case]["ratio"]
    if not ratio:
        return "nothing completed in the windows", False
    return f"floor is {1 / ratio:.1f}x its rate", 1 / ratio <= limit


def _mall_hot_check(summary):
    ratio = summary["cases"]["mall_hot"]["ratio"]
    if not ratio:
        return "no redemption completed in the windows", False
    return f"floor is {1 / ratio:.1f}x the hot item's rate", 1 / ratio <= 4


GOALS: list[Goal] = [
    ratio_goal("points_read", 0.50, 2),
    ratio_goal("order_report", 0.25, 2),
    Goal("issue 3: plugin host overhead < 5%, through gunicorn, paired windows (hook_plugins vs hook_no_plugins)",
         ("hook_plugins",), _host_check),
    Goal("issue 3: plugin host overhead < 5%, through gunicorn, routes alternated (host_mixed)", ("host_mixed",),
         _host_mixed_check),
    Goal("issue 3: plugin host overhead < 5%, in process (CPU clock)", ("host_in_process",),
         _host_in_process_check),
    ratio_goal("referral_click", 0.50, 4),
    ratio_goal("qr_revalidate", 0.70, 4),
    ratio_goal("qr_warm", 0.70, 4),
    Goal("issue 4: a cold QR image < 20 ms", ("cold_qr",), _cold_qr_check),
    Goal("issue 5: mall_hot within 4x of floor_hot", ("mall_hot",), _mall_hot_check),
    Goal("issue 11: week_claim_hot within 3x of week_floor_hot", ("week_claim_hot",), _week_hot_check),
    ratio_goal("points_read", 0.60, 14),
    ratio_goal("order_report", 0.30, 14),
    ratio_goal("referral_click", 0.60, 14),
    ratio_goal("qr_revalidate", 0.85, 14),
    Goal("issue 14: mall_hot within 2.5x of floor_hot", ("mall_hot",), lambda s: _floor_check(s, "mall_hot", 2.5)),
    Goal("issue 14: week_claim_hot within 2.5x of week_floor_hot", ("week_claim_hot",),
         lambda s: _floor_check(s, "week_claim_hot", 2.5)),
    Goal("issue 14: p95 of a redemption at 50 clients (mall_hot) < 100 ms", ("mall_hot",),
         lambda s: (f"{s['cases']['mall_hot']['p95_ms']:.0f} ms", s["cases"]["mall_hot"]["p95_ms"] < 100)),
]


# --------------------------------------------------------------------------- environment


def database_url(name: str) -> str:
    parts = urlsplit(ADMIN_PG)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def create_database() -> str:
    import psycopg

    name = f"memberday_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    import psycopg

    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def redis_available() -> bool:
    try:
        from redis import Redis

        return bool(Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except Exception:
        return False


def empty_queue(queue_name: str) -> None:
    try:
        from redis import Redis
        from rq import Queue

        Queue(queue_name, connection=Redis.from_url(REDIS_URL)).empty()
    except Exception as exc:  # cleaning up is best effort
        print(f"  (could not empty the rq queue {queue_name}: {exc})")


def memberday_command() -> list[str]:
    script = Path(sys.executable).with_name("memberday")
    if script.exists():
        return [str(script)]
    found = shutil.which("memberday")
    if not found:
        sys.exit("the `memberday` command is not installed (pip install -e . in the repository)")
    return [found]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((loadgen.LOOPBACK, 0))
        return sock.getsockname()[1]


def start_gunicorn(env: dict, port: int, log_path: Path, bench_dir: Path = HERE,
                   cwd: Path | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "gunicorn", "--workers", str(GUNICORN_WORKERS),
               "--worker-class", "gthread", "--threads", str(GUNICORN_THREADS),
               "--bind", f"{loadgen.LOOPBACK}:{port}", "--keep-alive", "60", "--timeout", "120",
               "--log-level", "warning", "--pythonpath", str(bench_dir), "wsgi:application"]
    log = open(log_path, "wb")
    # ``python -m`` puts the working directory first on sys.path: the reference tree runs from its own.
    proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=str(cwd) if cwd else None)
    deadline = time.time() + 60
    probe = build_request("GET", "/bench/bare", port)
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        conn = loadgen.HttpConnection(port, timeout=5)
        try:
            if conn.request(probe).status == 200:
                return proc
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.2)
    stop(proc)
    raise RuntimeError(f"gunicorn did not answer within a minute:\n{log_path.read_text()[-3000:]}")


def stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def gunicorn_workers(proc: subprocess.Popen) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


class CpuProbe:
    """CPU seconds used over a measuring window by the gunicorn workers, by this database's
    PostgreSQL backends and by the whole machine (Linux ``/proc``; no figures elsewhere).

    What is left of the machine's busy time after the app, the database and the load generator
    is "other programs": on a shared machine, other people's work.
    """

    def __init__(self, workers: list[int], db_name: str) -> None:
        import psycopg

        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.workers = workers
        self.conn = psycopg.connect(ADMIN_PG, autocommit=True)
        self.db_name = db_name
        self.before: dict = {}

    def _proc(self, pid: int) -> float:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / self.tick
        except (OSError, IndexError, ValueError):
            return 0.0

    def _backends(self) -> list[int]:
        rows = self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.db_name,)).fetchall()
        return [row[0] for row in rows]

    def _machine(self) -> tuple[float, float]:
        try:
            values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
        except (OSError, ValueError):
            return 0.0, 0.0
        idle = values[3] + values[4]
        return (sum(values) - idle) / self.tick, sum(values) / self.tick

    def _snapshot(self) -> dict:
        busy, total = self._machine()
        return {"app": {pid: self._proc(pid) for pid in self.workers},
                "db": {pid: self._proc(pid) for pid in self._backends()}, "busy": busy, "total": total}

    def start(self) -> None:
        self.before = self._snapshot()

    def stop(self) -> dict:
        after, before = self._snapshot(), self.before

        def used(kind):
            return sum(value - before[kind].get(pid, 0.0) for pid, value in after[kind].items())

        if not after["total"]:
            return {}
        return {"app": used("app"), "db": used("db"), "machine_busy": after["busy"] - before["busy"],
                "machine_total": after["total"] - before["total"]}

    def close(self) -> None:
        self.conn.close()


# --------------------------------------------------------------------------- seeding


def seed(profile: dict, wanted: set[str]) -> dict:
    """An operator, and the members, orders and plugin data the ``wanted`` cases use, through the real services."""
    from core import create_app
    from core.auth.services import create_operator
    from core.extensions import db
    from core.members.services import create_member
    from core.orders.services import report_paid_order
    from core.plugins.host import current_host
    from core.plugins.services import set_enabled

    app = create_app()
    ctx: dict = {}
    with app.app_context():
        host = current_host()
        _, ctx["admin_token"] = create_operator("bench-admin", "admin")
        ctx["plugins"] = {r.id: {"status": r.status, "error": r.error, "distribution": r.distribution}
                          for r in host.records.values()}
        usable = host.usable()
        ctx["builtin_plugins"] = sorted(r.id for r in usable if r.distribution == "memberday")
        ctx["all_plugins"] = sorted(r.id for r in usable)
        ctx["plugin_order"] = _dependency_order(usable)
        for plugin_id in ctx["plugin_order"]:
            set_enabled(plugin_id, True, actor="benchmarks")
        for plugin_id in reversed(ctx["plugin_order"]):
            if plugin_id not in ctx["builtin_plugins"]:
                set_enabled(plugin_id, False, actor="benchmarks")
        host.forget_state()
        ctx["plugins_on"] = sorted(host.state().enabled)
        ctx["multiplier_impls"] = sorted(impl.plugin_name for impl in host.pm.hook.memberday_points_multiplier.get_hookimpls())

        if "points_read" in wanted:
            readers = []
            for n in range(profile["readers"]):
                member, token = create_member(f"Reader {n}", phone=f"+8869{n:08d}")
                for k in range(profile["reader_orders"]):
                    report_paid_order(f"seed-{member.id}-{k}", member.id, _money(100 + 7 * k))
                readers.append((member.id, token))
            ctx["readers"] = readers
        if "order_report" in wanted:
            ctx["order_members"] = [create_member(f"Buyer {n}", phone=f"+8868{n:08d}")[0].id
                                    for n in range(profile["order_members"])]
        if wanted & {c.name for c in CASES if c.group == "referral"}:
            seed_referral(profile, ctx)
        if wanted & {c.name for c in CASES if c.group == "mall"}:
            seed_mall(profile, ctx)
        if wanted & {c.name for c in CASES if c.group == "week"}:
            seed_week(profile, ctx)
        db.session.remove()
        db.engine.dispose()
    return ctx


def seed_referral(profile: dict, ctx: dict) -> None:
    """Members with referral codes: some for clicks, some for warm QR images, some never asked for (cold)."""
    from core.members.services import create_member
    from plugins.referral import services

    def codes(prefix: str, count: int) -> list[str]:
        return [services.code_for(create_member(f"{prefix} {n}")[0].id).code for n in range(count)]

    ctx["click_codes"] = codes("Sharer", profile["click_codes"])
    ctx["qr_codes"] = [(code, services.qr_etag(services.scan_url(code), "png"))
                       for code in codes("Poster", profile["qr_codes"])]
    ctx["cold_codes"] = codes("Newcomer", profile["cold_qr"] + 5)


def seed_mall(profile: dict, ctx: dict) -> None:
    """One hot item, one item per client, members with points; separate rows for the psycopg floor."""
    from core.members.services import create_member
    from core.rewards import services as rewards
    from plugins.points_mall import services as mall

    clients = profile["mall_concurrency"]
    big_stock = 50_000_000
    points = MALL_COST * 1_000_000

    def item(name: str) -> int:
        return mall.create_item({"name": name, "points_cost": MALL_COST, "stock": big_stock}).id

    def members(prefix: str) -> list:
        out = []
        for n in range(clients):
            member, token = create_member(f"{prefix} {n}")
            rewards.credit(member.id, points, "Benchmark points", f"bench:{prefix}:{member.id}")
            out.append((member.id, token))
        return out

    ctx["mall_hot_item"] = item("Hot coffee voucher")
    ctx["mall_items"] = [item(f"Quiet item {n}") for n in range(clients)]
    ctx["mall_members"] = members("Shopper")
    ctx["floor_hot_item"] = item("Floor hot item")
    ctx["floor_items"] = [item(f"Floor item {n}") for n in range(clients)]
    ctx["floor_members"] = [mid for mid, _ in members("Floor member")]


def seed_week(profile: dict, ctx: dict) -> None:
    """``week_members`` members (written in bulk: a claim needs a member who has not claimed yet), a running
    week for all of them with no holdout, a hot coupon benefit and a separate one for the psycopg floor."""
    import itertools

    from sqlalchemy import insert

    from core.auth.services import MEMBER_PREFIX, hash_token, new_token
    from core.database import transaction, utcnow
    from core.extensions import db
    from core.members.models import Member
    from core.rewards.services import create_template
    from plugins.member_week import services as weeks

    members = []
    for start in range(0, profile["week_members"], 10_000):
        tokens = [new_token(MEMBER_PREFIX) for _ in range(start, min(start + 10_000, profile["week_members"]))]
        rows = [{"name": f"Week member {start + n}", "token_hash": hash_token(token), "tier": "member", "tags": [],
                 "marketing_consent": False, "points_balance": 0, "points_pending": 0, "orders_count": 0,
                 "created_at": utcnow()} for n, token in enumerate(tokens)]
        with transaction():
            ids = db.session.scalars(insert(Member).returning(Member.id, sort_by_parameter_order=True), rows).all()
        members.extend(zip(ids, tokens))
    template = create_template("Partner café coffee", value=120, channel="offline", valid_days=30)
    now = utcnow()
    week = weeks.create_week({"name": "Benchmark week", "starts_at": now - timedelta(hours=1),
                              "ends_at": now + timedelta(days=7), "announce_at": now - timedelta(hours=2),
                              "points_multiplier": 2, "audience": {}, "holdout_percent": 0, "benefits": [
                                  {"title": "Hot coffee", "kind": "coupon", "coupon_template_id": template.id,
                                   "stock": 50_000_000},
                                  {"title": "Floor coffee", "kind": "coupon", "coupon_template_id": template.id,
                                   "stock": 50_000_000}]}, now=now - timedelta(hours=3))
    ctx["week_id"] = week.id
    ctx["week_hot_benefit"], ctx["week_floor_benefit"] = [benefit.id for benefit in week.benefits]
    ctx["week_members"] = members
    ctx["week_claim_counter"] = itertools.count()
    ctx["week_floor_counter"] = itertools.count()
    weeks.take_snapshot(week, now)  # the audience, without sending an announcement to every member
    week.status = "running"
    db.session.commit()


def _money(value):
    from decimal import Decimal

    return Decimal(value).quantize(Decimal("0.01"))


def _dependency_order(records) -> list[str]:
    """Plugin ids, each after the plugins it depends on."""
    order: list[str] = []
    pending = {r.id: r for r in records}
    while pending:
        ready = [pid for pid, r in pending.items() if all(dep not in pending for dep in r.info.depends_on)]
        if not ready:  # a cycle or a missing dependency: the host refuses those; leave them off
            break
        for pid in sorted(ready):
            order.append(pid)
            del pending[pid]
    return order


def set_plugins(ctx: dict, which: str) -> None:
    """Switch plugins through the API (PATCH /api/v1/plugins/{id}) so that exactly the wanted ones are on."""
    wanted = ctx[f"{which}_plugins"]
    current = set(ctx.get("plugins_on") or ())
    if current == set(wanted):
        return
    order = ctx["plugin_order"]
    steps = [(pid, False) for pid in reversed(order) if pid in current and pid not in wanted]
    steps += [(pid, True) for pid in order if pid in wanted and pid not in current]
    conn = loadgen.HttpConnection(ctx["port"])
    headers = dict(_bearer(ctx["admin_token"]), **JSON_TYPE)
    try:
        for plugin_id, enabled in steps:
            body = _json({"enabled": enabled})
            response = conn.request(build_request("PATCH", f"/api/v1/plugins/{plugin_id}", ctx["port"], headers, body))
            if response.status != 200:
                raise RuntimeError(f"could not switch {plugin_id}: {response.status} {response.body[:300]!r}")
    finally:
        conn.close()
    ctx["plugins_on"] = sorted(wanted)


# --------------------------------------------------------------------------- measuring


def select_cases(only: str | None, available: set[str]) -> list[Case]:
    cases = [case for case in CASES if case.name in available]
    if not only:
        return cases
    wanted = {word.strip() for word in only.split(",") if word.strip()}
    unknown = wanted - set(BY_NAME) - {c.group for c in CASES}
    if unknown:
        sys.exit(f"unknown case or group: {', '.join(sorted(unknown))}; cases: {', '.join(BY_NAME)}; "
                 f"groups: {', '.join(sorted({c.group for c in CASES}))}")
    chosen = {c.name for c in cases if c.name in wanted or c.group in wanted}
    chosen |= {BY_NAME[name].baseline for name in chosen if BY_NAME[name].baseline}  # never without its baseline
    return [c for c in cases if c.name in chosen]


def measure_case(case: Case, ctx: dict, profile: dict, log, label: str) -> loadgen.Result:
    set_plugins(ctx, case.plugins)
    result = measure(case.name, case.make_client(ctx), profile[case.concurrency],
                     profile[case.timing + "duration"], profile.get(case.timing + "warmup", profile["warmup"]),
                     probe=ctx.get("probe"))
    log_result(log, label, result)
    return result


def run_pairs(cases: list[Case], ctx: dict, profile: dict, log) -> tuple[dict, dict]:
    """Measure each case in windows right next to its baseline's, alternating which goes first."""
    results: dict[str, list[loadgen.Result]] = {c.name: [] for c in cases}
    pairs: dict[str, list[tuple[loadgen.Result, loadgen.Result]]] = {}
    targets = [c for c in cases if c.baseline]
    rounds = max([profile[c.timing + "pairs"] for c in targets], default=0)
    for r in range(rounds):
        shift = r % max(1, len(targets))
        for k, case in enumerate(targets[shift:] + targets[:shift]):
            if r >= profile[case.timing + "pairs"]:
                continue
            base = BY_NAME[case.baseline]
            order = (case, base) if (r + k) % 2 == 0 else (base, case)
            got = {c.name: measure_case(c, ctx, profile, log, f"pair {r + 1}") for c in order}
            for name, result in got.items():
                results[name].append(result)
            pairs.setdefault(case.name, []).append((got[case.name], got[base.name]))
    for case in cases:  # a baseline chosen alone still gets measured
        if not results[case.name]:
            for r in range(profile[case.timing + "pairs"]):
                results[case.name].append(measure_case(case, ctx, profile, log, f"round {r + 1}"))
    return results, pairs


# Cases measured against the same route of the commit given to --compare: the requests the
# member and the shop make (not the psycopg floors, not the host's own bench routes).
COMPARED_GROUPS = {"core", "referral", "mall", "week"}


def compare_pairs(cases: list[Case], ctx: dict, ref_ctx: dict, profile: dict, log) -> dict:
    """Each case on this tree's gunicorn and on the reference commit's, in adjacent windows of
    the same run (the order alternating): the median ratio of this tree's rate to the reference's."""
    compared: dict = {}
    for case in cases:
        if case.group not in COMPARED_GROUPS or case.name.startswith(("floor_", "week_floor")):
            continue
        head_runs, ref_runs, ratios = [], [], []
        for r in range(profile[case.timing + "pairs"]):
            sides = [("head", ctx), ("ref", ref_ctx)]
            if r % 2:
                sides.reverse()
            got = {label: measure_case(case, side, profile, log, f"compare {r + 1} {label}") for label, side in sides}
            head_runs.append(got["head"])
            ref_runs.append(got["ref"])
            if got["ref"].rps:
                ratios.append(got["head"].rps / got["ref"].rps)
        compared[case.name] = {
            "ratio": statistics.median(ratios) if ratios else None, "ratios": ratios,
            "head_rps": statistics.median(run.rps for run in head_runs),
            "ref_rps": statistics.median(run.rps for run in ref_runs),
            "head_p95_ms": statistics.median(run.p95_ms for run in head_runs),
            "ref_p95_ms": statistics.median(run.p95_ms for run in ref_runs),
            "ref_errors": sum(run.errors for run in ref_runs),
        }
    return compared


def export_commit(ref: str, into: Path) -> str:
    """The tree of git commit ``ref`` (e.g. ``main``) unpacked into ``into``; its full commit id."""
    repo = HERE.parent
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", f"{ref}^{{commit}}"],
                            capture_output=True, text=True, check=True).stdout.strip()
    into.mkdir(parents=True)
    archive = subprocess.Popen(["git", "-C", str(repo), "archive", commit], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(into)], stdin=archive.stdout, check=True)
    if archive.wait():
        raise RuntimeError(f"git archive {ref} failed")
    return commit


def postgres_settings(url: str) -> dict:
    """The PostgreSQL settings a result depends on, recorded with it."""
    import psycopg

    names = ("server_version", "synchronous_commit", "fsync", "autovacuum", "autovacuum_naptime",
             "autovacuum_vacuum_scale_factor", "shared_buffers", "max_connections")
    with psycopg.connect(url, autocommit=True) as conn:
        return {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in names}


HOT_TABLES = ("points_mall_items", "members", "member_week_benefits")


def tune_hot_tables(url: str) -> list[str]:
    """Vacuum the rows every redemption updates, and have autovacuum keep at them during the run, so
    a long run measures the app and not the dead row versions a hot row leaves behind."""
    import psycopg

    tuned = []
    with psycopg.connect(url, autocommit=True) as conn:
        for table in HOT_TABLES:
            if conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0] is None:
                continue
            conn.execute(f"ALTER TABLE {table} SET (autovacuum_vacuum_scale_factor = 0, "
                         "autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0)")
            conn.execute(f"VACUUM (ANALYZE) {table}")
            tuned.append(table)
    return tuned


def cold_qr(ctx: dict, profile: dict, log) -> dict:
    """A QR image no worker has made yet: one request per fresh code, one at a time, and the image alone."""
    from plugins.referral import services

    codes = ctx["cold_codes"]
    conn = loadgen.HttpConnection(ctx["port"])
    http = []
    try:
        conn.request(build_request("GET", f"/r/{codes[0]}/qr.png", ctx["port"]))  # connect; not counted
        for code in codes[1:profile["cold_qr"] + 1]:
            started = time.perf_counter()
            response = conn.request(build_request("GET", f"/r/{code}/qr.png", ctx["port"]))
            elapsed = time.perf_counter() - started
            if response.status != 200 or not response.body.startswith(b"\x89PNG"):
                raise RuntimeError(f"cold QR for {code}: {response.status}")
            http.append(elapsed * 1000)
    finally:
        conn.close()
    generate = []
    make = getattr(services.qr_image, "__wrapped__", services.qr_image)
    for n in range(profile["cold_qr"]):
        data = f"http://127.0.0.1:5000/r/BENCH{n:04d}?src=qr"
        started = time.perf_counter()
        make(data, "png")
        generate.append((time.perf_counter() - started) * 1000)
    http.sort()
    generate.sort()
    figures = {"requests": len(http), "http_p50_ms": statistics.median(http),
               "http_p95_ms": loadgen.percentile(http, 0.95), "http_max_ms": http[-1],
               "generate_p50_ms": statistics.median(generate), "generate_p95_ms": loadgen.percentile(generate, 0.95)}
    log(f"  cold QR: {figures['requests']} fresh codes, HTTP median {figures['http_p50_ms']:.1f} ms, "
        f"p95 {figures['http_p95_ms']:.1f} ms, max {figures['http_max_ms']:.1f} ms; "
        f"the image alone (in this process) median {figures['generate_p50_ms']:.1f} ms")
    return figures


def host_in_process(ctx: dict, profile: dict, log) -> dict:
    """The host pair again, without the network: this process calls the WSGI app of ``wsgi.py``
    directly, alternating the two routes request by request, and times each call with the CPU clock
    of this thread, which other programs on the machine do not move (they still share the caches).
    PostgreSQL's side of the version query is the same for both routes and is not in these figures.
    """
    from werkzeug.test import EnvironBuilder

    set_plugins(ctx, "builtin")
    import wsgi  # builds both apps here, on the benchmark database

    paths = {"hook_plugins": "/with-plugins/bench/hook", "hook_no_plugins": "/no-plugins/bench/hook"}

    def call(path: str) -> None:
        environ = EnvironBuilder(path=path, base_url="http://127.0.0.1").get_environ()
        status = []
        body = b"".join(wsgi.application(environ, lambda s, h, e=None: status.append(s)))
        if not status or not status[0].startswith("200"):
            raise RuntimeError(f"{path}: {status} {body[:200]!r}")

    for name in paths.values():  # warm both: caches, pools, the plugin state
        for _ in range(50):
            call(name)
    per_request: dict[str, list[float]] = {name: [] for name in paths}
    names = list(paths)
    for r in range(profile["host_blocks"]):  # requests alternate A, B, B, A, ...; each timed on its own
        spent = {name: 0.0 for name in names}
        for i in range(profile["host_block"]):
            for name in (names if i % 2 == 0 else names[::-1]):
                started = time.thread_time()
                call(paths[name])
                spent[name] += time.thread_time() - started
        for name in names:
            per_request[name].append(spent[name] * 1000 / profile["host_block"])
    ratios = [a / b for a, b in zip(per_request["hook_plugins"], per_request["hook_no_plugins"])]
    figures = {"blocks": profile["host_blocks"], "requests_per_block": profile["host_block"],
               "plugins_ms": statistics.median(per_request["hook_plugins"]),
               "no_plugins_ms": statistics.median(per_request["hook_no_plugins"]),
               "overhead": statistics.median(ratios) - 1, "overhead_min": min(ratios) - 1,
               "overhead_max": max(ratios) - 1}
    log(f"  host in process: {figures['plugins_ms']:.3f} ms CPU per request with plugins, "
        f"{figures['no_plugins_ms']:.3f} ms without; overhead {figures['overhead']:+.1%} "
        f"({figures['overhead_min']:+.1%} to {figures['overhead_max']:+.1%} over {len(ratios)} blocks)")
    return figures


def statements_per_request(cases: list[Case], ctx: dict) -> dict[str, dict]:
    """What one request of each HTTP case sends to PostgreSQL, replayed in this process through
    ``wsgi.py``: ``statements``, SQL statements counted on every engine's events (not the
    transaction's BEGIN, COMMIT or ROLLBACK, nor a statement sent on the driver's own connection,
    as the member's own points page is), and ``trips``, round trips counted on the wire
    (``core.testing.WireTrace``: every statement and every BEGIN and COMMIT)."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool
    from werkzeug.test import EnvironBuilder

    import wsgi
    from core.testing import WireTrace

    counts: dict[str, dict] = {}
    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    try:
        for case in cases:
            request_for = getattr(case.make_client(ctx), "request_for", None)
            if request_for is None:
                continue
            set_plugins(ctx, case.plugins)
            for attempt in range(2):  # the first may fill a per-process cache; the second is the steady state
                head, _, body = request_for(0, 10**9 + attempt).partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines[1:]]
                headers = [(k, v) for k, v in headers if k.lower() not in ("host", "connection", "content-length")]
                path, _, query = target.partition("?")
                environ = EnvironBuilder(path=path, query_string=query, method=method, headers=headers,
                                         data=body or None, base_url="http://127.0.0.1").get_environ()
                seen.clear()
                statuses: list[str] = []
                with WireTrace(Pool) as wire:
                    body_out = b"".join(wsgi.application(environ,
                                                         lambda status, hdrs, exc=None: statuses.append(status)))
            if not statuses or int(statuses[0][:3]) >= 400:
                raise RuntimeError(f"replaying {case.name}: {statuses} {body_out[:300]!r}")
            counts[case.name] = {"statements": len(seen), "trips": wire.trips}
            if os.environ.get("MEMBERDAY_BENCH_SHOW_SQL"):
                print(f"--- {case.name}", *(" ".join(statement.split())[:160] for statement in seen), sep="\n  ")
                print("  on the wire:", *(line[:160] for line in wire.lines), sep="\n    ")
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    return counts


def cpu_per_op(result: loadgen.Result) -> dict:
    """CPU milliseconds per successful operation: app, database, load generator; other programs in cores."""
    cpu, ops = result.cpu, max(1, result.ok)
    if "machine_busy" not in cpu:
        return {}
    other = max(0.0, cpu["machine_busy"] - cpu["app"] - cpu["db"] - cpu["client"])
    return {"app_ms": cpu["app"] * 1000 / ops, "db_ms": cpu["db"] * 1000 / ops,
            "client_ms": cpu["client"] * 1000 / ops, "other_cores": other / max(1e-9, result.seconds)}


def log_result(log, label: str, result: loadgen.Result) -> None:
    split = cpu_per_op(result)
    cpu_text = (f"  cpu ms/op: app {split['app_ms']:.2f} db {split['db_ms']:.2f} client {split['client_ms']:.2f}"
                f"; other programs {split['other_cores']:.2f} cores") if split else ""
    log(f"  {label:<8} {result.name:<17} {result.rps:8.1f}/s  p50 {result.p50_ms:6.2f} ms  "
        f"p95 {result.p95_ms:6.2f} ms  errors {result.errors}{cpu_text}"
        + (f"  outcomes {result.outcomes}" if result.errors else "")
        + (f"  first error: {result.first_error}" if result.first_error else ""))


def _median_split(splits: list[dict]) -> dict:
    splits = [s for s in splits if s]
    if not splits:
        return {}
    return {key: statistics.median(s[key] for s in splits) for key in splits[0]}


def summarise(cases: list[Case], results: dict, pairs: dict, extra: dict) -> dict:
    summary: dict = {"cases": {}}
    for case in cases:
        runs = results[case.name]
        ratios = [a.rps / b.rps for a, b in pairs.get(case.name, []) if b.rps]
        summary["cases"][case.name] = {
            "issue": case.issue, "what": case.what, "baseline": case.baseline if ratios else None,
            "plugins_on": case.plugins, "concurrency": runs[0].concurrency, "windows": len(runs),
            "rps": statistics.median(run.rps for run in runs),
            "p50_ms": statistics.median(run.p50_ms for run in runs),
            "p95_ms": statistics.median(run.p95_ms for run in runs),
            "errors": sum(run.errors for run in runs),
            "cpu_per_op": _median_split([cpu_per_op(run) for run in runs]),
            "ratio": statistics.median(ratios) if ratios else None, "ratios": ratios,
            "runs": [run.as_dict() for run in runs],
        }
    if "hook_plugins" in pairs and summary["cases"]["hook_plugins"]["ratio"]:
        summary["host_overhead"] = 1 / summary["cases"]["hook_plugins"]["ratio"] - 1
        cpu = [(cpu_per_op(a), cpu_per_op(b)) for a, b in pairs["hook_plugins"]]
        cpu_ratios = [(a["app_ms"] + a["db_ms"]) / (b["app_ms"] + b["db_ms"]) for a, b in cpu if a and b]
        summary["host_cpu_overhead"] = statistics.median(cpu_ratios) - 1 if cpu_ratios else float("nan")
    mixed = results.get("host_mixed")
    if mixed:
        ratios = [run.by_label["hook_plugins"]["mean_ms"] / run.by_label["hook_no_plugins"]["mean_ms"]
                  for run in mixed if {"hook_plugins", "hook_no_plugins"} <= set(run.by_label)]
        means = {name: statistics.median(run.by_label[name]["mean_ms"] for run in mixed)
                 for name in ("hook_plugins", "hook_no_plugins")}
        summary["host_mixed"] = {"overhead": statistics.median(ratios) - 1, "min": min(ratios) - 1,
                                 "max": max(ratios) - 1, "windows": len(ratios),
                                 "plugins_mean_ms": means["hook_plugins"],
                                 "no_plugins_mean_ms": means["hook_no_plugins"]}
    hot, spread = summary["cases"].get("floor_hot"), summary["cases"].get("mall_spread")
    if hot and spread:
        spread["ratio_to_floor_hot"] = spread["rps"] / hot["rps"]
    summary.update(extra)
    return summary


def report(summary: dict, goals: list[Goal]) -> str:
    lines = ["| case | clients | ops/s | p50 ms | p95 ms | errors | ratio to | ratio: median (min-max of pairs) |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    for name, row in summary["cases"].items():
        ratio = "-"
        if row["ratio"] is not None:
            ratio = (f"{row['ratio']:.0%} ({min(row['ratios']):.0%}-{max(row['ratios']):.0%}, "
                     f"{len(row['ratios'])} pairs)")
        lines.append(f"| {name} | {row['concurrency']} | {row['rps']:.0f} | {row['p50_ms']:.2f} | "
                     f"{row['p95_ms']:.2f} | {row['errors']} | {row['baseline'] or '-'} | {ratio} |")
    if "ratio_to_floor_hot" in summary["cases"].get("mall_spread", {}):
        lines.append(f"\nmall_spread / floor_hot: {summary['cases']['mall_spread']['ratio_to_floor_hot']:.0%}")
    if "host_mixed" in summary:
        mixed = summary["host_mixed"]
        lines.append(f"\nhost_mixed: with plugins {mixed['plugins_mean_ms']:.3f} ms, without "
                     f"{mixed['no_plugins_mean_ms']:.3f} ms mean per request; overhead {mixed['overhead']:+.1%} "
                     f"(median of {mixed['windows']} windows, {mixed['min']:+.1%} to {mixed['max']:+.1%})")
    if "host_in_process" in summary:
        inproc = summary["host_in_process"]
        lines.append(f"\nhost in process: with plugins {inproc['plugins_ms']:.3f} ms, without "
                     f"{inproc['no_plugins_ms']:.3f} ms CPU per request; overhead {inproc['overhead']:+.1%} "
                     f"(median of {inproc['blocks']} blocks, {inproc['overhead_min']:+.1%} to "
                     f"{inproc['overhead_max']:+.1%})")
    if "cold_qr" in summary:
        cold = summary["cold_qr"]
        lines.append(f"\ncold QR (fresh codes, one at a time): HTTP median {cold['http_p50_ms']:.1f} ms, "
                     f"p95 {cold['http_p95_ms']:.1f} ms; the image alone median {cold['generate_p50_ms']:.1f} ms")
    lines += ["", "CPU per successful operation in ms (median of windows); other programs = the rest of the "
              "machine's busy time, in cores:", "",
              "| case | SQL statements | round trips | app (gunicorn workers) | PostgreSQL | load generator "
              "| other programs (cores) |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    statements = summary.get("statements", {})
    for name, row in summary["cases"].items():
        split = row.get("cpu_per_op")
        if split:
            sent = statements.get(name) or ({"statements": 2, "trips": 4} if name.startswith("floor") else {})
            lines.append(f"| {name} | {sent.get('statements', '-')} | {sent.get('trips', '-')} | "
                         f"{split['app_ms']:.2f} | {split['db_ms']:.2f} | {split['client_ms']:.2f} | "
                         f"{split['other_cores']:.2f} |")
    if summary.get("compare"):
        ref = summary.get("compare_ref", {})
        lines += ["", f"Against {ref.get('ref')} ({ref.get('commit', '')[:10]}), served by a second gunicorn "
                  "in the same run, adjacent windows:", "",
                  "| case | this tree ops/s | reference ops/s | this / reference: median (min-max) | "
                  "p95 ms this / reference | reference ratio to its baseline (implied) |",
                  "|---|---:|---:|---|---|---|"]
        for name, row in summary["compare"].items():
            if row["ratio"] is None:
                continue
            head_ratio = summary["cases"].get(name, {}).get("ratio")
            implied = f"{head_ratio / row['ratio']:.0%}" if head_ratio else "-"
            lines.append(f"| {name} | {row['head_rps']:.0f} | {row['ref_rps']:.0f} | {row['ratio']:.2f}x "
                         f"({min(row['ratios']):.2f}-{max(row['ratios']):.2f}) | {row['head_p95_ms']:.1f} / "
                         f"{row['ref_p95_ms']:.1f} | {implied} |")
    lines += ["", "| goal | measured | met |", "|---|---|---|"]
    for goal in goals:
        if not all(need in summary["cases"] or need in summary for need in goal.needs):
            continue
        figure, met = goal.check(summary)
        lines.append(f"| {goal.text} | {figure} | {'yes' if met else 'NO'} |")
    return "\n".join(lines)


# --------------------------------------------------------------------------- profiling


def profile_cases(cases: list[Case], ctx: dict, profile: dict, workers: list[int], out: Path, log) -> None:
    """Sample both workers with py-spy while each case runs (a separate pass: sampling slows them)."""
    py_spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if not py_spy:
        log("--profile needs py-spy (pip install py-spy, or PY_SPY=/path/to/py-spy)")
        return
    out.mkdir(parents=True, exist_ok=True)
    seconds = 3
    for case in cases:
        set_plugins(ctx, case.plugins)
        files = [out / f"{case.name}-{pid}.txt" for pid in workers]
        samplers = [subprocess.Popen([py_spy, "record", "--pid", str(pid), "--duration", str(seconds + 1),
                                      "--rate", "250", "--format", "raw", "--nonblocking", "--gil",
                                      "--full-filenames", "--output", str(path)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    for pid, path in zip(workers, files)]
        time.sleep(0.5)
        measure(case.name, case.make_client(ctx), profile[case.concurrency], seconds, 0)
        for sampler in samplers:
            sampler.wait()
        stacks = [line for path in files if path.exists() for line in path.read_text().splitlines()]
        text = hottest_frames(stacks)
        (out / f"{case.name}-summary.txt").write_text(text + "\n")
        log(f"profile of {case.name}:\n{text}")


def hottest_frames(lines: list[str], top: int = 20) -> str:
    """Where the workers' Python time goes (py-spy ``--gil``: samples of the thread holding the GIL).

    First by the package of the innermost frame (self time), then the project's own functions with
    the share of samples they appear in (inclusive time).
    """
    repo = str(HERE.parent) + "/"
    by_package: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    total = 0
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(frame, repo) for frame in stack.split(";")]
        total += n
        by_package[frames[-1][0]] = by_package.get(frames[-1][0], 0) + n
        for function in {f[1] for f in frames if f[0] in ("core", "plugins", "benchmarks", "examples")}:
            inclusive[function] = inclusive.get(function, 0) + n
    if not total:
        return "no samples"
    out = [f"{total} samples; self time by package:"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in sorted(by_package.items(), key=lambda i: -i[1])[:12]]
    out.append("project functions, inclusive:")
    out += [f"  {n / total:6.1%}  {name}" for name, n in sorted(inclusive.items(), key=lambda i: -i[1])[:top]]
    return "\n".join(out)


def _frame(frame: str, repo: str) -> tuple[str, str]:
    """(package, "function (file)") for a py-spy frame ``function (path:line)``."""
    function, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    if "-packages/" in path:
        rel = path.split("-packages/", 1)[1]
        return rel.split("/", 1)[0].removesuffix(".py"), f"{function} ({rel})"
    if path.startswith(repo):
        rel = path[len(repo):]
        return rel.split("/", 1)[0], f"{function} ({rel})"
    return "python", f"{function} ({path.rsplit('/', 1)[-1]})"


# --------------------------------------------------------------------------- main


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run (one pair per case, short windows)")
    parser.add_argument("--only", metavar="NAME", help="cases or groups, comma-separated "
                        "(groups: core, host, referral, mall, week)")
    parser.add_argument("--pairs", type=int, help="override the number of pairs per case")
    parser.add_argument("--duration", type=float, help="override the seconds measured per window")
    parser.add_argument("--json", metavar="PATH", help="also write every figure to this JSON file")
    parser.add_argument("--profile", metavar="DIR", help="afterwards, sample the gunicorn workers with py-spy "
                        "during each case and write the hottest frames to DIR")
    parser.add_argument("--compare", metavar="REF", help="also serve git commit REF (e.g. main) with a second "
                        "gunicorn on the same database and measure each request case against it, side by side")
    args = parser.parse_args(argv)

    profile = dict(PROFILES["quick" if args.quick else "full"])
    if args.pairs:
        for key in ("pairs", "host_pairs", "mall_pairs", "host_mixed_pairs"):
            profile[key] = args.pairs
    if args.duration:
        for key in ("duration", "host_duration", "mall_duration", "host_mixed_duration"):
            profile[key] = args.duration
    started = time.time()

    def log(message: str) -> None:
        print(f"[{time.time() - started:6.1f}s] {message}", flush=True)

    import importlib.util

    installed = {pid for pid in ("referral", "points_mall", "member_week") if importlib.util.find_spec(f"plugins.{pid}")}
    pre = [c for c in CASES if all(p in installed for p in c.needs)]
    wanted = {c.name for c in select_cases(args.only, {c.name for c in pre})}

    workdir = Path(tempfile.mkdtemp(prefix="memberday-bench-"))
    db_name = create_database()
    queue_name = f"memberday_bench_{db_name[len('memberday_bench_'):]}"
    env = dict(os.environ, DATABASE_URL=database_url(db_name), MEMBERDAY_ENV="production",
               SECRET_KEY=secrets.token_urlsafe(32), MEMBERDAY_INSTANCE_PATH=str(workdir / "instance"),
               MEMBERDAY_RQ_QUEUE=queue_name, MEMBERDAY_WECHAT_TOKEN=secrets.token_hex(16),
               # The cases measure the platform's work: many calls from one address, not the limiter.
               MEMBERDAY_RATE_LIMITS_ENABLED="0")
    env.pop("REDIS_URL", None)
    use_redis = redis_available()
    if use_redis:
        env["REDIS_URL"] = REDIS_URL
    gunicorn = ref_gunicorn = None
    ctx: dict = {"database_url": database_url(db_name)}
    ref_ctx: dict = {}
    saved_environ = dict(os.environ)
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None
    try:
        log(f"database {db_name}; jobs {'on the rq queue ' + queue_name if use_redis else 'inline (no Redis)'}")
        subprocess.run(memberday_command() + ["db", "upgrade"], env=env, check=True, capture_output=True)
        log("migrated (memberday db upgrade)")
        os.environ.clear()
        os.environ.update(env)
        ctx.update(seed(profile, wanted))
        log(f"seeded; plugins: {json.dumps({k: v['status'] for k, v in ctx['plugins'].items()})}; "
            f"built-in: {ctx['builtin_plugins']}; multiplier hook implemented by: {ctx['multiplier_impls'] or 'none'}")
        available = {c.name for c in CASES if all(ctx["plugins"].get(p, {}).get("status") == "ok" for p in c.needs)}
        for case in CASES:
            if case.name not in available:
                log(f"skipped {case.name}: needs plugin(s) {', '.join(case.needs)}, not usable here")
        cases = select_cases(args.only, available)

        ctx["tuned_tables"] = tune_hot_tables(database_url(db_name))
        ctx["postgres"] = postgres_settings(database_url(db_name))
        log(f"PostgreSQL: {ctx['postgres']}; hot tables vacuumed, autovacuum per 1000 dead rows: "
            f"{', '.join(ctx['tuned_tables'])}")
        ctx["port"] = free_port()
        gunicorn = start_gunicorn(env, ctx["port"], workdir / "gunicorn.log")
        workers = gunicorn_workers(gunicorn)
        ctx["probe"] = CpuProbe(workers, db_name)
        log(f"gunicorn up on {loadgen.LOOPBACK}:{ctx['port']} ({GUNICORN_WORKERS} workers x {GUNICORN_THREADS} "
            f"threads, gthread); load average {load_before}")
        if args.compare:
            ref_dir = workdir / "ref"
            ctx["compare_ref"] = {"ref": args.compare, "commit": export_commit(args.compare, ref_dir)}
            ref_env = dict(env, PYTHONPATH=os.pathsep.join(filter(None, [str(ref_dir), env.get("PYTHONPATH")])))
            ref_ctx = dict(ctx, port=free_port())
            ref_gunicorn = start_gunicorn(ref_env, ref_ctx["port"], workdir / "gunicorn-ref.log",
                                          bench_dir=ref_dir / "benchmarks", cwd=ref_dir)
            ref_ctx["probe"] = CpuProbe(gunicorn_workers(ref_gunicorn), db_name)
            served_from = subprocess.run([sys.executable, "-c", "import core, plugins.referral as r; "
                                          "print(core.__file__, r.__file__)"], env=ref_env, cwd=ref_dir,
                                         capture_output=True, text=True).stdout.strip()
            if not served_from.startswith(str(ref_dir)):
                raise RuntimeError(f"the reference would not run its own code: {served_from}")
            log(f"reference {args.compare} ({ctx['compare_ref']['commit'][:10]}) served on port {ref_ctx['port']} "
                f"from {ref_dir}")

        extra: dict = {}
        results, pairs = run_pairs(cases, ctx, profile, log)
        if args.compare:
            extra["compare"] = compare_pairs(cases, ctx, ref_ctx, profile, log)
            extra["compare_ref"] = ctx["compare_ref"]
        extra["statements"] = statements_per_request(cases, ctx)
        log(f"  SQL statements and round trips per request: {extra['statements']}")
        if "hook_plugins" in {c.name for c in cases}:
            extra["host_in_process"] = host_in_process(ctx, profile, log)
        if "qr_warm" in {c.name for c in cases}:
            extra["cold_qr"] = cold_qr(ctx, profile, log)
        summary = summarise(cases, results, pairs, extra)
        if args.profile:
            profile_cases([c for c in cases], ctx, profile, workers, Path(args.profile), log)
    finally:
        if ctx.get("probe"):
            ctx["probe"].close()
        if ref_ctx.get("probe"):
            ref_ctx["probe"].close()
        os.environ.clear()
        os.environ.update(saved_environ)
        stop(gunicorn)
        stop(ref_gunicorn)
        drop_database(db_name)
        if use_redis:
            empty_queue(queue_name)
        shutil.rmtree(workdir, ignore_errors=True)

    summary["meta"] = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "profile": profile, "cpus": os.cpu_count(), "python": platform.python_version(),
        "machine": platform.platform(), "gunicorn": f"{GUNICORN_WORKERS} workers x {GUNICORN_THREADS} threads",
        "plugins": ctx["plugins"], "builtin_plugins": ctx["builtin_plugins"],
        "multiplier_impls": ctx["multiplier_impls"], "seconds": round(time.time() - started, 1),
        "load_average_before": load_before, "load_average_after": os.getloadavg() if load_before else None,
        "postgres": ctx.get("postgres"), "tuned_tables": ctx.get("tuned_tables"),
    }
    print()
    print(report(summary, GOALS))
    meta = summary["meta"]
    print(f"\n{meta['date']}, {meta['cpus']} CPUs, Python {meta['python']}, {meta['seconds']} s, "
          f"load average before {meta['load_average_before']}, after {meta['load_average_after']}")
    print(f"PostgreSQL settings: {meta['postgres']}; vacuumed and tuned: {meta['tuned_tables']}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
