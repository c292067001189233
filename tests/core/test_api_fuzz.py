"""Fuzz every operation of /api/openapi.json over HTTP: whatever the input, never a 5xx.

Schemathesis (one worker thread: its generator is not thread-safe on every
Python) drives the app served by gunicorn on the test database, as an
admin (the widest reach) and without a token. Plugins installed with the
platform are part of the document, so their endpoints are fuzzed too.
"""
import os
import re
import subprocess
import sys

import pytest

EXAMPLES = os.environ.get("MEMBERDAY_FUZZ_EXAMPLES", "25")


def _schemathesis(server, *extra):
    st = os.path.join(os.path.dirname(sys.executable), "st")
    return subprocess.run(
        [st, "run", f"{server.url}/api/openapi.json", "--checks", "not_a_server_error",
         "--max-examples", EXAMPLES, "--seed", "20261123", "--workers", "1", "--continue-on-failure",
         "--suppress-health-check", "all", *extra],
        capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("who", ["admin", "anonymous"])
def test_no_generated_request_gets_a_server_error(memberday_live_server, operator_token, who):
    extra = ["--header", f"Authorization: Bearer {operator_token}"] if who == "admin" else []
    result = _schemathesis(memberday_live_server, *extra)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert generated and int(generated.group(1)) > 100 and generated.group(1) == generated.group(2), result.stdout[-3000:]
