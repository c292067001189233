"""The outbox: write a notification, deliver it in a job through a channel.

Channels are plugins (``memberday_notification_channel``); when none takes a
notification the member's inbox -- shown on their page and in the API -- is
the channel.
"""
from __future__ import annotations

from sqlalchemy import select

from core.database import transaction, utcnow
from core.extensions import db
from core.jobs import enqueue
from core.members.models import Member
from core.notifications.models import Notification


def notify(member_id: int, title: str, body: str = "") -> Notification:
    """Queue a notification for a member; a job delivers it."""
    with transaction():
        notification = Notification(member_id=member_id, audience="member", title=title[:200], body=body)
        db.session.add(notification)
        db.session.flush()
        enqueue("core.deliver_notification", notification.id)
        return notification


def notify_many(messages) -> list[Notification]:
    """Queue several notifications, (member id, title, body) each, written in one statement."""
    with transaction():
        notifications = [Notification(member_id=member_id, audience="member", title=title[:200], body=body)
                         for member_id, title, body in messages]
        db.session.add_all(notifications)
        db.session.flush()
        for notification in notifications:
            enqueue("core.deliver_notification", notification.id)
        return notifications


def notify_operators(title: str, body: str = "") -> Notification:
    """A notification every operator sees in the operators' inbox."""
    with transaction():
        notification = Notification(member_id=None, audience="operators", title=title[:200], body=body,
                                    channel="operators", status="sent", sent_at=utcnow())
        db.session.add(notification)
        db.session.flush()
        return notification


def deliver(notification_id: int) -> str | None:
    """Deliver one queued notification (a job: a second run finds it sent and does nothing)."""
    from core.plugins.host import current_host

    with transaction():
        notification = db.session.scalar(
            select(Notification).where(Notification.id == notification_id).with_for_update()
            .execution_options(populate_existing=True))
        if notification is None or notification.status != "queued":
            return None
        notification.attempts += 1
        member = db.session.get(Member, notification.member_id) if notification.member_id else None
        _, channel = current_host().first_result("memberday_notification_channel",
                                                 notification=notification, member=member)
        notification.channel = str(channel) if channel else "inbox"
        notification.status = "sent"
        notification.sent_at = utcnow()
        return notification.channel


def inbox(member_id: int):
    return (select(Notification)
            .where(Notification.member_id == member_id, Notification.audience == "member")
            .order_by(Notification.id.desc()))


def operators_inbox():
    return select(Notification).where(Notification.audience == "operators").order_by(Notification.id.desc())
