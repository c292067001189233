"""Pytest fixtures for Memberday and for plugin authors (registered as the ``memberday`` pytest plugin).

Installed with Memberday, so a plugin's own suite can use them as they are::

    def test_gift_page(memberday_client, member):
        assert memberday_client.get("/birthday").status_code == 200

Each test session gets a PostgreSQL database of its own (created on the server
named by ``MEMBERDAY_TEST_PG``, default ``postgresql://127.0.0.1:5432/test``,
dropped at the end) with the core and every installed plugin migrated to head.
Each test gets a fresh app on it, its tables emptied afterwards. Jobs run
inline unless a test uses ``memberday_worker``, which points the app at Redis
(``MEMBERDAY_TEST_REDIS``) on a queue of its own and runs a real ``rq worker``.
"""
from __future__ import annotations

import logging
import os
import re
import secrets
import subprocess
import sys
from html.parser import HTMLParser
from urllib.parse import urlsplit, urlunsplit

import pytest

ADMIN_PG = os.environ.get("MEMBERDAY_TEST_PG", "postgresql://127.0.0.1:5432/test")
TEST_REDIS = os.environ.get("MEMBERDAY_TEST_REDIS", "redis://127.0.0.1:6379/0")


def _database_url(name: str) -> str:
    parts = urlsplit(ADMIN_PG)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


@pytest.fixture(scope="session")
def memberday_database_url():
    """A PostgreSQL database for this test session, migrated to head, dropped at the end."""
    import psycopg

    name = f"memberday_test_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = _database_url(name)
    upgrade_database(url)
    yield url
    with psycopg.connect(ADMIN_PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def upgrade_database(url: str) -> None:
    """Bring the core and every installed plugin to head on ``url`` (``memberday db upgrade``)."""
    from flask_migrate import upgrade

    from core import create_app

    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": url})
    with app.app_context():
        upgrade(revision="heads")
        from core.extensions import db

        db.engine.dispose()


def empty_tables(app) -> None:
    """Empty every table but the migration bookkeeping; bump the plugin version so caches reload."""
    from sqlalchemy import text

    from core.extensions import db

    for flush in app.extensions.get("memberday_pending_writes", []):  # e.g. batched clicks: not into the next test
        flush()
    with app.app_context():
        db.session.remove()
        names = [table.name for table in db.metadata.sorted_tables if table.name != "plugin_host_version"]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " RESTART IDENTITY CASCADE"))
            else:
                for name in reversed(names):
                    conn.execute(text(f'DELETE FROM "{name}"'))
            conn.execute(text("UPDATE plugin_host_version SET version = version + 1"))
        db.engine.dispose()


def make_app(database_url: str, **overrides):
    from core import create_app

    config = {"ENV_NAME": "testing", "DATABASE_URL": database_url, "REDIS_URL": None,
              "SECRET_KEY": "test-" + secrets.token_hex(8)}
    config.update(overrides)
    _listen_for_codes()  # the development channel's codes, for one_time_code and sign_in_browser
    return create_app(config)


@pytest.fixture
def memberday_app(memberday_database_url):
    """A Memberday app on the session's PostgreSQL database; jobs run inline."""
    app = make_app(memberday_database_url)
    yield app
    empty_tables(app)


@pytest.fixture
def memberday_client(memberday_app):
    return memberday_app.test_client()


@pytest.fixture
def operator_token(memberday_app):
    """An admin operator's bearer token."""
    return create_operator_token(memberday_app, "admin")


def create_operator_token(app, role: str, name: str | None = None) -> str:
    """A new operator's bearer token; ``role`` is ``admin``, ``operator`` or ``staff``.

    Switching plugins and changing their settings needs ``admin`` (the ``operator_token`` fixture).
    """
    from core.auth.services import create_operator

    with app.app_context():
        _, token = create_operator(name or f"{role}-{secrets.token_hex(4)}", role)
    return token


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def member(memberday_client):
    """A member created through the API with a phone of their own: the response body (``token``, ``phone``)."""
    response = memberday_client.post("/api/v1/members", json={"name": "Test Member", "phone": new_phone()})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def new_phone() -> str:
    """A mobile number no other member of the test session has (E.164, Taiwan)."""
    return "+886912" + f"{next(_PHONES) % 1_000_000:06d}"


_PHONES = iter(range(secrets.randbelow(500_000), 10 ** 9))


