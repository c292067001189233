"""Offline events benchmarks: check-ins at the door and the sign-up rush, through gunicorn on PostgreSQL.

    python benchmarks/events.py            # the full run (about two minutes)
    python benchmarks/events.py --quick    # a short run

Two measurements, each against PostgreSQL's own floor measured in the same run:

* **the door**: 20 staff scanners on one event, each checking in a fresh ticket
  with a fresh nonce, back to back (``POST /api/v1/checkins``), in windows
  paired with windows of the floor: the same 20 clients as psycopg connections
  making the writes a check-in cannot do without (the registration's
  conditional update, the scan row, the member's balance) and a commit.
* **the door at a person's pace**: the same 20 scanners, each scanning a ticket
  every two seconds (10 check-ins a second): the latency a member at the door
  waits for, which the goal (p95 under 50 ms) is about;
* **the sign-up rush**: 500 members with their own connections, released
  together, each signing up once for an event of 100 seats
  (``POST /api/v1/events/{id}/registrations``); its floor is the same 500
  sign-ups made in SQL (the place taken by a conditional update of the event
  row, the registration inserted, a commit) over as many connections as the
  app's workers hold.

It reuses ``run.py``'s machinery (database, gunicorn, CPU probe, load generator).
This is a measuring tool, not a test: nothing here runs in the test suite.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import loadgen  # noqa: E402
import run  # noqa: E402
from loadgen import build_request  # noqa: E402

DOOR_CLIENTS = 20
RUSH_CLIENTS = 500
RUSH_SEATS = 100
ATTENDANCE_POINTS = 10
SCAN_EVERY = 2.0  # seconds between two scans of one scanner at the door's pace
FLOOR_TICKETS = 200  # the floor lets each of its tickets in and out again, in turn
PROFILES = {
    "full": dict(pairs=4, duration=2.0, warmup=0.5, tickets=12000, rushes=3, pace_seconds=20),
    "quick": dict(pairs=1, duration=1.0, warmup=0.3, tickets=4000, rushes=1, pace_seconds=8),
}


class Tickets:
    """Hands out each seeded ticket once, across every client and window."""

    def __init__(self, items: list) -> None:
        self.items = items
        self.next = itertools.count()
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            index = next(self.next)
        if index >= len(self.items):
            raise RuntimeError("out of seeded tickets: seed more (--tickets)")
        return self.items[index]


def seed(profile: dict) -> dict:
    """Staff, an event open at the door with its tickets, a twin for the floor, and the rush's members."""
    from core import create_app
    from core.auth.services import create_operator
    from core.extensions import db
    from core.members.services import create_member
    from core.rewards.services import create_template
    from plugins.offline_events import services

    app = create_app()
    ctx: dict = {}
    with app.app_context():
        _, ctx["admin_token"] = create_operator("bench-admin", "admin")
        _, ctx["staff_token"] = create_operator("bench-door", "staff")
        drink = create_template("Party drink", value=60, channel="offline", valid_days=30).id
        starts = datetime.now(timezone.utc) + timedelta(minutes=30)

        def door_event(title: str) -> int:
            return services.create_event({"title": title, "starts_at": starts, "ends_at": starts + timedelta(hours=3),
                                          "capacity": profile["tickets"], "attendance_points": ATTENDANCE_POINTS,
                                          "attendance_coupon_template_id": drink}).id

        ctx["door_event"], ctx["floor_event"] = door_event("Door"), door_event("Floor")
        door, floor = [], []
        for n in range(profile["tickets"]):
            member, _ = create_member(f"Fan {n}")
            door.append(services.register(ctx["door_event"], member.id)[0].ticket_code)
            if n < FLOOR_TICKETS:
                floor.append((services.register(ctx["floor_event"], member.id)[0].ticket_code, member.id))
        ctx["door_tickets"], ctx["floor_tickets"] = Tickets(door), floor
        ctx["rush_members"] = [create_member(f"Rusher {n}") for n in range(RUSH_CLIENTS)]
        ctx["rush_members"] = [(member.id, token) for member, token in ctx["rush_members"]]
        ctx["rush_starts"] = starts + timedelta(days=7)
        db.session.remove()
        db.engine.dispose()
    return ctx


def door_client(ctx):
    headers = dict(run._bearer(ctx["staff_token"]), **run.JSON_TYPE)

    def request_for(i, seq):
        body = {"event_id": ctx["door_event"], "ticket": ctx["door_tickets"].take(), "nonce": secrets.token_hex(12)}
        return build_request("POST", "/api/v1/checkins", ctx["port"], headers, run._json(body))

    def label(response):
        if response.status == 201:
            return "201 ok"
        try:
            return f"{response.status} {json.loads(response.body).get('reason')}"
        except ValueError:
            return str(response.status)

    return run._http(ctx, request_for, (201,), label)


