"""Demo referrals for ``memberday demo``: friends who came through one active member's link."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from core.database import transaction, utcnow
from core.extensions import db
from core.members.services import create_member
from core.orders.services import report_paid_order
from plugins.referral import services
from plugins.referral.models import Referral, ReferralClick

# (name, phone, device, first order amount or None)
FRIENDS = [
    ("周美玲 Mei-Ling Chou", "+886912100001", "demo-device-r1", Decimal("420.00")),
    ("鄭宇翔 Yu-Hsiang Cheng", "+886912100002", "demo-device-r2", Decimal("268.00")),
    ("謝佩珊 Pei-Shan Hsieh", "+886912100003", "demo-device-r3", None),
    ("郭俊傑 Chun-Chieh Kuo", "+886912100004", "demo-device-r1", None),  # the first friend's device again: refused
]


def seed(members: dict) -> None:
    referrers = members.get("active") or [m for group in members.values() for m in group]
    if not referrers:
        return
    referrer_id = referrers[0].id
    code = services.code_for(referrer_id).code
    now = utcnow()
    with transaction():
        for days, source in ((9, "link"), (8, "qr"), (6, "link"), (5, "link"), (3, "qr"), (1, "link")):
            db.session.add(ReferralClick(referrer_id=referrer_id, source=source, user_agent="demo",
                                         client_hash=services.client_hash(f"demo-{days}"),
                                         created_at=now - timedelta(days=days)))
    for index, (name, phone, device, amount) in enumerate(FRIENDS):
        friend, _ = create_member(name, phone=phone, device_id=device,
                                  context={"referral_code": code, "channel": "demo"})
        if amount is not None:
            report_paid_order(f"DEMO-REF-{index + 1}", friend.id, amount)
    # The first friend's hold is over: show a rewarded referral next to a held one.
    first = db.session.scalar(db.select(Referral).where(Referral.phone == FRIENDS[0][1]))
    if first is not None and first.status == "held":
        with transaction():
            db.session.get(Referral, first.id).hold_until = now
        services.release_referral(first.id)
