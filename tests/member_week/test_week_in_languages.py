"""The member week in each member's language: the announcement written per member in the language
they saved (in the one batched statement), the keyword reply, and the landing page in Chinese."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from core.testing import empty_tables, english_words, make_app
from week_helpers import iso, running_window


@pytest.fixture
def memberday_app(memberday_database_url):
    app = make_app(memberday_database_url, BRAND_NAME="晨光咖啡")
    yield app
    empty_tables(app)


def _save_language(app, member: dict, locale: str | None) -> None:
    from core.members.services import set_locale

    with app.app_context():
        set_locale(member["id"], locale)


def _reply(client, admin, sender, text, message_id, language="en"):
    response = client.post("/api/v1/messages", headers={**admin, "Accept-Language": language},
                           json={"channel": "wechat", "from": sender, "text": text, "message_id": message_id})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["reply"]


def test_the_announcement_reaches_each_member_in_their_language(memberday_app, memberday_client, admin, new_member,
                                                                tick):
    from core.extensions import db
    from core.notifications.models import Notification

    members = {locale: new_member(tags=["spring"]) for locale in ("zh_Hant", "zh_Hans", "en", None)}
    for locale, member in members.items():
        _save_language(memberday_app, member, locale)
    now = datetime.now(timezone.utc)
    response = memberday_client.post("/api/v1/member-weeks", headers=admin, json={
        "name": "春季會員週", "starts_at": iso(now + timedelta(days=10)), "ends_at": iso(now + timedelta(days=17)),
        "announce_at": iso(now - timedelta(minutes=1)), "holdout_percent": 0, "audience": {"tags_all": ["spring"]}})
    assert response.status_code == 201, response.get_json()

    tick()  # the snapshot and the announcement (jobs run inline here)

    with memberday_app.app_context():
        titles = dict(db.session.execute(select(Notification.member_id, Notification.title)).all())
    assert titles[members["zh_Hant"]["id"]] == "會員週：春季會員週"
    assert titles[members["zh_Hans"]["id"]] == "会员周：春季會員週"
    assert titles[members["en"]["id"]] == "Member week: 春季會員週"
    assert titles[members[None]["id"]] == "Member week: 春季會員週"  # no choice: the brand's (English here)


def test_the_keyword_reply_is_in_the_members_language(memberday_app, memberday_client, admin, new_member,
                                                      new_week, tick):
    simplified, traditional = new_member(openid="wx-week-hans"), new_member(openid="wx-week-hant")
    _save_language(memberday_app, simplified, "zh_Hans")
    _save_language(memberday_app, traditional, "zh_Hant")
    starts, ends = running_window()
    new_week(name="會員週", starts_at=starts, ends_at=ends, holdout_percent=0, keyword="會員週")
    tick()

    assert "进行中" in _reply(memberday_client, admin, "wx-week-hans", "會員週", "m-1", language="zh-TW")
    assert "進行中" in _reply(memberday_client, admin, "wx-week-hant", "會員週", "m-2", language="en")


def test_the_landing_page_in_traditional_chinese_has_no_english(memberday_app, new_week, tick):
    starts, ends = running_window()
    week = new_week(name="春季會員週", starts_at=starts, ends_at=ends, holdout_percent=0,
                    benefits=[{"title": "加碼點數", "kind": "points", "points": 50}])
    tick()

    html = memberday_app.test_client().get(f"/member-week/{week['id']}", headers={"Accept-Language": "zh-TW"}) \
        .get_data(as_text=True)

    assert '<html lang="zh-Hant">' in html and "春季會員週" in html and "加碼點數" in html
    assert english_words(html) == []