class Worker:
    """Runs a real ``rq worker --burst`` on the test's own queue, in a separate process."""

    def __init__(self, app):
        self.app = app
        self.env = dict(os.environ, MEMBERDAY_ENV="testing", DATABASE_URL=app.config["DATABASE_URL"],
                        REDIS_URL=app.config["REDIS_URL"], MEMBERDAY_RQ_QUEUE=app.config["RQ_QUEUE"],
                        SECRET_KEY=app.config["SECRET_KEY"])

    def run(self, timeout: float = 120) -> subprocess.CompletedProcess:
        """Work until the queue is empty; returns the finished process (its output for debugging)."""
        rq = os.path.join(os.path.dirname(sys.executable), "rq")
        result = subprocess.run(
            [rq, "worker", "--burst", "--with-scheduler", "--url", self.app.config["REDIS_URL"], self.app.config["RQ_QUEUE"]],
            env=self.env, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"rq worker failed:\n{result.stdout}\n{result.stderr}")
        return result

    def queued(self) -> int:
        with self.app.app_context():
            from core.jobs import queue

            return len(queue())

    def failed(self) -> list:
        with self.app.app_context():
            from core.jobs import queue

            registry = queue().failed_job_registry
            return [registry.job_class.fetch(job_id, connection=registry.connection)
                    for job_id in registry.get_job_ids()]


@pytest.fixture
def memberday_worker(memberday_app):
    """Switch the test's app to Redis jobs on a queue of its own and give a ``Worker`` to run them."""
    from redis import Redis

    queue_name = f"memberday-test-{secrets.token_hex(6)}"
    memberday_app.config.update(REDIS_URL=TEST_REDIS, RQ_QUEUE=queue_name)
    worker = Worker(memberday_app)
    yield worker
    with memberday_app.app_context():
        from core.jobs import queue

        q = queue()
        q.empty()
        q.delete(delete_jobs=True)
        Redis.from_url(TEST_REDIS).close()


@pytest.fixture
def memberday_sqlite_app(tmp_path):
    """The embedded default: a SQLite file and inline jobs, migrated with ``db upgrade``."""
    from flask_migrate import upgrade

    app = make_app(f"sqlite:///{tmp_path / 'memberday.sqlite'}")
    with app.app_context():
        upgrade(revision="heads")
    return app


@pytest.fixture
def memberday_sqlite_client(memberday_sqlite_app):
    return memberday_sqlite_app.test_client()


@pytest.fixture
def sqlite_operator_token(memberday_sqlite_app):
    """An admin operator's bearer token on the SQLite app."""
    return create_operator_token(memberday_sqlite_app, "admin")


# ---------------------------------------------------------------- helpers for a plugin's tests

@pytest.fixture
def switch_plugin(memberday_client, operator_token):
    """``switch_plugin(plugin_id, on=True)``: switch a plugin on or off through the API, as an admin would.

    Returns the plugin as the API lists it. Every process sees the change on its next request.
    """

    def switch(plugin_id: str, on: bool = True) -> dict:
        response = memberday_client.patch(f"/api/v1/plugins/{plugin_id}", json={"enabled": on},
                                          headers=bearer(operator_token))
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["enabled"] is on, response.get_json()
        return response.get_json()

    return switch


class Clock:
    """A test's own "now", moved by hand and handed to the services' ``now=`` parameters.

    Time is never moved by writing rows (``expires_at``, ``hold_until``) or by patching
    the system clock: a service applies its rule at ``now``, so a test asks it to::

        services.add_entry(member_id, "hello", now=clock.now)
        clock.advance(days=1)
        rewards.expire_due(now=clock.now)
    """

    def __init__(self, start=None):
        from core.database import utcnow

        self.now = self._aware(start) if start is not None else utcnow()

    @staticmethod
    def _aware(when):
        from datetime import datetime

        if isinstance(when, str):
            when = datetime.fromisoformat(when)
        if when.tzinfo is None:
            raise ValueError("give the clock an aware time, e.g. 2026-03-01T09:00:00+08:00")
        return when

    def advance(self, **delta):
        """Move on by a ``timedelta(**delta)`` (``days=``, ``hours=``, ...); returns the new now."""
        from datetime import timedelta

        self.now = self.now + timedelta(**delta)
        return self.now

    def set(self, when):
        """Jump to ``when`` (an aware datetime or an ISO 8601 string with its offset)."""
        self.now = self._aware(when)
        return self.now


