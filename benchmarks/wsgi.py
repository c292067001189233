"""What gunicorn serves during the benchmarks.

Two copies of the real app live in each worker process:

* ``full`` -- ``core.create_app()`` exactly as production builds it, with every
  installed plugin discovered. It also gets the measuring endpoints
  ``/bench/bare`` (a plain Flask JSON answer: the baseline every case is
  compared with), ``/bench/hook`` (the plugin host's per-request work, see
  below) and ``/bench/worker`` (which worker process answered).
* ``core_only`` -- ``core.create_app({"PLUGINS_DISCOVER": False})``: the same
  app with no plugin registered, mounted under ``/no-plugins``. It gets the
  same ``/bench/hook``; the full app's is also reachable as
  ``/with-plugins/bench/hook``.

Both copies run in the same gunicorn workers, so ``/with-plugins/bench/hook``
and ``/no-plugins/bench/hook`` are measured by the same processes, on the same
database, in the same run, through the same prefix rewrite; the only
difference is whether plugins are registered. Every other path goes to the
full app as it is (two ``str.startswith`` checks).

``/bench/hook`` does what every plugin-aware core request does: the
enabled-check (``is_enabled``, which compares the host's version row with the
one this process last saw) and one hook call through the host
(``multiplier_for``, the core function that asks plugins for a points
multiplier while an order is reported), with an unsaved member and order so
that nothing else touches the database.
"""
from __future__ import annotations

import os
from decimal import Decimal

from flask import jsonify

from core import create_app
from core.members.models import Member
from core.orders.models import Order
from core.orders.services import multiplier_for
from core.plugins.host import current_host

NO_PLUGINS_PREFIX = "/no-plugins"
WITH_PLUGINS_PREFIX = "/with-plugins"

# The plugin whose enabled-check the hook route makes; any id works (an unknown one is simply off).
PROBE_PLUGIN = "referral"


def add_bench_routes(app, bare: bool) -> None:
    if bare:
        @app.get("/bench/bare")
        def bench_bare():
            return jsonify({"ok": True})

        @app.get("/bench/worker")
        def bench_worker():
            # Which worker holds this connection: the load generator spreads its connections evenly.
            return jsonify({"pid": os.getpid()})

    @app.get("/bench/hook")
    def bench_hook():
        host = current_host()
        enabled = host.is_enabled(PROBE_PLUGIN)
        member = Member(id=0, name="bench", tier="member", points_balance=0, points_pending=0, orders_count=0)
        order = Order(external_id="bench", member_id=0, amount=Decimal("10.00"), status="paid")
        multiplier = multiplier_for(member, order)
        return jsonify({"enabled": enabled, "multiplier": str(multiplier)})


class PrefixSplit:
    """Send ``/no-plugins/...`` to the plugin-less app, ``/with-plugins/...`` (the same rewrite, so that
    the two hook routes differ only in the app behind them) and everything else to the full one."""

    def __init__(self, full, core_only) -> None:
        self.routes = [(NO_PLUGINS_PREFIX + "/", NO_PLUGINS_PREFIX, core_only),
                       (WITH_PLUGINS_PREFIX + "/", WITH_PLUGINS_PREFIX, full)]
        self.full = full

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        for match, prefix, app in self.routes:
            if path.startswith(match):
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
                environ["PATH_INFO"] = path[len(prefix):]
                return app(environ, start_response)
        return self.full(environ, start_response)


full = create_app()
add_bench_routes(full, bare=True)
core_only = create_app({"PLUGINS_DISCOVER": False})
add_bench_routes(core_only, bare=False)

application = PrefixSplit(full, core_only)
