"""Fixtures for testing the plugin host: real installed distributions and plugins registered in-process.

``plugin_site`` builds tiny distributions the way pip leaves them -- a module and
a ``*.dist-info`` folder with ``METADATA`` and ``entry_points.txt`` -- in a
folder put on ``sys.path`` (and on ``PYTHONPATH`` for the worker and server
processes a test starts), so discovery finds them through the real entry-point
machinery. Tests that use it must request it before ``memberday_app``
(``@pytest.mark.usefixtures("...")`` does), since the app discovers plugins when
it is built.
"""
from __future__ import annotations

import importlib
import os
import sys
import textwrap
from pathlib import Path

import pytest

# A plugin with a page, a job and an order hook whose effects another process can see over HTTP.
PROBE_SOURCE = '''
    """A probe plugin for the plugin host's tests."""
    from flask import Blueprint

    from core.plugins import PluginInfo, hookimpl

    PLUGIN = PluginInfo(id="probe", name="Probe", description="Shows whether the host lets it run.")

    blp = Blueprint("probe", __name__)


    @blp.route("/probe/ping")
    def ping():
        return {"pong": True}


    def record(text):
        from core.notifications.services import notify_operators

        notify_operators(text)


    @hookimpl
    def memberday_blueprints(app):
        return [blp]


    @hookimpl
    def memberday_jobs():
        return {"probe.record": record}


    @hookimpl
    def memberday_order_paid(order, member):
        record(f"probe saw order {order.external_id}")
'''


class PluginSite:
    """A folder of installed distributions, on ``sys.path`` while the test runs."""

    def __init__(self, root: Path):
        self.root = root
        self.modules: list[str] = []

    def install(self, distribution: str, module: str, source: str, *, entry_point: str,
                version: str = "1.0.0") -> None:
        (self.root / f"{module}.py").write_text(textwrap.dedent(source))
        info = self.root / f"{distribution.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {distribution}\nVersion: {version}\n")
        (info / "entry_points.txt").write_text(f"[memberday.plugins]\n{entry_point} = {module}\n")
        self.modules.append(module)
        importlib.invalidate_caches()


@pytest.fixture
def plugin_site(tmp_path, monkeypatch):
    root = tmp_path / "site-packages"
    root.mkdir()
    site = PluginSite(root)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])))
    yield site
    for module in site.modules:
        sys.modules.pop(module, None)
    importlib.invalidate_caches()


@pytest.fixture
def probe_installed(plugin_site):
    """The probe plugin installed as a real distribution (``memberday-probe`` 1.2.3)."""
    plugin_site.install("memberday-probe", "memberday_probe_plugin", PROBE_SOURCE, entry_point="probe",
                        version="1.2.3")
    return plugin_site
