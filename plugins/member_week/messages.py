"""What members read of a week outside its page: the announcement, the reminder, the keyword reply."""
from __future__ import annotations

from datetime import datetime

from flask import current_app

from core.i18n import _, date, number
from plugins.member_week.models import MemberWeek


def _first_day(week: MemberWeek) -> str:
    """The first day, in the brand's time zone, written the reader's way."""
    return date(week.starts_at)


def _last_day(week: MemberWeek) -> str:
    from datetime import timedelta

    return date(week.ends_at - timedelta(seconds=1))


def week_url(week: MemberWeek) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/member-week/{week.id}"


def _benefit_titles(week: MemberWeek) -> str:
    return ", ".join(benefit.title for benefit in week.benefits)


def announcement(week: MemberWeek) -> tuple[str, str]:
    title = _("Member week: %(name)s", name=week.name)
    body = _("From %(start)s to %(end)s: %(benefits)s. %(url)s", start=_first_day(week), end=_last_day(week),
             benefits=_benefit_titles(week) or _("member-only offers"), url=week_url(week))
    if week.points_multiplier > 1:
        body += " " + _("Orders earn %(multiplier)s× points.", multiplier=number(week.points_multiplier.normalize()))
    return title[:200], body


def reminder(week: MemberWeek) -> tuple[str, str]:
    title = _("Member week starts today: %(name)s", name=week.name)
    body = _("Until %(end)s: %(benefits)s. Claim yours: %(url)s", end=_last_day(week),
             benefits=_benefit_titles(week) or _("member-only offers"), url=week_url(week))
    return title[:200], body


def keyword_answer(week: MemberWeek, now: datetime) -> str:
    if now < week.starts_at:
        return _("%(name)s starts %(start)s. %(url)s", name=week.name, start=_first_day(week), url=week_url(week))
    return _("%(name)s is on until %(end)s. Claim your benefits: %(url)s", name=week.name, end=_last_day(week),
             url=week_url(week))
