"""The mall on the member's phone: what they can take, what is near, redeem with a confirmation, vouchers."""
import re

from sqlalchemy import func, select

from core.extensions import db
from core.testing import run_concurrently, sign_in_browser
from plugins.points_mall.models import Redemption


def confirmation(client, item_id):
    page = client.get(f"/me/mall/{item_id}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)
    return page, {"csrf_token": csrf, "idempotency_key": key}


def redemptions(app, member_id):
    with app.app_context():
        return db.session.scalar(select(func.count(Redemption.id)).where(Redemption.member_id == member_id))


def test_the_mall_page_splits_what_i_can_take_from_what_is_a_few_points_away(memberday_app, new_member, new_item):
    member = new_member(points=150)
    new_item(name="Free latte", points_cost=120)
    new_item(name="Tote bag", points_cost=200)
    client = memberday_app.test_client()
    sign_in_browser(client, member)
    page = client.get("/me/mall").get_data(as_text=True)
    now, near = page.split("A few points away")
    assert "Free latte" in now and "Redeem Free latte" in now and "Tote bag" not in now
    assert "Tote bag" in near and "50 more points to go" in near


def test_redeeming_asks_first_then_shows_the_voucher_code(memberday_app, new_member, new_item, memberday_client):
    member = new_member(points=300)
    item = new_item(name="Cinema ticket", points_cost=250, voucher_codes=["CINE-0001", "CINE-0002"])
    client = memberday_app.test_client()
    sign_in_browser(client, member)
    page, form = confirmation(client, item["id"])
    assert "This costs 250 points. You have 300." in page and "Yes, redeem it" in page
    assert redemptions(memberday_app, member["id"]) == 0  # looking is not redeeming
    done = client.post(f"/me/mall/{item['id']}", data=form)
    assert done.status_code == 303
    voucher = client.get(done.headers["Location"]).get_data(as_text=True)
    assert "CINE-0001" in voucher
    assert "CINE-0001" in client.get("/me/mall").get_data(as_text=True)  # under "My vouchers"
    balance = memberday_client.get(f"/api/v1/members/{member['id']}", headers=member["headers"])
    assert balance.get_json()["points_balance"] == 50


def test_a_double_tap_redeems_once(memberday_app, new_member, new_item):
    member = new_member(points=1000)
    item = new_item(name="Scone", points_cost=100)
    clients = [memberday_app.test_client() for _ in range(2)]
    for client in clients:
        sign_in_browser(client, member)
    _, form = confirmation(clients[0], item["id"])
    # The same form (same key) posted twice at once, as a double tap does; each browser's own CSRF token.
    forms = [dict(form, csrf_token=re.search(r'name="csrf_token" value="([^"]+)"',
                                             client.get(f"/me/mall/{item['id']}").get_data(as_text=True)).group(1))
             for client in clients]
    answers = run_concurrently(lambda i: clients[i].post(f"/me/mall/{item['id']}", data=forms[i]), 2)
    assert [answer.status_code for answer in answers] == [303, 303]
    assert answers[0].headers["Location"] == answers[1].headers["Location"]
    assert redemptions(memberday_app, member["id"]) == 1
    # A later tap with a fresh form is a second redemption, as the member meant.
    _, fresh = confirmation(clients[0], item["id"])
    assert clients[0].post(f"/me/mall/{item['id']}", data=fresh).status_code == 303
    assert redemptions(memberday_app, member["id"]) == 2


def test_not_enough_points_is_said_in_plain_words(memberday_app, new_member, new_item):
    member = new_member(points=100)
    item = new_item(name="Mug", points_cost=100)
    client = memberday_app.test_client()
    sign_in_browser(client, member)
    _, form = confirmation(client, item["id"])
    _, other_form = confirmation(client, item["id"])
    assert client.post(f"/me/mall/{item['id']}", data=form).status_code == 303
    refused = client.post(f"/me/mall/{item['id']}", data=other_form)
    assert refused.status_code == 409 and "enough points" in refused.get_data(as_text=True)
