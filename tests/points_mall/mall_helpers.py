"""Plain helpers for the points mall tests (the fixtures live in conftest)."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event, select, text

from core.testing import run_concurrently


def redeem(client, member: dict, item_id: int, quantity: int = 1, headers: dict | None = None):
    return client.post("/api/v1/mall/redemptions", headers=headers or member["headers"],
                       json={"member_id": member["id"], "item_id": item_id, "quantity": quantity})


def balance(client, member: dict) -> int:
    response = client.get(f"/api/v1/members/{member['id']}/points", headers=member["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["balance"]


def item_row(app, item_id: int) -> dict:
    from core.extensions import db
    from plugins.points_mall.models import MallItem

    with app.app_context():
        item = db.session.get(MallItem, item_id)
        return {column.name: getattr(item, column.name) for column in MallItem.__table__.columns}


def code_rows(app, item_id: int) -> list[dict]:
    from core.extensions import db
    from plugins.points_mall.models import VoucherCode

    with app.app_context():
        rows = db.session.scalars(select(VoucherCode).where(VoucherCode.item_id == item_id)
                                  .order_by(VoucherCode.id)).all()
        return [{"code": row.code, "status": row.status, "redemption_id": row.redemption_id} for row in rows]


def fire_together(app, calls: list, workers: int | None = None) -> list[tuple[int, dict]]:
    """Run ``calls`` (each ``call(client) -> response``) on ``workers`` threads released together.

    Every thread has its own test client, so every request has its own session
    and database connection. Returns (status, body) per call, in order.
    """
    workers = min(workers or len(calls), len(calls))

    def work(offset: int) -> list:
        client = app.test_client()
        return [(index, calls[index](client)) for index in range(offset, len(calls), workers)]

    results: list = [None] * len(calls)
    for done in run_concurrently(work, workers):
        for index, response in done:
            results[index] = (response.status_code, response.get_json())
    return results


@contextmanager
def stock_emptied_just_before_it_is_taken(app, item_id: int):
    """Another transaction sets the item's stock to 0 (and commits) right before the redemption's
    conditional UPDATE is sent: the early checks saw stock, the UPDATE finds none."""
    from core.extensions import db
    from plugins.points_mall.models import MallItem

    with app.app_context():
        engine = db.engine
    table = MallItem.__table__.name
    done: list[bool] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not done and statement.lstrip().startswith(f"UPDATE {table} SET stock="):
            done.append(True)
            with engine.connect() as other:
                other.execute(text(f"UPDATE {table} SET stock = 0 WHERE id = :id"), {"id": item_id})
                other.commit()

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield done
    finally:
        event.remove(engine, "before_cursor_execute", before)


@contextmanager
def statements_sent(app):
    """Every statement sent while the block runs (whitespace folded), and "COMMIT" where each commit fell."""
    from core.extensions import db

    with app.app_context():
        engine = db.engine
    sent: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        sent.append(" ".join(statement.split()))

    def committed(conn):
        sent.append("COMMIT")

    event.listen(engine, "before_cursor_execute", seen)
    event.listen(engine, "commit", committed)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)
        event.remove(engine, "commit", committed)
