"""Inbound messages: claim the message id, ask the plugins for a reply, remember it.

A channel may deliver the same message more than once (WeChat retries after
5 s). The first delivery claims ``(channel, message_id)`` in its own
transaction; a repeat finds the claim and answers with the same reply.
"""
from __future__ import annotations

import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.database import transaction
from core.extensions import db
from core.members.services import member_by_openid
from core.messaging.models import InboundMessage
from core.plugins.host import current_host, emit

WAIT_FOR_TWIN_SECONDS = 4.0


def handle_message(channel: str, sender: str, text: str, message_id: str) -> str | None:
    """Route one inbound message to the plugins by keyword; return the reply (or None)."""
    text = (text or "").strip()
    member = member_by_openid(sender)
    try:
        with transaction():
            message = InboundMessage(channel=channel, message_id=message_id, sender=sender, text=text,
                                     member_id=member.id if member else None)
            db.session.add(message)
    except IntegrityError:
        return _reply_of_twin(channel, message_id)

    _, reply = current_host().first_result("memberday_keyword_reply", member=member, text=text,
                                           channel=channel, sender=sender)
    with transaction():
        message = db.session.get(InboundMessage, message.id, populate_existing=True)
        message.reply = "" if reply is None else str(reply)
        emit("memberday_message_received", message=message, member=member)
    return reply if reply is None else str(reply)


def _reply_of_twin(channel: str, message_id: str) -> str | None:
    deadline = time.monotonic() + WAIT_FOR_TWIN_SECONDS
    while True:
        reply = db.session.scalar(
            select(InboundMessage.reply).where(InboundMessage.channel == channel,
                                               InboundMessage.message_id == message_id)
            .execution_options(populate_existing=True))
        db.session.rollback()
        if reply is not None or time.monotonic() > deadline:
            return reply or None
        time.sleep(0.05)