def door_floor_client(ctx):
    import psycopg

    def make(index: int):
        conn = psycopg.connect(ctx["database_url"])
        mine = ctx["floor_tickets"][index::DOOR_CLIENTS]

        def operation(seq: int):
            ticket, member_id = mine[seq % len(mine)]
            with conn.cursor() as cur:
                cur.execute("UPDATE offline_events_registrations SET status = CASE status WHEN 'confirmed' "
                            "THEN 'checked_in' ELSE 'confirmed' END, checked_in_at = now(), "
                            "checkins_made = checkins_made + 1 WHERE ticket_code = %s "
                            "AND status IN ('confirmed', 'checked_in')", (ticket,))
                if cur.rowcount != 1:
                    conn.rollback()
                    return "refused", False
                cur.execute("INSERT INTO offline_events_scans (nonce, fingerprint, event_id, result, offline, "
                            "scanned_at, created_at) VALUES (%s, %s, %s, 'ok', false, now(), now())",
                            (secrets.token_hex(8), ticket, ctx["floor_event"]))
                cur.execute("UPDATE members SET points_balance = points_balance + %s WHERE id = %s",
                            (ATTENDANCE_POINTS, member_id))
            conn.commit()
            return "committed", True

        return operation, conn.close

    return make


def measure_door(ctx: dict, profile: dict, log) -> dict:
    """Paired windows: the door and its floor, the order alternating (after a window that warms every
    worker thread up, not counted)."""
    cases = {"checkin_floor": door_floor_client(ctx), "checkin_door": door_client(ctx)}
    loadgen.measure("warm-up", cases["checkin_door"], DOOR_CLIENTS, 1.0, 0.5)
    runs: dict[str, list] = {name: [] for name in cases}
    ratios = []
    for r in range(profile["pairs"]):
        order = list(cases) if r % 2 else list(reversed(cases))
        got = {}
        for name in order:
            result = loadgen.measure(name, cases[name], DOOR_CLIENTS, profile["duration"], profile["warmup"],
                                     probe=ctx["probe"])
            run.log_result(log, f"pair {r + 1}", result)
            runs[name].append(result)
            got[name] = result
        if got["checkin_floor"].rps:
            ratios.append(got["checkin_door"].rps / got["checkin_floor"].rps)
    summary = {}
    for name, results in runs.items():
        summary[name] = {"clients": DOOR_CLIENTS, "windows": len(results),
                         "rps": statistics.median(r.rps for r in results),
                         "p50_ms": statistics.median(r.p50_ms for r in results),
                         "p95_ms": statistics.median(r.p95_ms for r in results),
                         "p99_ms": statistics.median(r.p99_ms for r in results),
                         "errors": sum(r.errors for r in results),
                         "cpu_per_op": run._median_split([run.cpu_per_op(r) for r in results])}
    summary["checkin_door"]["ratio"] = statistics.median(ratios) if ratios else None
    summary["checkin_door"]["ratios"] = ratios
    return summary