@pytest.fixture
def clock():
    """A ``Clock`` starting at the real now; pass ``clock.now`` to services' ``now=``."""
    return Clock()


@pytest.fixture
def send_message(memberday_client, operator_token):
    """``send_message(text, sender=..., channel="sms", message_id=None)`` → the reply text, or None.

    Posts to ``/api/v1/messages`` as a channel integration does (an operator's or admin's
    token). ``sender`` is matched to a member by their WeChat openid. Each call gets a new
    ``message_id`` unless you give one; the same id again is answered with the first reply.
    """
    import itertools

    numbers = itertools.count(1)

    def send(text: str, sender: str = "test-sender", channel: str = "sms", message_id: str | None = None):
        body = {"channel": channel, "from": sender, "text": text,
                "message_id": message_id or f"test-message-{next(numbers)}"}
        response = memberday_client.post("/api/v1/messages", json=body, headers=bearer(operator_token))
        assert response.status_code == 200, response.get_json()
        return response.get_json()["reply"]

    return send


class OneTimeCodes(logging.Handler):
    """Keeps the last one-time code the development channel wrote to the log, for each phone."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.last: dict[str, str] = {}

    def emit(self, record):
        phone, code = getattr(record, "phone", None), getattr(record, "code", None)
        if phone and code:
            self.last[phone] = code


_CODES = OneTimeCodes()


def _listen_for_codes() -> OneTimeCodes:
    logger = logging.getLogger("memberday.one_time_codes")
    if _CODES not in logger.handlers:
        logger.addHandler(_CODES)
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    return _CODES


def last_code(phone: str) -> str:
    """The last sign-in code sent to ``phone`` (E.164) by the development channel (the log).

    Works for apps in this process (the test client, ``memberday_page_server``), not for
    gunicorn's processes. Raises when no code was sent to that phone.
    """
    codes = _listen_for_codes()
    if phone not in codes.last:
        raise AssertionError(f"no one-time code was sent to {phone}")
    return codes.last[phone]


@pytest.fixture
def one_time_code():
    """``one_time_code(phone)`` → the last 6-digit sign-in code sent to ``phone`` (E.164).

    With no plugin delivering codes (``memberday_send_one_time_code``) the development
    channel writes each code to the ``memberday.one_time_codes`` log; this reads it there::

        def test_sign_in(memberday_client, member, one_time_code):
            memberday_client.post("/me/login", data={"csrf_token": csrf_token(memberday_client),
                                                     "phone": member["phone"]})
            code = one_time_code(member["phone"])
    """
    _listen_for_codes()
    return last_code


def sign_in_browser(client, member: dict | str) -> None:
    """Sign a member in on ``client`` as a person does: their phone, then the code sent to it.

    ``member`` is the ``member`` fixture's body (or any member created with a ``phone``), or a phone.
    """
    _listen_for_codes()
    phone = member if isinstance(member, str) else member.get("phone")
    if not phone:
        raise AssertionError("sign_in_browser needs a member created with a phone (see new_phone())")
    token = csrf_token(client, "/me/login")
    response = client.post("/me/login", data={"csrf_token": token, "phone": phone})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]
    response = client.post("/me/login/code", data={"csrf_token": token, "code": last_code(phone)})
    assert response.status_code == 303, response.get_data(as_text=True)[:500]


@pytest.fixture
def read_page(memberday_app):
    """``read_page(path, member=None, status=200)`` → the page's HTML, read on a browser of its own.

    With ``member`` the browser is signed in as them first (``/me`` shows every enabled
    plugin's section).
    """

    def read(path: str, member: dict | None = None, status: int = 200) -> str:
        client = memberday_app.test_client()
        if member is not None:
            sign_in_browser(client, member)
        response = client.get(path)
        assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:500])
        return response.get_data(as_text=True)

    return read


def read_all(client, url: str, token: str | None = None, *, max_pages: int = 1000) -> list:
    """Every item of a list endpoint, following its ``next`` cursor page after page.

    Every list answers ``{"items": [...], "next": CURSOR or null, "per_page", ...}`` and
    takes ``?after=CURSOR`` to go on, ``?per_page=`` (1–200, default 50) and
    ``?count=exact`` for a ``total``; ``url`` may carry its own query (filters, ``per_page``).
    """
    from urllib.parse import quote

    items: list = []
    joiner = "&" if "?" in url else "?"
    page_url = url
    for _ in range(max_pages):
        response = client.get(page_url, headers=bearer(token) if token else {})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        items.extend(body["items"])
        if not body.get("next"):
            return items
        page_url = f"{url}{joiner}after={quote(body['next'])}"
    raise AssertionError(f"{url} has more than {max_pages} pages")


def run_concurrently(func, count: int, *, timeout: float = 120) -> list:
    """Call ``func(i)`` from ``count`` threads released together; return the results in order.

    Each thread should make its requests through its own ``app.test_client()``,
    so every call holds its own database connection: real concurrent clients.
    """
    import threading

    barrier = threading.Barrier(count)
    results: list = [None] * count
    errors: list = []

    def worker(index):
        try:
            barrier.wait(timeout)
            results[index] = func(index)
        except BaseException as exc:  # surfaced below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    if errors:
        raise errors[0]
    return results


class WireTrace:
    """Round trips to PostgreSQL while the block runs, counted on the wire: libpq's own trace of
    every connection checked out of ``target``'s pool (an engine, or ``sqlalchemy.pool.Pool`` for
    every pool), where each ``Sync`` (a statement of the extended protocol) and each ``Query`` (a
    plain one, such as ``BEGIN``) is one trip there and back. Unlike a counter on SQLAlchemy's
    events, it also sees statements sent on the driver's own connection and the transaction's
    ``BEGIN``/``COMMIT``. A connection's first use of a prepared statement costs one trip more.

        with WireTrace(engine) as wire:
            client.get(url)
        assert wire.trips == 1
    """

    def __init__(self, target):
        self.target, self.trips, self.lines, self._files = target, 0, [], {}

    def __enter__(self):
        from sqlalchemy import event

        event.listen(self.target, "checkout", self._checkout)
        event.listen(self.target, "checkin", self._checkin)
        return self

    def __exit__(self, *exc):
        from sqlalchemy import event

        event.remove(self.target, "checkout", self._checkout)
        event.remove(self.target, "checkin", self._checkin)
        for connection in list(self._files):
            self._stop(connection)

    def _checkout(self, dbapi_connection, record, proxy):
        import tempfile

        import psycopg

        trace = tempfile.TemporaryFile()
        dbapi_connection.pgconn.trace(trace.fileno())
        dbapi_connection.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        self._files[dbapi_connection] = trace

    def _checkin(self, dbapi_connection, record):
        if dbapi_connection in self._files:
            self._stop(dbapi_connection)

    def _stop(self, dbapi_connection):
        trace = self._files.pop(dbapi_connection)
        if not dbapi_connection.closed:
            dbapi_connection.pgconn.untrace()
        trace.seek(0)
        for line in trace.read().decode("utf-8", "replace").splitlines():
            fields = line.split("\t")
            if len(fields) > 2 and fields[0] == "F":
                self.lines.append(" ".join(fields[2:]))
                if fields[2].split(" ")[0] in ("Sync", "Query"):
                    self.trips += 1
        trace.close()


def query_plan(session, query, *, no_seqscan: bool = True) -> str:
    """PostgreSQL's plan for a SQLAlchemy select, parameters bound as the app binds them.

    With ``no_seqscan`` the planner avoids sequential scans where it can, so a test on a small
    table shows whether an index *can* serve the query (on a tiny table it would rightly scan).
    """
    from sqlalchemy import text

    from core.schemas import Explain

    savepoint = session.begin_nested()
    try:
        if no_seqscan:
            session.execute(text("SET LOCAL enable_seqscan = off"))
        return "\n".join(row[0] for row in session.execute(Explain(query)))
    finally:
        savepoint.rollback()  # undoes the SET LOCAL too


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LiveServer:
    """The app served by gunicorn in its own processes, on the same database as the test's app."""

    def __init__(self, app, workers: int = 2, args: list | tuple = (), extra_env: dict | None = None):
        self.app = app
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, MEMBERDAY_ENV="testing", DATABASE_URL=app.config["DATABASE_URL"],
                   SECRET_KEY=app.config["SECRET_KEY"], MEMBERDAY_RQ_QUEUE=app.config["RQ_QUEUE"])
        env.pop("REDIS_URL", None)
        if app.config.get("REDIS_URL"):
            env["REDIS_URL"] = app.config["REDIS_URL"]
        env.update(extra_env or {})
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        import tempfile

        self._log = tempfile.TemporaryFile(mode="w+")
        self.process = subprocess.Popen(
            [gunicorn, "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}", "--log-level", "warning",
             *args, "core:create_app()"],
            # stderr to a file, not a pipe: nobody reads a pipe while the test runs, and a worker
            # logging into a full one would hang in the middle of a request.
            env=env, stdout=subprocess.DEVNULL, stderr=self._log, text=True, start_new_session=True)
        self._wait_until_up()

    def log(self) -> str:
        """What gunicorn and the app wrote to stderr so far."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def _wait_until_up(self, timeout: float = 30) -> None:
        import time
        import urllib.request

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not answer /healthz in time")

    def call(self, method: str, path: str, body=None, token: str | None = None):
        """One JSON request over HTTP; returns (status, decoded body), or (None, None) if unreachable."""
        import json
        import urllib.error
        import urllib.request

        headers = {"Content-Type": "application/json", **(bearer(token) if token else {})}
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")
        except OSError:
            return None, None

    def stop(self) -> None:
        import signal

        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                pass
        try:  # the workers too, should the master have gone first
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        self._log.close()


@pytest.fixture
def memberday_live_server(memberday_app):
    """The test's app also served over HTTP by gunicorn (2 workers) in separate processes."""
    server = LiveServer(memberday_app)
    yield server
    server.stop()


