"""A small load generator: concurrent clients on keep-alive connections, timed per operation.

``measure(name, make_client, concurrency, duration, ...)`` starts ``concurrency``
threads together; each has its own client (an HTTP connection to 127.0.0.1,
or a database connection) and runs operations back to back. After a
warm-up the operations that complete inside the measuring window are counted
and timed; the result has operations per second and latency percentiles.

The HTTP client is a deliberately thin HTTP/1.1 implementation over a socket
(pre-built request bytes, responses framed by Content-Length or chunked) so
that the client spends as little of the machine's CPU as possible: on a
two-core box the load generator shares the cores with gunicorn, and its CPU
use is reported with every result.
"""
from __future__ import annotations

import itertools
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

LOOPBACK = "127.0.0.1"


class HttpError(Exception):
    pass


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes


def build_request(method: str, path: str, port: int, headers: dict | None = None, body: bytes | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {LOOPBACK}:{port}", "Connection: keep-alive"]
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}")
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


class HttpConnection:
    """One keep-alive HTTP/1.1 connection to a port on 127.0.0.1 (reconnects after a close)."""

    def __init__(self, port: int, timeout: float = 30.0) -> None:
        self.port, self.timeout = port, timeout
        self.sock: socket.socket | None = None
        self.buf = bytearray()
        self.connects = 0

    def _connect(self) -> None:
        sock = socket.create_connection((LOOPBACK, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buf = sock, bytearray()
        self.connects += 1

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request(self, data: bytes) -> Response:
        if self.sock is None:
            self._connect()
        try:
            self.sock.sendall(data)
            response = self._read_response(head_only=data.startswith(b"HEAD "))
        except (OSError, HttpError):
            self.close()
            raise
        if response.headers.get(b"connection", b"").lower() == b"close":
            self.close()
        return response

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise HttpError("connection closed by the server")
        self.buf += chunk

    def _take(self, n: int) -> bytes:
        while len(self.buf) < n:
            self._fill()
        data = bytes(self.buf[:n])
        del self.buf[:n]
        return data

    def _line(self) -> bytes:
        while (idx := self.buf.find(b"\r\n")) < 0:
            self._fill()
        line = bytes(self.buf[:idx])
        del self.buf[:idx + 2]
        return line

    def _read_response(self, head_only: bool) -> Response:
        while (idx := self.buf.find(b"\r\n\r\n")) < 0:
            self._fill()
        head = bytes(self.buf[:idx])
        del self.buf[:idx + 4]
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        if head_only or status in (204, 304) or status < 200:
            body = b""
        elif b"content-length" in headers:
            body = self._take(int(headers[b"content-length"]))
        elif headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    break
                parts.append(self._take(size))
                self._take(2)
            body = b"".join(parts)
        else:  # no framing: the body runs to the end of the connection
            try:
                while True:
                    self._fill()
            except HttpError:
                pass
            body, self.buf = bytes(self.buf), bytearray()
            self.close()
        return Response(status, headers, body)


@dataclass
class Result:
    name: str
    concurrency: int
    seconds: float
    ok: int
    errors: int
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    client_cpu: float  # share of one core the load generator used while measuring
    outcomes: dict = field(default_factory=dict)
    first_error: str | None = None
    cpu: dict = field(default_factory=dict)  # CPU seconds by component over the window, from the probe
    by_label: dict = field(default_factory=dict)  # label -> {"n", "mean_ms", "p50_ms"} of the successes

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


# An operation returns a short outcome label ("201", "out_of_stock", ...) and whether it counts as a success.
Operation = Callable[[int], "tuple[str, bool]"]


def measure(name: str, make_client: Callable[[int], tuple[Operation, Callable[[], None]]], concurrency: int,
            duration: float, warmup: float = 0.5, probe=None) -> Result:
    """Run ``concurrency`` clients back to back for ``warmup + duration`` seconds.

    ``make_client(index)`` returns ``(operation, close)``; ``operation(seq)`` does one
    request or transaction. The operations that finish inside the window (after the
    warm-up, before its end) are counted, whenever they started: with every client
    busy all along, that is the steady-state rate even when one operation takes
    longer than the window. No operation starts after the window. ``probe``
    (optional) has ``start()`` and ``stop() -> dict``, called at the start and end
    of the window; its dict lands in ``Result.cpu``.
    """
    clients = [make_client(i) for i in range(concurrency)]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    labelled: list[dict[str, list[float]]] = [{} for _ in range(concurrency)]
    outcomes: list[Counter] = [Counter() for _ in range(concurrency)]
    failures = [0] * concurrency
    first_error: list[str] = []
    start_gate = threading.Barrier(concurrency + 1)
    window: dict[str, float] = {}

    def worker(index: int) -> None:
        operation, _ = clients[index]
        lat, out, by_label = latencies[index], outcomes[index], labelled[index]
        seq = 0
        start_gate.wait()
        begin, end = window["begin"], window["end"]
        while True:
            started = time.perf_counter()
            if started >= end:
                break
            try:
                label, ok = operation(seq)
            except Exception as exc:  # a failed operation is counted and reported, the run goes on
                label, ok = type(exc).__name__, False
                if not first_error:
                    first_error.append(f"{type(exc).__name__}: {exc}")
            finished = time.perf_counter()
            seq += 1
            if begin <= finished <= end:
                out[label] += 1
                if ok:
                    lat.append(finished - started)
                    by_label.setdefault(label, []).append(finished - started)
                else:
                    failures[index] += 1

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    now = time.perf_counter()
    window["begin"] = now + warmup
    window["end"] = now + warmup + duration
    start_gate.wait()
    time.sleep(max(0.0, window["begin"] - time.perf_counter()))
    cpu_begin = time.process_time()
    if probe is not None:
        probe.start()
    time.sleep(max(0.0, window["end"] - time.perf_counter()))
    cpu_used = time.process_time() - cpu_begin
    cpu = probe.stop() if probe is not None else {}
    for thread in threads:
        thread.join()
    for _, close in clients:
        close()

    seconds = duration
    all_lat = sorted(itertools.chain.from_iterable(latencies))
    total_outcomes = sum(outcomes, Counter())
    ok = len(all_lat)
    merged: dict[str, list[float]] = {}
    for per_client in labelled:
        for label, values in per_client.items():
            merged.setdefault(label, []).extend(values)
    by_label = {label: {"n": len(values), "mean_ms": sum(values) / len(values) * 1000,
                        "p50_ms": percentile(sorted(values), 0.5) * 1000} for label, values in merged.items()}
    return Result(
        name=name, concurrency=concurrency, seconds=round(seconds, 3), ok=ok, errors=sum(failures),
        rps=ok / seconds,
        p50_ms=percentile(all_lat, 0.50) * 1000, p95_ms=percentile(all_lat, 0.95) * 1000,
        p99_ms=percentile(all_lat, 0.99) * 1000,
        client_cpu=cpu_used / seconds, outcomes=dict(total_outcomes),
        first_error=first_error[0] if first_error else None, cpu=dict(cpu, client=cpu_used), by_label=by_label,
    )


WORKER_PATH = "/bench/worker"


class Spreader:
    """Spread keep-alive connections evenly over the server's worker processes.

    Each worker keeps the connections it accepted, so connections that happen to
    pile up on one worker leave the other idle for the whole window, and the
    figures swing from one window to the next. Each new connection asks
    ``/bench/worker`` who holds it, and is replaced until it lands on a worker
    holding the fewest so far.
    """

    def __init__(self, port: int, workers: int, tries: int = 60) -> None:
        self.port, self.workers, self.tries = port, workers, tries
        self.counts: Counter = Counter()
        self.probe = build_request("GET", WORKER_PATH, port)

    def connect(self) -> "HttpConnection":
        conn = None
        for _ in range(self.tries):
            conn = HttpConnection(self.port)
            response = conn.request(self.probe)
            if response.status != 200:
                return conn  # no such endpoint: take connections as they come
            pid = response.body
            fewest = min([self.counts[p] for p in self.counts] + ([0] if len(self.counts) < self.workers else []))
            if self.counts[pid] == fewest:
                self.counts[pid] += 1
                return conn
            conn.close()
        self.counts[pid] += 1
        return conn


def http_client(port: int, request_for: Callable[[int, int], bytes], expect: tuple[int, ...],
                label: Callable[[Response], str] | None = None, workers: int | None = None):
    """A ``make_client`` for ``measure``: client ``i`` sends ``request_for(i, seq)`` on its own connection
    (spread evenly over ``workers`` server processes when given)."""
    spreader = Spreader(port, workers) if workers else None

    def make(index: int):
        conn = spreader.connect() if spreader else HttpConnection(port)

        def operation(seq: int):
            response = conn.request(request_for(index, seq))
            ok = response.status in expect
            return (label(response) if label else str(response.status)), ok

        return operation, conn.close

    make.request_for = request_for  # lets the runner replay one request outside the load
    return make
