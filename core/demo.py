"""``memberday demo``: a believable brand to try the platform with."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from core.auth.models import Operator
from core.auth.services import create_operator, hash_token, new_token, OPERATOR_PREFIX
from core.database import transaction, utcnow
from core.extensions import db
from core.members.models import Member
from core.members.services import create_member
from core.orders.services import report_paid_order
from core.plugins.host import current_host
from core.rewards.services import create_template, issue_coupon

DEMO_ADMIN = "demo-admin"

# (name, phone, stage, days since each paid order, tier)
PEOPLE = [
    ("林雅婷 Ya-Ting Lin", "+886912000001", "prospect", [], "member"),
    ("陳志明 Chih-Ming Chen", "+886912000002", "prospect", [], "member"),
    ("王怡君 Yi-Chun Wang", "+886912000003", "new", [5], "member"),
    ("張家豪 Chia-Hao Chang", "+886912000004", "new", [12], "member"),
    ("李佳穎 Chia-Ying Li", "+886912000005", "active", [80, 40, 9], "silver"),
    ("黃冠宇 Kuan-Yu Huang", "+886912000006", "active", [200, 120, 60, 20, 3], "gold"),
    ("吳淑芬 Shu-Fen Wu", "+886912000007", "active", [300, 150, 90, 30, 2], "platinum"),
    ("劉建宏 Chien-Hung Liu", "+886912000008", "at_risk", [120, 45], "silver"),
    ("蔡欣怡 Hsin-Yi Tsai", "+886912000009", "at_risk", [95, 52], "member"),
    ("楊宗翰 Tsung-Han Yang", "+886912000010", "lapsed", [400, 180], "gold"),
    ("許雅雯 Ya-Wen Hsu", "+886912000011", "lapsed", [75], "member"),
]

AMOUNTS = [Decimal("129.90"), Decimal("468.00"), Decimal("1280.00"), Decimal("89.00"), Decimal("350.50")]


def seed() -> tuple[str, str]:
    """Seed once (a second run only prints a fresh admin token). Returns (summary, token)."""
    existing = db.session.scalar(select(Operator).where(Operator.name == DEMO_ADMIN))
    if existing is not None:
        token = new_token(OPERATOR_PREFIX)
        with transaction():
            db.session.get(Operator, existing.id).token_hash = hash_token(token)
        return "Demo data is already there; here is a fresh token for the demo admin.", token

    operator, token = create_operator(DEMO_ADMIN, "admin")
    create_operator("demo-staff", "staff")
    now = utcnow()
    by_stage: dict[str, list[Member]] = {}
    count = 0
    for index, (name, phone, stage, days_ago, tier) in enumerate(PEOPLE):
        member, _ = create_member(name, phone=phone, email=f"member{index + 1}@example.com",
                                  openid=f"demo-openid-{index + 1}", tier=tier, marketing_consent=index % 2 == 0,
                                  context={"channel": "demo"})
        member_id = member.id
        for n, days in enumerate(days_ago):
            count += 1
            report_paid_order(f"DEMO-{index + 1:03d}-{n + 1}", member_id, AMOUNTS[(index + n) % len(AMOUNTS)],
                              now - timedelta(days=days, hours=index))
        by_stage.setdefault(stage, []).append(db.session.get(Member, member_id))

    latte = create_template("Free latte", value=Decimal("120.00"), channel="offline", valid_days=30,
                            description="Any size, any store.")
    shipping = create_template("Free shipping", value=Decimal("60.00"), channel="online", valid_days=60)
    voucher = create_template("NT$100 off", value=Decimal("100.00"), channel="any", valid_days=14)
    for member in by_stage.get("active", []) + by_stage.get("at_risk", []):
        issue_coupon(member.id, latte.id, source=f"demo:latte:{member.id}")
    for member in by_stage.get("new", []):
        issue_coupon(member.id, shipping.id, source=f"demo:shipping:{member.id}")
    for member in by_stage.get("lapsed", []):
        issue_coupon(member.id, voucher.id, source=f"demo:winback:{member.id}")

    operator = db.session.get(Operator, operator.id)
    current_host().call_each("memberday_seed_demo", members=by_stage, operator=operator)
    summary = (f"Seeded {len(PEOPLE)} members ({', '.join(f'{len(v)} {k}' for k, v in by_stage.items())}), "
               f"{count} orders, 3 coupon templates, an admin and a staff operator.")
    return summary, token