def csrf_token(client, path: str = "/join") -> str:
    """The CSRF token a browser finds in a form: fetch a page with a form and read its hidden field.

    The token belongs to the client's session, so it is valid for every form
    that client posts afterwards (until it signs in or out).
    """
    import re

    page = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if found is None:
        raise AssertionError(f"no CSRF token in the form at {path}")
    return found.group(1)


class _ReadText(HTMLParser):
    """The words a reader sees: text and the labels a screen reader reads, outside <style>, <script>
    and elements marked as another language (``lang="en"`` on the switcher's "English")."""

    VOID = {"meta", "link", "input", "br", "img", "hr", "source"}

    def __init__(self, lang):
        super().__init__()
        self.lang, self.stack, self.words = lang, [], []

    def _hidden(self):
        return any(tag in ("style", "script") or (lang and lang != self.lang) for tag, lang in self.stack)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            return
        lang = "-" if attrs.get("translate") == "no" else attrs.get("lang")
        if tag not in self.VOID:
            self.stack.append((tag, lang))
        if not self._hidden() and lang in (None, self.lang):
            for name in ("placeholder", "aria-label", "alt", "title"):
                if attrs.get(name):
                    self.words.append(attrs[name])

    def handle_endtag(self, tag):
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data):
        if not self._hidden():
            self.words.append(data)


