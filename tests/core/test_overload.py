"""Overload: when no database connection can be had in time the answer is 503 with Retry-After,
never 500, and the service answers normally once the storm has passed."""
import json
import threading
import urllib.error
import urllib.request

from core.testing import LiveServer, bearer, run_concurrently


def _call(url, method="GET", body=None, headers=None, timeout=120):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_an_exhausted_pool_answers_503_with_retry_after_and_recovers(memberday_app, operator_token, member):
    # Two gunicorn processes of 40 threads each, sharing 2 connections per process: most requests
    # of a 200-client storm find no connection within the (short) pool timeout.
    server = LiveServer(memberday_app, workers=2, args=["--worker-class", "gthread", "--threads", "40"],
                        extra_env={"MEMBERDAY_DB_POOL_SIZE": "2", "MEMBERDAY_DB_MAX_OVERFLOW": "0",
                             "MEMBERDAY_DB_POOL_TIMEOUT": "0.5"})
    try:
        admin = bearer(operator_token)
        paths = [("GET", f"/api/v1/members/{member['id']}", None),
                 ("GET", f"/api/v1/members/{member['id']}/points", None),
                 ("POST", f"/api/v1/members/{member['id']}/points", {"points": 1, "reason": "storm"}),
                 ("GET", "/healthz", None)]

        def storm(index):
            method, path, body = paths[index % len(paths)]
            headers = dict(admin)
            if method == "POST":
                headers["Idempotency-Key"] = f"storm-{index}"
            status, response_headers, raw = _call(server.url + path, method, body, headers)
            return status, response_headers.get("Retry-After"), raw

        results = run_concurrently(storm, 200, timeout=300)
        statuses = [status for status, _, _ in results]
        assert all(200 <= status < 300 or status in (429, 503) for status in statuses), sorted(set(statuses))
        unavailable = [(retry_after, raw) for status, retry_after, raw in results if status == 503]
        assert unavailable, "the storm never exhausted the pool: the test proves nothing"
        for retry_after, raw in unavailable:
            assert retry_after is not None and int(retry_after) >= 1
            body = json.loads(raw)
            assert body.get("error", {}).get("code") == "unavailable" or body.get("status") == "error"  # /healthz

        # After the storm: quiet requests succeed, and every booked grant is in the ledger once.
        for method, path, body in paths[:2] + paths[3:]:
            status, _, _ = _call(server.url + path, method, body, admin)
            assert status == 200, path
        status, _, raw = _call(server.url + f"/api/v1/members/{member['id']}/points?per_page=200", "GET", None, admin)
        booked = [status for status, _, _ in results[2::4] if status == 201]
        assert json.loads(raw)["balance"] == len(booked)
    finally:
        server.stop()
