"""Every statement on the hot routes earns its place: the statements one request sends, counted at
the driver on PostgreSQL, are held at what each route needs, so a reload or a repeated check
cannot creep back in unnoticed.

The counts are of statements (not time): ``before_cursor_execute`` sees every statement the app
sends through SQLAlchemy; the driver's own ``BEGIN``/``COMMIT``/``ROLLBACK`` are not statements.
Each route is asked once first, so per-process work (the plugin flags, the listener) is done.
"""
from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import event

from core.testing import bearer

SHOW = bool(os.environ.get("MEMBERDAY_SHOW_SQL"))


class Counter:
    def __init__(self, engine):
        self.engine, self.statements, self.autocommit = engine, [], []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._seen)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._seen)
        if SHOW:
            print(f"\n--- {len(self.statements)} statements")
            for statement in self.statements:
                print("   ", " ".join(statement.split())[:160])

    def _seen(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)
        self.autocommit.append(conn.connection.driver_connection.autocommit)

    def __len__(self):
        return len(self.statements)


@pytest.fixture
def count_statements(memberday_app):
    from core.extensions import db

    with memberday_app.app_context():
        engine = db.engine

    def counter():
        return Counter(engine)

    return counter


def test_points_read(memberday_client, member, count_statements, operator_token):
    for number in range(3):
        assert memberday_client.post("/api/v1/orders", headers=bearer(operator_token),
                                     json={"external_id": f"p-{number}", "member_id": member["id"],
                                           "amount": "10.00"}).status_code == 201
    # An operator reads through the ordinary path; the member's own read is one statement on the
    # driver's connection, counted on the wire in test_points_page.py.
    url, headers = f"/api/v1/members/{member['id']}/points", bearer(operator_token)
    assert memberday_client.get(url, headers=headers).status_code == 200
    with count_statements() as sent:
        response = memberday_client.get(url, headers=headers)
    assert response.status_code == 200 and len(response.get_json()["items"]) == 3
    assert 0 < len(sent) <= POINTS_READ
    assert all(sent.autocommit)  # no BEGIN before them, no ROLLBACK after: one round trip each


def test_member_search_by_phone(memberday_client, count_statements, operator_token):
    phone = "+886912345678"
    assert memberday_client.post("/api/v1/members", json={"name": "Searched", "phone": phone}).status_code == 201
    url = "/api/v1/members?q=%2B886912345678"
    assert memberday_client.get(url, headers=bearer(operator_token)).status_code == 200
    with count_statements() as sent:
        response = memberday_client.get(url, headers=bearer(operator_token))
    assert response.status_code == 200 and [m["phone"] for m in response.get_json()["items"]] == [phone]
    assert len(sent) <= MEMBER_SEARCH
    assert all(sent.autocommit)  # no BEGIN before them, no ROLLBACK after


def test_order_report(memberday_client, member, count_statements, operator_token):
    def report(external_id):
        return memberday_client.post("/api/v1/orders", headers=bearer(operator_token),
                                     json={"external_id": external_id, "member_id": member["id"], "amount": "10.00"})

    assert report("warm-up").status_code == 201
    with count_statements() as sent:
        response = report("counted")
    assert response.status_code == 201
    assert len(sent) <= ORDER_REPORT


def test_order_report_with_a_queue_leaves_the_plugins_work_to_the_worker(memberday_client, member, count_statements,
                                                                          operator_token, memberday_worker):
    def report(external_id):
        return memberday_client.post("/api/v1/orders", headers=bearer(operator_token),
                                     json={"external_id": external_id, "member_id": member["id"], "amount": "10.00"})

    assert report("queued-warm-up").status_code == 201
    with count_statements() as sent:
        response = report("queued-counted")
    assert response.status_code == 201
    assert len(sent) <= ORDER_REPORT_QUEUED
    memberday_worker.run()  # the events are delivered by the worker, and only there
    assert memberday_worker.failed() == []


