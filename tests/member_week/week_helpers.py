"""Plain helpers for the member week tests (the fixtures live in conftest)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

TAIPEI = timezone(timedelta(hours=8))


def iso(moment: datetime) -> str:
    return moment.isoformat()


def running_window(days: int = 7) -> tuple[str, str]:
    """A window that started an hour ago (so the week runs now, by the real clock)."""
    now = datetime.now(timezone.utc)
    return iso(now - timedelta(hours=1)), iso(now - timedelta(hours=1) + timedelta(days=days))


def order(client, admin, external_id: str, member_id: int, amount: str, paid_at: datetime | None = None):
    body = {"external_id": external_id, "member_id": member_id, "amount": amount}
    if paid_at is not None:
        body["paid_at"] = iso(paid_at)
    response = client.post("/api/v1/orders", json=body, headers=admin)
    assert response.status_code in (200, 201), response.get_json()
    return response.get_json()


def claim(client, member: dict, week_id: int, benefit_id: int, key: str | None = None):
    headers = dict(member["headers"])
    if key:
        headers["Idempotency-Key"] = key
    return client.post(f"/api/v1/member-weeks/{week_id}/claim", json={"benefit_id": benefit_id}, headers=headers)


def snapshot(app, week_id: int) -> dict[int, dict]:
    from core.extensions import db
    from plugins.member_week.models import AudienceMember

    with app.app_context():
        rows = db.session.scalars(select(AudienceMember).where(AudienceMember.week_id == week_id)).all()
        return {row.member_id: {"stage": row.stage, "held_out": row.held_out, "notified_at": row.notified_at,
                                "reminded_at": row.reminded_at} for row in rows}


def week_row(app, week_id: int):
    from core.extensions import db
    from plugins.member_week.models import MemberWeek

    with app.app_context():
        week = db.session.get(MemberWeek, week_id)
        return {column.name: getattr(week, column.name) for column in MemberWeek.__table__.columns}


def set_seed(app, week_id: int, seed: str) -> None:
    """Fix a week's holdout seed before its snapshot, so a test knows who will be held out."""
    from core.database import transaction
    from core.extensions import db
    from plugins.member_week.models import MemberWeek

    with app.app_context(), transaction():
        db.session.get(MemberWeek, week_id).holdout_seed = seed


def notifications_per_member(app, title_part: str) -> dict[int, int]:
    from sqlalchemy import func

    from core.extensions import db
    from core.notifications.models import Notification

    with app.app_context():
        rows = db.session.execute(select(Notification.member_id, func.count())
                                  .where(Notification.title.contains(title_part))
                                  .group_by(Notification.member_id)).all()
        return dict(rows)
