"""The fan-party side in the member's language: keyword replies and notifications follow the language
the member saved, whatever the request asks; the ticket page reads in Chinese with no English left."""
import pytest

from core.testing import empty_tables, english_words, make_app
from events_helpers import inbox, message, sign_up


@pytest.fixture
def memberday_app(memberday_database_url):
    """The brand's own name, in Chinese, on every page."""
    app = make_app(memberday_database_url, BRAND_NAME="晨光咖啡")
    yield app
    empty_tables(app)


def _save_language(app, member: dict, locale: str) -> None:
    from core.members.services import set_locale

    with app.app_context():
        set_locale(member["id"], locale)


def test_the_keyword_reply_is_in_the_language_each_member_saved(memberday_app, memberday_client, admin, new_event,
                                                               new_member):
    new_event(title="粉絲派對", venue="信義店", capacity=5, signup_keyword="報名")
    simplified, traditional, english = (new_member(openid=f"wx-{name}") for name in ("hans", "hant", "en"))
    _save_language(memberday_app, simplified, "zh_Hans")
    _save_language(memberday_app, traditional, "zh_Hant")
    _save_language(memberday_app, english, "en")
    # The channel's call says nothing of the member: its own Accept-Language must not decide.
    as_channel = {**admin, "Accept-Language": "en"}

    assert message(memberday_client, as_channel, "wx-hans", "報名").startswith("报名成功：粉絲派對")
    assert message(memberday_client, {**admin, "Accept-Language": "zh-CN"}, "wx-hant", "報名").startswith(
        "報名成功：粉絲派對")
    assert message(memberday_client, {**admin, "Accept-Language": "zh-TW"}, "wx-en", "報名").startswith(
        "You are in: 粉絲派對")


def test_a_freed_seat_is_told_in_the_waiting_members_language(memberday_app, memberday_client, new_event,
                                                             new_member):
    event = new_event(title="粉絲派對", venue="信義店", capacity=1)
    seated, waiting = new_member(), new_member()
    _save_language(memberday_app, waiting, "zh_Hans")
    first = sign_up(memberday_client, event["id"], seated).get_json()
    sign_up(memberday_client, event["id"], waiting)

    cancelled = memberday_client.post(f"/api/v1/registrations/{first['id']}/cancel",
                                      headers={**seated["headers"], "Accept-Language": "en"})

    assert cancelled.status_code == 200, cancelled.get_json()
    titles = [note["title"] for note in inbox(memberday_client, waiting)]
    assert "你有位子了：粉絲派對" in titles, titles


def test_the_ticket_page_in_traditional_chinese_has_no_english(memberday_client, new_event, new_member):
    event = new_event(title="粉絲派對", venue="信義店")
    member = new_member(name="林雅婷")
    ticket = sign_up(memberday_client, event["id"], member).get_json()

    html = memberday_client.get(f"/t/{ticket['ticket_code']}", headers={"Accept-Language": "zh-TW"}) \
        .get_data(as_text=True)

    assert '<html lang="zh-Hant">' in html and "報名成功" in html and "地點" in html
    assert english_words(html) == []


def test_the_ticket_page_in_simplified_chinese(memberday_client, new_event, new_member):
    event = new_event(title="粉丝派对", venue="信义店")
    ticket = sign_up(memberday_client, event["id"], new_member(name="林雅婷")).get_json()

    html = memberday_client.get(f"/t/{ticket['ticket_code']}", headers={"Accept-Language": "zh-CN"}) \
        .get_data(as_text=True)

    assert '<html lang="zh-Hans">' in html and "票券" in html
    assert english_words(html, "zh-Hans") == []