@pytest.fixture
def share_code(memberday_client, member):
    response = memberday_client.get(f"/api/v1/members/{member['id']}/referral", headers=bearer(member["token"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["code"]


def test_share_link(memberday_client, share_code, count_statements):
    assert memberday_client.get(f"/r/{share_code}").status_code == 303
    with count_statements() as sent:
        response = memberday_client.get(f"/r/{share_code}")
    assert response.status_code == 303
    assert len(sent) <= SHARE_LINK


def test_cached_qr_revalidation(memberday_client, share_code, count_statements):
    first = memberday_client.get(f"/r/{share_code}/qr.png")
    assert first.status_code == 200
    etag = first.headers["ETag"]
    with count_statements() as sent:
        response = memberday_client.get(f"/r/{share_code}/qr.png", headers={"If-None-Match": etag})
    assert response.status_code == 304
    assert len(sent) <= QR_304


def test_mall_redemption(memberday_app, memberday_client, operator_token, count_statements):
    from core.members.services import create_member
    from core.rewards.services import credit

    with memberday_app.app_context():
        buyer, token = create_member("Mall buyer")
        credit(buyer.id, 10_000, "Welcome points", f"test:welcome:{buyer.id}")
        buyer_id = buyer.id
    item = memberday_client.post("/api/v1/mall/items", headers=bearer(operator_token),
                                 json={"name": "Mug", "points_cost": 100, "stock": 100}).get_json()

    def redeem():
        return memberday_client.post("/api/v1/mall/redemptions",
                                     headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())},
                                     json={"member_id": buyer_id, "item_id": item["id"], "quantity": 1})

    assert redeem().status_code == 201
    with count_statements() as sent:
        response = redeem()
    assert response.status_code == 201, response.get_json()
    assert len(sent) <= MALL_REDEMPTION


# The statements each route needs now (lower them as routes get leaner; never raise one without
# writing the reason here).
#
# points read by an operator (the ordinary path): the operator behind the token, the member, and
#   the page of entries; a first page that is not full needs no estimate. All run without a
#   transaction around them (reads_only): no BEGIN, no ROLLBACK. A member reading their own page
#   sends one statement (core.rewards.reads; counted on the wire in test_points_page.py).
POINTS_READ = 3
# member search by phone: the operator behind the token, and the page; a first page that is not
#   full needs no estimate. Without a transaction around them (reads_only).
MEMBER_SEARCH = 2
# order report: the operator; under the member's lock (the member read once): the multiplier hook
#   asks nothing (no member week runs now, which the member week plugin knows from memory,
#   core.plugins.memo; its savepoint costs no statement then), the order inserted ON CONFLICT DO NOTHING (no check before, no
#   savepoint; a retry is told by the conflict), the member's counters, the lot, the balance,
#   the entry, the events; then the plugins' event delivery (inline here: no Redis).
ORDER_REPORT = 19
# order report with a queue (REDIS_URL): the same up to the events; their delivery is a job.
ORDER_REPORT_QUEUED = 8
# share link: nothing; the code is cached in the process and the click joins the process's batch,
#   written with the others in one transaction (plugins/referral/clicks.py).
SHARE_LINK = 0
# cached QR answered 304: nothing (the code, the flags and the image's ETag are in memory).
QR_304 = 0
# mall redemption: the member behind the token; the idempotency key; the offers hook asks nothing
#   (no member week prices mall items now, which the member week plugin knows from memory,
#   core.plugins.memo, so its savepoint costs no statement); under the member lock (taken once):
#   the item, read once (its price and sale window now); then on PostgreSQL one call of
#   points_mall_redeem() (migration points_mall_0003) writes the redemption, the balance, the entry
#   and the spend from the lots with their allocations -- seven statements of the ORM path, which
#   SQLite and voucher items keep; the stored answer, and last the stock's conditional UPDATE ...
#   RETURNING (the item's row is locked from it to the COMMIT: tests/points_mall/test_stock_taken_last.py).
MALL_REDEMPTION = 7


def test_a_request_that_said_it_only_reads_cannot_open_a_transaction(memberday_app):
    from core.database import reads_only, transaction
    from core.extensions import db
    from core.members.models import Member

    with memberday_app.test_request_context("/"):
        reads_only()
        db.session.scalar(db.select(Member.id).limit(1))
        with pytest.raises(RuntimeError):
            with transaction():
                pass
        db.session.remove()
