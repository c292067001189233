"""The mall as a plugin: switched off, its routes are gone but what members got stays readable in the core;
its member page section and demo data."""
from sqlalchemy import select

from core.testing import csrf_token, sign_in_browser
from mall_helpers import redeem


def test_switched_off_mall_answers_404_while_the_ledger_keeps_the_voucher_codes(memberday_client, admin,
                                                                                new_member, new_item):
    item = new_item(name="Coffee voucher", points_cost=100, voucher_codes=["JAVA-7788"])
    member = new_member(points=250)
    redemption = redeem(memberday_client, member, item["id"]).get_json()

    assert memberday_client.patch("/api/v1/plugins/points_mall", headers=admin,
                                  json={"enabled": False}).status_code == 200

    assert memberday_client.get("/api/v1/mall/items").status_code == 404
    assert memberday_client.get("/api/v1/mall/items", headers=admin).status_code == 404
    assert redeem(memberday_client, member, item["id"]).status_code == 404
    assert memberday_client.get(f"/api/v1/mall/redemptions/{redemption['id']}",
                                headers=member["headers"]).status_code == 404
    assert memberday_client.post(f"/api/v1/mall/redemptions/{redemption['id']}/cancel",
                                 headers=admin).status_code == 404
    ledger = memberday_client.get(f"/api/v1/members/{member['id']}/points", headers=member["headers"])
    assert ledger.status_code == 200
    assert ledger.get_json()["balance"] == 150
    spend = ledger.get_json()["items"][0]
    assert spend["points"] == -100
    assert "Coffee voucher" in spend["reason"] and "JAVA-7788" in spend["reason"]

    assert memberday_client.patch("/api/v1/plugins/points_mall", headers=admin,
                                  json={"enabled": True}).status_code == 200
    assert memberday_client.get(f"/api/v1/mall/redemptions/{redemption['id']}",
                                headers=member["headers"]).get_json()["voucher_codes"] == ["JAVA-7788"]


def test_ledger_line_keeps_many_codes_within_the_reason_length():
    from plugins.points_mall.services import ledger_reason

    codes = [f"VERY-LONG-PARTNER-CODE-{n:04d}" for n in range(12)]
    reason = ledger_reason("A voucher with a rather long name " * 4, 12, codes)

    assert len(reason) <= 200
    assert codes[0] in reason and reason.endswith("more)")


def test_member_page_lists_what_the_member_can_afford_and_what_is_near(memberday_app, memberday_client, admin,
                                                                       new_member, new_item):
    new_item(name="Espresso shot", points_cost=50)
    new_item(name="Picnic blanket", points_cost=900)
    new_item(name="Gold lounge pass", points_cost=10, min_tier="gold")
    member = new_member(points=300)
    sign_in_browser(memberday_client, member)

    page = memberday_client.get("/me").get_data(as_text=True)

    assert "Points mall" in page
    assert "Espresso shot" in page
    assert "Picnic blanket" in page and "600" in page
    assert "Gold lounge pass" not in page

    memberday_client.patch("/api/v1/plugins/points_mall", headers=admin, json={"enabled": False})
    assert "Espresso shot" not in memberday_client.get("/me").get_data(as_text=True)


def test_demo_seeds_a_catalogue_with_a_voucher_pool(memberday_app):
    from core.demo import seed
    from core.extensions import db
    from plugins.points_mall.models import MallItem

    with memberday_app.app_context():
        seed()
        items = db.session.scalars(select(MallItem).order_by(MallItem.id)).all()
        assert [item.name for item in items] == ["Free latte", "Beauty store NT$200 voucher", "Insulated tumbler",
                                                 "Weekend brunch for two"]
        assert [(item.voucher_pool, item.codes_left) for item in items] == [(False, 0), (True, 30), (False, 0),
                                                                            (False, 0)]
