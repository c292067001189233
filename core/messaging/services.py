"""Inbound messages: claim the message id, ask the plugins for a reply, remember it.

A channel may deliver the same message more than once (WeChat retries after
5 s). The first delivery claims ``(channel, message_id)`` in its own
transaction. Handling it -- asking the plugins for the reply, storing the reply
and the message-received event -- is one transaction that holds the claim's
row lock, so a plugin's work and the reply commit together or not at all.

A repeat finds the claim. With a reply, it answers the same. Without one, it
waits a moment for the reply; and once the claim is older than
``MESSAGE_CLAIM_TIMEOUT_SECONDS`` and nobody holds its lock (the process
handling it died and its transaction went with it), the repeat takes the claim
over and handles the message itself -- once, because only one holder of the lock
can find it without a reply.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.database import transaction, utcnow
from core.extensions import db
from core.i18n import in_language
from core.members.services import member_by_openid
from core.messaging import keywords
from core.messaging.models import InboundMessage
from core.plugins.host import current_host, emit

WAIT_FOR_TWIN_SECONDS = 4.0
_BUSY = object()  # another process holds the message: wait for its reply


def handle_message(channel: str, sender: str, text: str, message_id: str,
                   now: datetime | None = None) -> str | None:
    """Route one inbound message to the plugins by keyword; return the reply (or None)."""
    text = (text or "").strip()
    member = member_by_openid(sender)
    try:
        with transaction():
            message = InboundMessage(channel=channel, message_id=message_id, sender=sender, text=text,
                                     member_id=member.id if member else None)
            db.session.add(message)
    except IntegrityError:
        return _reply_of_twin(channel, message_id, sender, now)
    reply = _handle(message.id, member)
    if reply is _BUSY:
        return _reply_of_twin(channel, message_id, sender, now)
    return reply


def _handle(message_pk: int, member):
    """Ask the plugins and store the reply, under the message's lock; ``_BUSY`` if someone holds it."""
    with transaction():
        message = db.session.scalar(select(InboundMessage).where(InboundMessage.id == message_pk)
                                    .with_for_update(skip_locked=True).execution_options(populate_existing=True))
        if message is None:
            return _BUSY
        if message.reply is not None:
            return message.reply or None
        host = current_host()
        holder = keywords.holder(message.text, message.created_at, host)
        # A held keyword is its holder's alone (even while the holder is off: then nobody answers).
        # The reply goes to the member, in the language they saved (the brand's for a stranger),
        # whatever the channel's call asks for.
        with in_language(member):
            _, reply = host.first_result("memberday_keyword_reply",
                                         only_plugins=None if holder is None else [holder],
                                         member=member, text=message.text, channel=message.channel,
                                         sender=message.sender, message_id=message.message_id,
                                         now=message.created_at)
        message.reply = "" if reply is None else str(reply)
        emit("memberday_message_received", message=message, member=member)
        return message.reply or None


def _reply_of_twin(channel: str, message_id: str, sender: str, now: datetime | None) -> str | None:
    timeout = timedelta(seconds=current_app.config["MESSAGE_CLAIM_TIMEOUT_SECONDS"])
    deadline = time.monotonic() + WAIT_FOR_TWIN_SECONDS
    while True:
        row = db.session.execute(
            select(InboundMessage.id, InboundMessage.reply, InboundMessage.created_at)
            .where(InboundMessage.channel == channel, InboundMessage.message_id == message_id)
            .execution_options(populate_existing=True)).one()
        db.session.rollback()
        if row.reply is not None:
            return row.reply or None
        if (now or utcnow()) - row.created_at >= timeout:
            # The claim is old and has no reply: take it over unless its holder is still at work.
            reply = _handle(row.id, member_by_openid(sender))
            if reply is not _BUSY:
                return reply
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)
