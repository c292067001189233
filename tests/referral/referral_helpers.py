"""Plain helpers the referral tests share (reading rows, reporting orders, running jobs)."""
from __future__ import annotations

from sqlalchemy import select


def join(client, name, **fields):
    response = client.post("/api/v1/members", json={"name": name, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def referrals(app, **filters):
    """Every referral row (as plain dicts), oldest first."""
    from core.extensions import db
    from plugins.referral.models import Referral

    with app.app_context():
        query = select(Referral).order_by(Referral.id)
        for key, value in filters.items():
            query = query.where(getattr(Referral, key) == value)
        rows = db.session.scalars(query).all()
        return [{column.name: getattr(row, column.name) for column in Referral.__table__.columns} for row in rows]


def points(client, admin, member_id):
    response = client.get(f"/api/v1/members/{member_id}/points", headers=admin)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["balance"], body["pending"]


def report_order(client, admin, external_id, member_id, amount):
    return client.post("/api/v1/orders", headers=admin,
                       json={"external_id": external_id, "member_id": member_id, "amount": amount})


def run_job(app, name, *args):
    from core.jobs import run

    with app.app_context():
        return run(name, *args)
