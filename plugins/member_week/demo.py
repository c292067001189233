"""Demo member weeks for ``memberday demo``: a promotion, an ended week with its report, and the
next week, announced, with a coffee voucher pool and points."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from core.database import utcnow
from core.rewards.services import create_template
from plugins.member_week import report, services


def seed(members) -> None:
    now = utcnow()
    zone = services.brand_zone()
    midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    services.create_promotion({"name": "Double 11", "starts_at": midnight + timedelta(days=40),
                               "ends_at": midnight + timedelta(days=42)})
    coffee = create_template("Partner café: any coffee", value=Decimal("120.00"), channel="offline", valid_days=30,
                             description="At any partner café, during and after the member week.")
    makeup = create_template("Beauty counter: mini lipstick", value=Decimal("350.00"), channel="offline",
                             valid_days=30)
    past = services.create_week({
        "name": "October member week", "starts_at": midnight - timedelta(days=20),
        "ends_at": midnight - timedelta(days=13), "announce_at": midnight - timedelta(days=30),
        "points_multiplier": Decimal("2"), "audience": {}, "holdout_percent": 10, "keyword": None,
        "benefits": [{"title": "A coffee on us", "kind": "coupon", "coupon_template_id": coffee.id, "stock": 50}]},
        now=midnight - timedelta(days=31))
    services.tick(now=midnight - timedelta(days=12))
    report.compute(past.id)
    services.create_week({
        "name": "Member week", "starts_at": midnight + timedelta(days=3), "ends_at": midnight + timedelta(days=10),
        "announce_at": now, "points_multiplier": Decimal("3"), "audience": {}, "holdout_percent": 10,
        "keyword": "會員週",
        "benefits": [{"title": "A coffee on us", "kind": "coupon", "coupon_template_id": coffee.id, "stock": 100},
                     {"title": "Mini lipstick for gold members' week", "kind": "coupon",
                      "coupon_template_id": makeup.id, "stock": 20},
                     {"title": "200 bonus points", "kind": "points", "points": 200}]})
    services.tick()
