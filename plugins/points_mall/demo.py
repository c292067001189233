"""Demo catalogue for ``memberday demo``: a few items, one of them a partner voucher with codes."""
from datetime import timedelta

from core.database import utcnow
from plugins.points_mall import services


def seed(members) -> None:
    now = utcnow()
    services.create_item({"name": "Free latte", "description": "Any size, any store.", "points_cost": 120,
                          "stock": None, "per_member_limit": 5})
    services.create_item({"name": "Beauty store NT$200 voucher", "points_cost": 400, "stock": 30,
                          "per_member_limit": 1, "description": "A partner's voucher, used at their checkout.",
                          "voucher_codes": [f"BEAUTY-DEMO-{n:04d}" for n in range(1, 31)]})
    services.create_item({"name": "Insulated tumbler", "points_cost": 900, "stock": 12, "min_tier": "gold",
                          "description": "For our gold and platinum members."})
    services.create_item({"name": "Weekend brunch for two", "points_cost": 1500, "stock": 5,
                          "starts_at": now, "ends_at": now + timedelta(days=14),
                          "description": "Two weeks only."})
