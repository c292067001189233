"""The member's own pages: plain words, coupons for the till, points history."""
from core.extensions import db
from core.rewards import services as rewards
from core.testing import csrf_token, sign_in_browser


def give_coupons(app, member_id):
    with app.app_context():
        codes = {}
        for title, channel in (("Free cookie", "offline"), ("Free delivery", "online"), ("10% off", "any")):
            template = rewards.create_template(title, channel=channel, valid_days=30)
            codes[channel] = rewards.issue_coupon(member_id, template.id).code
        return codes


def test_the_member_page_speaks_plain_words(memberday_app, member):
    client = memberday_app.test_client()
    sign_in_browser(client, member)
    page = client.get("/me").get_data(as_text=True)
    assert "Welcome aboard" in page and "Member" in page
    for internal in ("prospect", "issued", "at_risk", "stage"):
        assert internal not in page.lower().replace("csrf", "")


def test_coupons_show_a_qr_code_and_a_barcode_and_where_they_work(memberday_app, member):
    codes = give_coupons(memberday_app, member["id"])
    client = memberday_app.test_client()
    sign_in_browser(client, member)
    page = client.get("/me/coupons").get_data(as_text=True)
    assert "In store only" in page and "Online only" in page and "In store or online" in page
    for channel in ("offline", "any"):
        assert f"/me/coupons/{codes[channel]}/qr.svg" in page and f"/me/coupons/{codes[channel]}/barcode.svg" in page
    assert f"/me/coupons/{codes['online']}/qr.svg" not in page  # nothing to scan for an online-only coupon
    assert f"/me/coupons/{codes['offline']}/redeem" not in page  # in store only: no online button
    assert f"/me/coupons/{codes['online']}/redeem" in page and f"/me/coupons/{codes['any']}/redeem" in page

    qr = client.get(f"/me/coupons/{codes['offline']}/qr.svg")
    barcode = client.get(f"/me/coupons/{codes['offline']}/barcode.svg")
    assert qr.status_code == barcode.status_code == 200
    assert qr.content_type == barcode.content_type == "image/svg+xml"
    assert b"<svg" in qr.data and b"<svg" in barcode.data and b"<rect" in barcode.data

    stranger = memberday_app.test_client()
    assert stranger.get(f"/me/coupons/{codes['offline']}/qr.svg").status_code == 302  # sign in first


def test_a_coupon_used_online_from_the_page_is_used_once(memberday_app, member):
    codes = give_coupons(memberday_app, member["id"])
    client = memberday_app.test_client()
    sign_in_browser(client, member)
    token = csrf_token(client, "/me/coupons")
    used = client.post(f"/me/coupons/{codes['online']}/redeem", data={"csrf_token": token})
    assert used.status_code == 303
    assert "your coupon is used" in client.get(used.headers["Location"]).get_data(as_text=True)
    again = client.post(f"/me/coupons/{codes['online']}/redeem", data={"csrf_token": token})
    assert again.status_code == 409 and "already been used" in again.get_data(as_text=True)
    in_store = client.post(f"/me/coupons/{codes['offline']}/redeem", data={"csrf_token": token})
    assert in_store.status_code == 409 and "only be used in store" in in_store.get_data(as_text=True)
    with memberday_app.app_context():
        from core.rewards.models import Coupon

        assert db.session.query(Coupon).filter_by(code=codes["offline"]).one().status == "issued"


def test_the_points_history_says_what_when_and_when_it_expires(memberday_app, member):
    from datetime import datetime, timezone

    with memberday_app.app_context():
        rewards.credit(member["id"], 1200, "Welcome gift", "test:welcome",
                       expires_at=datetime(2031, 3, 1, 4, 0, tzinfo=timezone.utc))
    client = memberday_app.test_client()
    sign_in_browser(client, member)
    page = client.get("/me/points").get_data(as_text=True)
    assert "Welcome gift" in page and "+1,200" in page  # numbers formatted for the locale
    assert "expire Mar 1, 2031" in page  # Flask-Babel's medium date, in the brand's time zone


def test_every_member_page_is_light_and_every_field_has_a_label(memberday_app, member):
    import re

    give_coupons(memberday_app, member["id"])
    client = memberday_app.test_client()
    pages = {path: client.get(path) for path in ("/", "/join", "/me/login")}
    sign_in_browser(client, member)
    pages.update({path: client.get(path) for path in ("/me", "/me/coupons", "/me/points", "/me/mall")})
    for path, response in pages.items():
        html = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert len(response.data) < 150_000, path  # before images, which load on their own
        assert '<meta name="viewport"' in html, path
        for field in re.findall(r"<input[^>]*>", html):
            if 'type="hidden"' in field or 'type="checkbox"' in field:
                continue
            field_id = re.search(r'id="([^"]+)"', field)
            assert field_id and f'for="{field_id.group(1)}"' in html, (path, field)
        for image in re.findall(r"<img[^>]*>", html):
            assert re.search(r'alt="[^"]+"', image), (path, image)


def test_the_member_pages_say_the_browsers_language(memberday_app, member):
    for header, lang in (("zh-TW", "zh-Hant"), ("zh-CN", "zh-Hans"), ("en", "en")):
        client = memberday_app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = header
        pages = [client.get(path) for path in ("/join", "/me/login")]
        sign_in_browser(client, member)
        pages += [client.get(path) for path in ("/me", "/me/coupons", "/me/points", "/me/mall")]
        for page in pages:
            assert f'<html lang="{lang}">' in page.get_data(as_text=True), (header, page.request.path)


def test_the_points_history_reads_ledger_reasons_in_the_members_language(memberday_app, member, operator_token):
    from core.testing import bearer

    order = {"external_id": "SHOP-77", "member_id": member["id"], "amount": "250.00"}
    assert memberday_app.test_client().post("/api/v1/orders", json=order,
                                            headers=bearer(operator_token)).status_code == 201
    client = memberday_app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "zh-TW"
    sign_in_browser(client, member)
    page = client.get("/me/points").get_data(as_text=True)
    assert "訂單 SHOP-77" in page and "Order SHOP-77" not in page  # stored in English, shown translated
