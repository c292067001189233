"""Demo events for ``memberday demo``: last month's fan party with its check-ins, and the next one,
open for sign-up by the keywords 報名 and 精粉節."""
from datetime import timedelta

from core.database import utcnow
from core.rewards.services import create_template
from plugins.offline_events import services


def seed(members) -> None:
    now = utcnow()
    everyone = [member for group in members.values() for member in group]
    drink = create_template("Fan party drink", value=60, channel="offline", valid_days=30,
                            description="A drink on us, for coming to the fan party.")
    online = create_template("精粉節 online coupon", value=100, channel="online", valid_days=14,
                             description="NT$100 off an online order of NT$500 or more.")

    past_start = now - timedelta(days=12)
    past = services.create_event({
        "title": "Autumn fan party", "venue": "Memberday Coffee, Xinyi store",
        "description": "Latte art, new beans and a members' tasting.", "starts_at": past_start,
        "ends_at": past_start + timedelta(hours=3), "capacity": 6, "attendance_points": 50,
        "attendance_coupon_template_id": drink.id}, now=past_start - timedelta(days=20))
    for index, member in enumerate(everyone[:8]):
        registration, _ = services.register(past.id, member.id, channel="keyword",
                                            now=past_start - timedelta(days=15 - index))
        if registration.status == "confirmed" and index % 3 != 2:
            services.check_in(past.id, f"demo-scan-{registration.id}", ticket=registration.ticket_code,
                              actor="demo", now=past_start + timedelta(minutes=5 + index))

    next_start = (now + timedelta(days=14)).replace(hour=11, minute=0, second=0, microsecond=0)
    upcoming = services.create_event({
        "title": "Winter fan party", "venue": "Memberday Coffee, Da'an store",
        "description": "Reply 報名 to sign up, 精粉節 for an online coupon.", "starts_at": next_start,
        "ends_at": next_start + timedelta(hours=3), "capacity": 4, "signup_keyword": "報名",
        "coupon_keyword": "精粉節", "coupon_template_id": online.id, "attendance_points": 80,
        "attendance_coupon_template_id": drink.id}, now=now)
    for member in everyone[2:7]:
        services.register(upcoming.id, member.id, channel="keyword", now=now)