def measure_door_pace(ctx: dict, profile: dict, log) -> dict:
    """The door at a person's pace: 20 scanners, each scanning one ticket every ``SCAN_EVERY`` seconds
    (a member steps up, shows the phone, walks in), the scanners' clocks spread over the period.
    What a member at the door waits for the server is this latency, not the saturated one."""
    spreader = loadgen.Spreader(ctx["port"], run.GUNICORN_WORKERS)
    connections = [spreader.connect() for _ in range(DOOR_CLIENTS)]
    headers = dict(run._bearer(ctx["staff_token"]), **run.JSON_TYPE)
    scans = max(1, int(profile["pace_seconds"] / SCAN_EVERY))
    latencies: list[list[float]] = [[] for _ in connections]
    failures: list[str] = []
    ctx["probe"].start()
    began = time.perf_counter() + 0.2

    def scanner(index: int) -> None:
        for k in range(scans):
            time.sleep(max(0.0, began + (index / DOOR_CLIENTS + k) * SCAN_EVERY - time.perf_counter()))
            body = {"event_id": ctx["door_event"], "ticket": ctx["door_tickets"].take(),
                    "nonce": secrets.token_hex(12)}
            started = time.perf_counter()
            response = connections[index].request(build_request("POST", "/api/v1/checkins", ctx["port"], headers,
                                                                run._json(body)))
            if response.status == 201:
                latencies[index].append(time.perf_counter() - started)
            else:
                failures.append(f"{response.status} {response.body[:120]!r}")

    threads = [threading.Thread(target=scanner, args=(i,), daemon=True) for i in range(DOOR_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    cpu = ctx["probe"].stop()
    for conn in connections:
        conn.close()
    ordered = sorted(itertools.chain.from_iterable(latencies))
    result = {"clients": DOOR_CLIENTS, "scan_every_s": SCAN_EVERY, "rate_per_s": DOOR_CLIENTS / SCAN_EVERY,
              "checkins": len(ordered), "errors": len(failures), "first_error": failures[0] if failures else None,
              "p50_ms": loadgen.percentile(ordered, 0.5) * 1000, "p95_ms": loadgen.percentile(ordered, 0.95) * 1000,
              "p99_ms": loadgen.percentile(ordered, 0.99) * 1000, "max_ms": ordered[-1] * 1000 if ordered else None,
              "cpu": cpu}
    log(f"  door pace: {result['checkins']} check-ins at {result['rate_per_s']:.0f}/s, p50 {result['p50_ms']:.1f} ms, "
        f"p95 {result['p95_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, errors {result['errors']}")
    return result


def _rush_event(ctx: dict, title: str) -> int:
    conn = loadgen.HttpConnection(ctx["port"])
    starts = ctx["rush_starts"] + timedelta(hours=len(title))
    body = {"title": title, "capacity": RUSH_SEATS, "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat()}
    try:
        response = conn.request(build_request("POST", "/api/v1/events", ctx["port"],
                                              dict(run._bearer(ctx["admin_token"]), **run.JSON_TYPE), run._json(body)))
    finally:
        conn.close()
    if response.status != 201:
        raise RuntimeError(f"could not create the rush event: {response.status} {response.body[:300]!r}")
    return json.loads(response.body)["id"]


def rush_once(ctx: dict, title: str) -> dict:
    """500 members, each on a connection of their own, released together, signing up once."""
    event_id = _rush_event(ctx, title)
    members = ctx["rush_members"]
    spreader = loadgen.Spreader(ctx["port"], run.GUNICORN_WORKERS)
    connections = [spreader.connect() for _ in members]
    requests = [build_request("POST", f"/api/v1/events/{event_id}/registrations", ctx["port"],
                              dict(run._bearer(token), **run.JSON_TYPE), run._json({"member_id": member_id}))
                for member_id, token in members]
    gate = threading.Barrier(len(members) + 1)
    latencies = [0.0] * len(members)
    answers: list = [None] * len(members)

    def member(index: int) -> None:
        gate.wait()
        started = time.perf_counter()
        try:
            response = connections[index].request(requests[index])
            answers[index] = (response.status, json.loads(response.body).get("status"))
        except Exception as exc:  # counted below
            answers[index] = (type(exc).__name__, None)
        latencies[index] = time.perf_counter() - started

    threads = [threading.Thread(target=member, args=(i,), daemon=True) for i in range(len(members))]
    for thread in threads:
        thread.start()
    ctx["probe"].start()
    gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    cpu = ctx["probe"].stop()
    for conn in connections:
        conn.close()
    outcomes = {f"{status} {state}": sum(1 for a in answers if a == (status, state))
                for status, state in set(answers)}
    ordered = sorted(latencies)
    return {"event_id": event_id, "wall_s": wall, "per_s": len(members) / wall, "outcomes": outcomes,
            "p50_ms": loadgen.percentile(ordered, 0.5) * 1000, "p95_ms": loadgen.percentile(ordered, 0.95) * 1000,
            "max_ms": ordered[-1] * 1000, "cpu": cpu}


def rush_floor_once(ctx: dict) -> dict:
    """The same 500 sign-ups in SQL, over as many connections as the app's workers hold (workers x threads)."""
    import psycopg

    connections = run.GUNICORN_WORKERS * run.GUNICORN_THREADS
    with psycopg.connect(ctx["database_url"], autocommit=True) as conn:
        starts = datetime.now(timezone.utc) + timedelta(days=30)
        event_id = conn.execute(
            "INSERT INTO offline_events_events (title, venue, description, starts_at, ends_at, capacity, "
            "attendance_points, audience, status, confirmed_count, waitlist_counter, created_at, updated_at) "
            "VALUES ('Floor rush', '', '', %s, %s, %s, 0, '{}', 'open', 0, 0, now(), now()) RETURNING id",
            (starts, starts + timedelta(hours=2), RUSH_SEATS)).fetchone()[0]
    queue = list(ctx["rush_members"])
    lock = threading.Lock()
    gate = threading.Barrier(connections + 1)
    latencies: list[float] = []

    def worker() -> None:
        conn = psycopg.connect(ctx["database_url"])
        gate.wait()
        while True:
            with lock:
                if not queue:
                    break
                member_id, _ = queue.pop()
            started = time.perf_counter()
            with conn.cursor() as cur:
                cur.execute("UPDATE offline_events_events SET confirmed_count = confirmed_count + 1 "
                            "WHERE id = %s AND confirmed_count < capacity RETURNING id", (event_id,))
                seated, seq = cur.fetchone() is not None, None
                if not seated:
                    cur.execute("UPDATE offline_events_events SET waitlist_counter = waitlist_counter + 1 "
                                "WHERE id = %s RETURNING waitlist_counter", (event_id,))
                    seq = cur.fetchone()[0]
                cur.execute("INSERT INTO offline_events_registrations (event_id, member_id, status, ticket_code, "
                            "waitlist_seq, channel, checkins_made, created_at) VALUES (%s, %s, %s, %s, %s, 'api', "
                            "0, now())", (event_id, member_id, "confirmed" if seated else "waitlisted",
                                          secrets.token_urlsafe(16), seq))
            conn.commit()
            with lock:
                latencies.append(time.perf_counter() - started)
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    gate.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    return {"wall_s": wall, "per_s": len(ctx["rush_members"]) / wall, "connections": connections}


def measure_rush(ctx: dict, profile: dict, log) -> dict:
    rushes, floors = [], []
    for n in range(profile["rushes"]):
        for which in (("floor", "rush") if n % 2 else ("rush", "floor")):
            if which == "rush":
                result = rush_once(ctx, f"Rush {n + 1}" + "!" * n)
                log(f"  rush {n + 1}: {result['per_s']:.0f} sign-ups/s, wall {result['wall_s']:.2f} s, "
                    f"p50 {result['p50_ms']:.0f} ms, p95 {result['p95_ms']:.0f} ms, outcomes {result['outcomes']}")
                rushes.append(result)
            else:
                result = rush_floor_once(ctx)
                log(f"  floor {n + 1}: {result['per_s']:.0f} sign-ups/s, wall {result['wall_s']:.2f} s")
                floors.append(result)
    ratios = [r["per_s"] / f["per_s"] for r, f in zip(rushes, floors)]
    return {"rush": {"clients": RUSH_CLIENTS, "seats": RUSH_SEATS, "rounds": len(rushes),
                     "per_s": statistics.median(r["per_s"] for r in rushes),
                     "wall_s": statistics.median(r["wall_s"] for r in rushes),
                     "p50_ms": statistics.median(r["p50_ms"] for r in rushes),
                     "p95_ms": statistics.median(r["p95_ms"] for r in rushes),
                     "outcomes": rushes[-1]["outcomes"], "ratio": statistics.median(ratios), "ratios": ratios},
            "rush_floor": {"connections": floors[0]["connections"],
                           "per_s": statistics.median(f["per_s"] for f in floors),
                           "wall_s": statistics.median(f["wall_s"] for f in floors)}}


def report(summary: dict) -> str:
    door, floor = summary["checkin_door"], summary["checkin_floor"]
    rush, rush_floor = summary["rush"], summary["rush_floor"]
    ratio = door["ratio"]
    lines = [
        "| case | clients | ops/s | p50 ms | p95 ms | p99 ms | errors | ratio to floor |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
        f"| checkin_floor | {floor['clients']} | {floor['rps']:.0f} | {floor['p50_ms']:.2f} | {floor['p95_ms']:.2f} "
        f"| {floor['p99_ms']:.2f} | {floor['errors']} | - |",
        f"| checkin_door | {door['clients']} | {door['rps']:.0f} | {door['p50_ms']:.2f} | {door['p95_ms']:.2f} "
        f"| {door['p99_ms']:.2f} | {door['errors']} | "
        + (f"{ratio:.0%} ({min(door['ratios']):.0%}-{max(door['ratios']):.0%}, {len(door['ratios'])} pairs) |"
           if ratio else "- |"),
        "",
        "| rush | clients | seats | sign-ups/s | wall s | p50 ms | p95 ms | ratio to floor | outcomes |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
        f"| signup_rush | {rush['clients']} | {rush['seats']} | {rush['per_s']:.0f} | {rush['wall_s']:.2f} | "
        f"{rush['p50_ms']:.0f} | {rush['p95_ms']:.0f} | {rush['ratio']:.0%} ({len(rush['ratios'])} rounds) | "
        f"{rush['outcomes']} |",
        f"| signup_floor (SQL, {rush_floor['connections']} connections) | {rush['clients']} | {rush['seats']} | "
        f"{rush_floor['per_s']:.0f} | {rush_floor['wall_s']:.2f} | - | - | - | - |",
    ]
    split = door.get("cpu_per_op")
    if split:
        lines += ["", f"checkin_door CPU per check-in: app {split['app_ms']:.2f} ms, PostgreSQL {split['db_ms']:.2f} ms, "
                      f"load generator {split['client_ms']:.2f} ms, other programs {split['other_cores']:.2f} cores"]
    pace = summary["door_pace"]
    lines += ["", f"door at a person's pace: {pace['clients']} scanners, one scan each every {pace['scan_every_s']:.0f} s "
                  f"({pace['rate_per_s']:.0f} check-ins/s): {pace['checkins']} check-ins, p50 {pace['p50_ms']:.1f} ms, "
                  f"p95 {pace['p95_ms']:.1f} ms, p99 {pace['p99_ms']:.1f} ms, errors {pace['errors']}"]
    lines += ["", "| goal | measured | met |", "|---|---|---|",
              f"| issue 12: check-in p95 < 50 ms, 20 scanners at a person's pace | {pace['p95_ms']:.1f} ms | "
              f"{'yes' if pace['p95_ms'] < 50 else 'NO'} |",
              f"| (the same, 20 scanners back to back: saturated) | {door['p95_ms']:.1f} ms | "
              f"{'yes' if door['p95_ms'] < 50 else 'NO'} |"]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--tickets", type=int, help="tickets to seed for the door (each check-in uses one)")
    parser.add_argument("--json", metavar="PATH", help="also write every figure to this JSON file")
    args = parser.parse_args(argv)
    profile = dict(PROFILES["quick" if args.quick else "full"])
    if args.tickets:
        profile["tickets"] = args.tickets
    started = time.time()

    def log(message: str) -> None:
        print(f"[{time.time() - started:6.1f}s] {message}", flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="memberday-bench-"))
    db_name = run.create_database()
    env = dict(os.environ, DATABASE_URL=run.database_url(db_name), MEMBERDAY_ENV="production",
               SECRET_KEY=secrets.token_urlsafe(32), MEMBERDAY_WECHAT_TOKEN=secrets.token_hex(16),
               MEMBERDAY_RATE_LIMITS_ENABLED="0", MEMBERDAY_INSTANCE_PATH=str(workdir / "instance"),
               MEMBERDAY_RQ_QUEUE=f"memberday_bench_{db_name[len('memberday_bench_'):]}")
    env.pop("REDIS_URL", None)
    use_redis = run.redis_available()
    if use_redis:
        env["REDIS_URL"] = run.REDIS_URL
    gunicorn = None
    ctx: dict = {"database_url": run.database_url(db_name)}
    saved_environ = dict(os.environ)
    load_before = os.getloadavg()
    try:
        subprocess.run(run.memberday_command() + ["db", "upgrade"], env=env, check=True, capture_output=True)
        os.environ.clear()
        os.environ.update(env)
        ctx.update(seed(profile))
        log(f"database {db_name} migrated and seeded: {profile['tickets']} tickets per door event, "
            f"{RUSH_CLIENTS} members for the rush")
        ctx["port"] = run.free_port()
        gunicorn = run.start_gunicorn(env, ctx["port"], workdir / "gunicorn.log")
        ctx["probe"] = run.CpuProbe(run.gunicorn_workers(gunicorn), db_name)
        log(f"gunicorn up ({run.GUNICORN_WORKERS} workers x {run.GUNICORN_THREADS} threads); "
            f"load average {load_before}")
        summary = measure_door(ctx, profile, log)
        summary["door_pace"] = measure_door_pace(ctx, profile, log)
        summary.update(measure_rush(ctx, profile, log))
    finally:
        if ctx.get("probe"):
            ctx["probe"].close()
        os.environ.clear()
        os.environ.update(saved_environ)
        run.stop(gunicorn)
        run.drop_database(db_name)
        if use_redis:
            run.empty_queue(env["MEMBERDAY_RQ_QUEUE"])
        shutil.rmtree(workdir, ignore_errors=True)
    summary["meta"] = {"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                       "command": "python benchmarks/events.py " + " ".join(argv if argv is not None else sys.argv[1:]),
                       "profile": profile, "cpus": os.cpu_count(), "seconds": round(time.time() - started, 1),
                       "load_average_before": load_before, "load_average_after": os.getloadavg()}
    print()
    print(report(summary))
    meta = summary["meta"]
    print(f"\n{meta['date']}, {meta['cpus']} CPUs, {meta['seconds']} s, load average before "
          f"{meta['load_average_before']}, after {meta['load_average_after']}")
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