def english_words(html: str, lang: str = "zh-Hant", allowed=("QR",)) -> list:
    """The English words a reader of a Chinese page sees (none, when every string is translated).

    Leaves out what is not text for that reader: ``<style>``, ``<script>``, elements in another
    language (``lang="en"``, as the switcher's "English") and those marked ``translate="no"``
    (a ticket code). ``allowed`` lists words the page may keep: "QR", which Chinese writes as is
    (QR 碼), and whatever a test adds (a product name).
    """
    parser = _ReadText(lang)
    parser.feed(html)
    text = " ".join(parser.words)
    return [word for word in re.findall(r"[A-Za-z]{2,}", text) if word not in allowed]


def join_browser(client, path: str = "/join", **form):
    """Join through a page's form as a person does: the form, then the code sent to the phone.

    ``form`` holds the fields (``name``, ``email``, ``consent``...); ``phone`` defaults to a
    new one. Returns the answer to the code (303 to ``/me`` once joined).
    """
    _listen_for_codes()
    form.setdefault("phone", new_phone())
    token = csrf_token(client, path)
    response = client.post(path, data=dict(form, csrf_token=token))
    assert response.status_code == 303 and response.headers["Location"].endswith("/me/login/code"), \
        (response.status_code, response.get_data(as_text=True)[:500])
    from core.members.identity import normalise_phone

    return client.post("/me/login/code", data={"csrf_token": token,
                                               "code": last_code(normalise_phone(form["phone"], "TW"))})


