"""The mall's section of the member page in the reader's language, counts in plural forms, and the
voucher notice in the member's saved language."""
import pytest

from core.testing import english_words
from mall_helpers import redeem


def _section(app, member: dict, language: str) -> str:
    from core.extensions import db
    from core.members.models import Member
    from plugins.points_mall.views import member_section

    with app.test_request_context("/me", headers={"Accept-Language": language}):
        return str(member_section(db.session.get(Member, member["id"])))


def test_the_mall_section_in_traditional_chinese_has_no_english(memberday_app, new_member, new_item):
    member = new_member(points=150)
    new_item(name="拿鐵兌換券", points_cost=120, stock=3)
    new_item(name="保溫杯", points_cost=1200)

    html = _section(memberday_app, member, "zh-TW")

    assert "現在就能兌換" in html and "120 點" in html and "剩餘 3 個" in html
    assert "再差一點點" in html and "再 1,050 點就能兌換" in html  # the locale's thousands separator
    assert english_words(html) == []


@pytest.mark.parametrize("stock, left", [(1, "1 left"), (2, "2 left")])
def test_the_mall_section_counts_in_english(memberday_app, new_member, new_item, stock, left):
    member = new_member(points=150)
    new_item(name="Latte", points_cost=1, stock=stock)
    new_item(name="Tumbler", points_cost=151)

    html = _section(memberday_app, member, "en")

    assert "Latte</strong> · 1 point" in html and left in html
    assert "1 more point to go" in html


def test_the_voucher_notice_is_in_the_members_language(memberday_app, memberday_client, admin, new_member,
                                                       new_item):
    from core.members.services import set_locale

    member = new_member(points=500)
    with memberday_app.app_context():
        set_locale(member["id"], "zh_Hans")
    item = new_item(name="拿铁兑换券", points_cost=100, voucher_pool=True)
    imported = memberday_client.post(f"/api/v1/mall/items/{item['id']}/codes", headers=admin,
                                     json={"codes": ["LATTE-0001", "LATTE-0002"]})
    assert imported.status_code in (200, 201), imported.get_json()

    response = redeem(memberday_client, member, item["id"], quantity=2,
                      headers={**member["headers"], "Accept-Language": "en"})

    assert response.status_code == 201, response.get_json()
    notes = memberday_client.get(f"/api/v1/members/{member['id']}/notifications", headers=member["headers"]) \
        .get_json()["items"]
    assert {"title": "你的兑换券：拿铁兑换券", "body": "你的券码：LATTE-0001, LATTE-0002"} in [
        {"title": note["title"], "body": note["body"]} for note in notes]
