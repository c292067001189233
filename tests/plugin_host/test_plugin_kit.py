"""The kit for plugin authors: ``memberday plugins new`` writes a package that installs,
migrates, passes its own tests and shows its page section as it is; ``makemigration``
writes the next revision on the plugin's branch; the fixtures and names it relies on."""
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from click.testing import CliRunner

from core.cli import main
from core.plugins import PluginInfo
from core.testing import Clock, bearer, read_all

from hostkit import register


def run(*args, cwd=None, env=None):
    result = subprocess.run([str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def author(tmp_path_factory):
    """A new plugin written by ``memberday plugins new`` and a Python of its own to install it in.

    The Python is a fresh virtual environment that sees this one's packages (Memberday,
    pytest) through a ``.pth`` file, so installing the plugin there leaves this one alone.
    """
    root = tmp_path_factory.mktemp("author")
    result = CliRunner().invoke(main, ["plugins", "new", "stamp_card", "--path", str(root)])
    assert result.exit_code == 0, result.output
    package = root / "memberday-stamp-card"
    venv = root / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip())
    (purelib / "memberday_parent.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTEST_", "MEMBERDAY_INSTANCE"))}
    return package, python, env


def test_a_new_plugin_installs_migrates_passes_its_tests_and_shows_its_section_untouched(author):
    package, python, env = author
    # The one documented command: install (editable), migrate a scratch SQLite database, run its tests.
    result = run("make", "check", f"PYTHON={python}", "PIP_FLAGS=--no-deps", cwd=package, env=env)
    output = result.stdout + result.stderr
    assert "Successfully installed memberday-stamp-card-0.1.0" in output
    assert "would be ignored" not in output and "SetuptoolsDeprecationWarning" not in output
    assert "6 passed" in output and "failed" not in output
    assert "test_the_member_page_shows_the_section PASSED" in run(
        python, "-m", "pytest", "-v", "-k", "member_page", cwd=package, env=env).stdout

    import sqlite3

    with sqlite3.connect(package / "instance" / "memberday.sqlite") as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        heads = {row[0] for row in conn.execute("SELECT version_num FROM alembic_version")}
    assert "stamp_card_entries" in tables and "stamp_card_0001" in heads


def test_makemigration_writes_the_next_revision_on_the_plugins_branch(author):
    package, python, env = author
    run("make", "install", f"PYTHON={python}", "PIP_FLAGS=--no-deps", cwd=package, env=env)
    env = dict(env, MEMBERDAY_INSTANCE_PATH=str(package / "instance-makemigration"))
    makemigration = [python, "-m", "core", "plugins", "makemigration", "stamp_card", "-m"]

    assert "nothing to write" in run(*makemigration, "no change", cwd=package, env=env).stdout

    models = package / "memberday_stamp_card" / "models.py"
    models.write_text(models.read_text().replace(
        "    note = sa.Column(sa.String(200), nullable=False)\n",
        "    note = sa.Column(sa.String(200), nullable=False)\n"
        "    stamps = sa.Column(sa.Integer, nullable=False, server_default='1')\n"))
    assert "Wrote" in run(*makemigration, "stamps per entry", cwd=package, env=env).stdout
    revision = (package / "memberday_stamp_card" / "migrations" / "stamp_card_0002_stamps_per_entry.py").read_text()
    assert "revision = 'stamp_card_0002'" in revision and "down_revision = 'stamp_card_0001'" in revision
    assert "add_column(sa.Column('stamps'" in revision
    assert "members" not in revision.split("def upgrade")[1]  # only this plugin's tables
    # And it migrates: the plugin's tests run on a database upgraded through it.
    assert "6 passed" in run(python, "-m", "pytest", cwd=package, env=env).stdout


def test_plugins_new_refuses_a_bad_id_and_an_existing_folder(tmp_path):
    runner = CliRunner()
    bad = runner.invoke(main, ["plugins", "new", "Stamp-Card", "--path", str(tmp_path)])
    assert bad.exit_code != 0 and "is not a plugin id" in bad.output
    assert runner.invoke(main, ["plugins", "new", "stamp_card", "--path", str(tmp_path)]).exit_code == 0
    again = runner.invoke(main, ["plugins", "new", "stamp_card", "--path", str(tmp_path)])
    assert again.exit_code != 0 and "already exists" in again.output


def test_plugin_info_derives_every_name_from_the_id(memberday_app):
    info = PluginInfo(id="stamp_card", name="Stamp card")
    assert info.table("entries") == "stamp_card_entries"
    assert info.source(12, 2026) == "stamp_card:12:2026"
    assert info.job("send_due") == "stamp_card.send_due"
    assert info.template("section.html") == "stamp_card/section.html"
    api, pages = info.api_blueprint(__name__), info.page_blueprint(__name__)
    assert (api.name, api.url_prefix) == ("stamp_card", "/api/v1/stamp-card")
    assert (pages.name, pages.url_prefix) == ("stamp_card_pages", "/stamp-card")


def test_settings_and_switch_read_through_the_plugin_info(memberday_app, switch_plugin):
    with memberday_app.app_context():
        from plugins.points_mall import PLUGIN

        assert PLUGIN.is_enabled() is True
        assert PLUGIN.settings() == memberday_app.extensions["memberday_plugins"].settings("points_mall")
    switch_plugin("points_mall", False)
    with memberday_app.app_context():
        assert PLUGIN.is_enabled() is False


def test_the_clock_moves_only_when_told_and_refuses_a_naive_time():
    clock = Clock("2026-03-01T09:00:00+08:00")
    assert clock.now.isoformat() == "2026-03-01T09:00:00+08:00"
    assert clock.advance(days=1, hours=2).isoformat() == "2026-03-02T11:00:00+08:00"
    with pytest.raises(ValueError, match="aware"):
        clock.set("2026-03-01T09:00:00")


def test_read_all_reads_every_page_of_a_list(memberday_client, operator_token, member):
    for number in range(5):
        response = memberday_client.post("/api/v1/orders", headers=bearer(operator_token), json={
            "external_id": f"o-{number}", "member_id": member["id"], "amount": "10.00"})
        assert response.status_code == 201
    entries = read_all(memberday_client, f"/api/v1/members/{member['id']}/points?per_page=2", operator_token)
    assert sorted(entry["source"] for entry in entries) == sorted(f"order:o-{n}" for n in range(5))


def test_send_message_reaches_the_keyword_hook(memberday_app, send_message):
    class Echo:
        PLUGIN = PluginInfo(id="echo", name="Echo")

        def memberday_keyword_reply(self, text):
            return f"echo {text}"

    from core.plugins import hookimpl

    Echo.memberday_keyword_reply = hookimpl(Echo.memberday_keyword_reply)
    register(memberday_app, Echo())
    assert send_message("hi") == "echo hi"
    assert send_message("again", message_id="fixed") == "echo again"
    assert send_message("different text", message_id="fixed") == "echo again"  # a repeat gets the first reply


def test_the_sqlite_default_has_a_client_and_an_admin_token(memberday_sqlite_client, sqlite_operator_token):
    response = memberday_sqlite_client.get("/api/v1/plugins", headers=bearer(sqlite_operator_token))
    assert response.status_code == 200
    assert {"referral", "points_mall"} <= {item["id"] for item in response.get_json()["items"]}