class WeChatOAuthStandIn:
    """A local stand-in for WeChat's web sign-in (OAuth ``snsapi_base``), on its real paths.

    ``GET /connect/oauth2/authorize?appid=&redirect_uri=&response_type=code&scope=&state=``
    answers 302 to ``redirect_uri?code=CODE&state=STATE`` for the user set by ``sign_in_as``;
    ``GET /sns/oauth2/access_token?appid=&secret=&code=&grant_type=authorization_code`` trades a
    code, once, for ``{"access_token", "expires_in", "refresh_token", "openid", "scope"}``, else
    answers WeChat's error body (``{"errcode": 40029, "errmsg": "invalid code"}``).
    """

    def __init__(self, app_id: str = "wx-test-app", secret: str = "wx-test-secret"):
        import http.server
        import threading

        self.app_id, self.secret = app_id, secret
        self.openid = "o" + secrets.token_urlsafe(20)
        self.codes: dict[str, str] = {}
        self.exchanges: list[dict] = []
        stand_in = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                stand_in._answer(self)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def sign_in_as(self, openid: str) -> None:
        """The WeChat user who approves the next sign-ins."""
        self.openid = openid

    def settings(self) -> dict:
        """The app settings that point Memberday's WeChat sign-in here."""
        return {"WECHAT_OAUTH_APP_ID": self.app_id, "WECHAT_OAUTH_SECRET": self.secret,
                "WECHAT_OAUTH_API_BASE": self.url + "/", "WECHAT_OAUTH_BASE": self.url + "/connect/"}

    def _answer(self, handler) -> None:
        from urllib.parse import parse_qs, urlencode, urlsplit

        parts = urlsplit(handler.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        if parts.path == "/connect/oauth2/authorize":
            if query.get("appid") != self.app_id or query.get("scope") != "snsapi_base" \
                    or query.get("response_type") != "code":
                return self._json(handler, {"errcode": 10003, "errmsg": "redirect_uri or appid invalid"})
            code = secrets.token_urlsafe(16)
            self.codes[code] = self.openid
            back = query["redirect_uri"] + "?" + urlencode({"code": code, "state": query.get("state", "")})
            handler.send_response(302)
            handler.send_header("Location", back)
            handler.end_headers()
            return None
        if parts.path == "/sns/oauth2/access_token":
            self.exchanges.append(query)
            openid = self.codes.pop(query.get("code", ""), None)
            if query.get("appid") != self.app_id or query.get("secret") != self.secret:
                return self._json(handler, {"errcode": 40125, "errmsg": "invalid appsecret"})
            if openid is None or query.get("grant_type") != "authorization_code":
                return self._json(handler, {"errcode": 40029, "errmsg": "invalid code"})
            return self._json(handler, {"access_token": secrets.token_urlsafe(24), "expires_in": 7200,
                                        "refresh_token": secrets.token_urlsafe(24), "openid": openid,
                                        "scope": "snsapi_base"})
        handler.send_response(404)
        handler.end_headers()
        return None

    @staticmethod
    def _json(handler, body: dict) -> None:
        import json

        data = json.dumps(body).encode()
        handler.send_response(200)  # WeChat answers its errors with 200 and an errcode
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    def follow(self, authorize_url: str) -> str:
        """What WeChat's page does when the user agrees: the URL it sends the browser back to."""
        import urllib.error
        import urllib.request

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        opener = urllib.request.build_opener(NoRedirect)
        try:
            opener.open(authorize_url.split("#", 1)[0], timeout=10)
        except urllib.error.HTTPError as redirect:
            return redirect.headers["Location"]
        raise AssertionError("the stand-in did not redirect")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def wechat_oauth(memberday_app):
    """A ``WeChatOAuthStandIn`` the test's app signs members in with (WeChat's web sign-in)."""
    stand_in = WeChatOAuthStandIn()
    memberday_app.config.update(stand_in.settings())
    yield stand_in
    stand_in.stop()


class PageServer:
    """The test's app served over HTTP by Werkzeug in a thread of this process (for a real browser).

    Unlike ``memberday_live_server`` (gunicorn, other processes) it shares the process, so
    ``one_time_code`` sees the codes it sends.
    """

    def __init__(self, app):
        import threading

        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        app.config["PUBLIC_URL"] = self.url
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def memberday_page_server(memberday_app):
    """The test's app served over HTTP in this process (``.url``), for browser tests."""
    server = PageServer(memberday_app)
    yield server
    server.stop()
