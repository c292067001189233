"""The referral side in each member's language: the landing page a friend reads, the notices each side
gets when the reward is released, and ledger reasons shown in the reader's language."""
import pytest

from core.testing import bearer, empty_tables, english_words, make_app
from referral_helpers import join, report_order, run_job

PROGRAMME = dict(qualify_on="first_order", min_order_amount="100.00", hold_days=14, referrer_points=200,
                 referee_points=100, max_referrals_per_day=None, max_referrals_per_month=None)


@pytest.fixture
def memberday_app(memberday_database_url):
    app = make_app(memberday_database_url, BRAND_NAME="晨光咖啡")
    yield app
    empty_tables(app)


@pytest.fixture
def inviter(memberday_client):
    body = join(memberday_client, "王小明", phone="+886900000011", device_id="device-wang")
    body["code"] = memberday_client.get(f"/api/v1/members/{body['id']}/referral",
                                        headers=bearer(body["token"])).get_json()["code"]
    return body


def _save_language(app, member_id: int, locale: str) -> None:
    from core.members.services import set_locale

    with app.app_context():
        set_locale(member_id, locale)


def test_the_landing_page_in_traditional_chinese_has_no_english(memberday_client, configure, inviter):
    configure(**PROGRAMME)
    html = memberday_client.get(f"/r/{inviter['code']}/join", headers={"Accept-Language": "zh-TW"}) \
        .get_data(as_text=True)
    assert '<html lang="zh-Hant">' in html
    assert "王小明 邀請你加入晨光咖啡" in html
    assert "加入並完成首筆 $100 以上的消費，即可獲得 100 點。" in html  # the brand's money, the locale's way
    assert english_words(html) == []


def test_the_landing_page_in_simplified_chinese(memberday_client, configure, inviter):
    configure(**PROGRAMME)
    html = memberday_client.get(f"/r/{inviter['code']}/join", headers={"Accept-Language": "zh-CN"}) \
        .get_data(as_text=True)
    assert '<html lang="zh-Hans">' in html and "王小明 邀请你加入晨光咖啡" in html
    assert "NT$100" in html  # the currency's symbol in Simplified Chinese
    assert english_words(html, "zh-Hans", allowed=("NT",)) == []


@pytest.mark.parametrize("points, sentence", [
    (1, "Join and get 1 point with your first order of NT$100 or more."),
    (100, "Join and get 100 points with your first order of NT$100 or more."),
])
def test_the_offer_counts_in_english_plural_forms(memberday_client, configure, inviter, points, sentence):
    configure(**dict(PROGRAMME, referee_points=points))
    html = memberday_client.get(f"/r/{inviter['code']}/join", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert sentence in html


def test_each_side_is_told_in_their_own_language_and_reads_the_reasons_in_it(
        memberday_app, memberday_client, admin, configure, inviter, clock):
    configure(**PROGRAMME)
    friend = join(memberday_client, "陳小華", referral_code=inviter["code"])
    _save_language(memberday_app, inviter["id"], "zh_Hant")
    _save_language(memberday_app, friend["id"], "zh_Hans")
    report_order(memberday_client, admin, "SHOP-1", friend["id"], "150.00")
    clock.advance(days=PROGRAMME["hold_days"], hours=1)

    run_job(memberday_app, "referral.release_due", clock.now)  # a job: no request, no browser language

    def inbox(member):
        return [note["title"] for note in memberday_client.get(
            f"/api/v1/members/{member['id']}/notifications", headers=bearer(member["token"])).get_json()["items"]]

    assert "你的好友加入了" in inbox(inviter)
    assert "你的欢迎礼到了" in inbox(friend)
    history = memberday_client.get(f"/api/v1/members/{friend['id']}/points",
                                   headers={**bearer(friend["token"]), "Accept-Language": "zh-CN"}).get_json()
    reasons = {entry["reason"]: entry["reason_text"] for entry in history["items"]}
    assert reasons["Welcome reward for joining through a friend"] == "通过好友加入的欢迎礼"
    assert reasons["Order SHOP-1"] == "订单 SHOP-1"
