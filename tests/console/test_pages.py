"""The console's pages do what the API does, through the same services."""
from __future__ import annotations

import io
import re
import zipfile

from core.testing import bearer, make_app, run_concurrently


def api(console):
    return bearer(console.operator["token"])


def new_member(console, name="Mia Member", **fields):
    response = console.http.post("/api/v1/members", json={"name": name, **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def paid_order(console, member_id, external_id, amount="120.00"):
    response = console.http.post("/api/v1/orders", headers=api(console),
                                 json={"external_id": external_id, "member_id": member_id, "amount": amount})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_a_plugin_switched_in_the_console_is_off_in_the_api_and_in_another_process_at_once(console):
    member = new_member(console)
    other_process = make_app(console.app.config["DATABASE_URL"])
    other = other_process.test_client()
    assert other.get(f"/api/v1/members/{member['id']}/referral", headers=api(console)).status_code == 200

    response = console.post("/console/plugins/referral/switch", {"enabled": "0"})
    assert response.status_code == 303
    listed = {item["id"]: item for item in console.http.get("/api/v1/plugins", headers=api(console)).get_json()["items"]}
    assert listed["referral"]["enabled"] is False
    assert other.get(f"/api/v1/members/{member['id']}/referral", headers=api(console)).status_code == 404
    assert console.get("/console/referral/").status_code == 404
    dashboard = console.get("/console/").get_data(as_text=True)
    assert "/console/referral/" not in dashboard and "K-factor" not in dashboard

    console.post("/console/plugins/referral/switch", {"enabled": "1"})
    assert other.get(f"/api/v1/members/{member['id']}/referral", headers=api(console)).status_code == 200
    assert console.get("/console/referral/").status_code == 200
    log = console.get("/console/plugins/referral").get_data(as_text=True)
    assert "switched off" in log and "switched on" in log


def test_only_admins_switch_plugins_and_change_settings(sign_in_as):
    operator = sign_in_as("operator")
    assert operator.get("/console/plugins").status_code == 200
    assert operator.post("/console/plugins/referral/switch", {"enabled": "0"}).status_code == 403
    assert operator.post("/console/plugins/referral", {"hold_days": "3"}).status_code == 403


def test_settings_form_is_generated_from_the_schema_and_refuses_bad_values(console):
    page = console.get("/console/plugins/referral").get_data(as_text=True)
    for field in ("qualify_on", "hold_days", "min_order_amount", "milestones", "clawback_after_release"):
        assert f'name="{field}"' in page
    assert '<option value="signup"' in page  # a OneOf field is a select

    refused = console.post("/console/plugins/referral", {"hold_days": "soon", "qualify_on": "first_order"})
    assert refused.status_code == 400
    assert "Not a valid integer." in refused.get_data(as_text=True)
    too_long = console.post("/console/plugins/referral", {"hold_days": "4000", "qualify_on": "first_order"})
    assert too_long.status_code == 400
    settings = console.http.get("/api/v1/plugins/referral", headers=api(console)).get_json()["settings"]
    assert settings["hold_days"] == 14

    saved = console.post("/console/plugins/referral", {"hold_days": "7", "qualify_on": "signup",
                                                       "milestones": '[{"count": 3, "points": 50}]'})
    assert saved.status_code == 303
    settings = console.http.get("/api/v1/plugins/referral", headers=api(console)).get_json()["settings"]
    assert settings["hold_days"] == 7 and settings["qualify_on"] == "signup"
    assert settings["milestones"] == [{"count": 3, "points": 50}]
    assert settings["clawback_after_release"] is False


def test_a_secret_setting_is_write_only(console):
    secret = "s3cret-webhook-signing-key"
    response = console.post("/console/plugins/birthday_gift", {"gift_points": "100", "webhook_secret": secret})
    assert response.status_code == 303
    page = console.get("/console/plugins/birthday_gift").get_data(as_text=True)
    assert secret not in page and "leave empty to keep it" in page
    console.post("/console/plugins/birthday_gift", {"gift_points": "150", "webhook_secret": ""})
    with console.app.app_context():
        from core.plugins.host import current_host

        assert current_host().settings("birthday_gift")["webhook_secret"] == secret
        assert current_host().settings("birthday_gift")["gift_points"] == 150


def test_orders_are_found_and_refunded_after_a_confirmation(console):
    member = new_member(console, phone="+886911000222")
    order = paid_order(console, member["id"], "SHOP-1001")
    paid_order(console, new_member(console, "Other")["id"], "SHOP-1002")
    found = console.get("/console/orders?q=%2B886911000222").get_data(as_text=True)
    assert "SHOP-1001" in found and "SHOP-1002" not in found
    assert "SHOP-1002" in console.get("/console/orders").get_data(as_text=True)

    confirm = console.get(f"/console/orders/{order['id']}/refund")
    assert confirm.status_code == 200 and "SHOP-1001" in confirm.get_data(as_text=True)
    assert console.post(f"/console/orders/{order['id']}/refund").status_code == 303
    refunded = console.http.get("/api/v1/orders/SHOP-1001", headers=api(console)).get_json()
    assert refunded["status"] == "refunded"
    points = console.http.get(f"/api/v1/members/{member['id']}/points", headers=api(console)).get_json()
    assert points["balance"] == 0
    again = console.post(f"/console/orders/{order['id']}/refund", follow_redirects=True)
    assert "already been refunded" in again.get_data(as_text=True)


def test_coupon_templates_are_validated_issued_once_per_form_and_looked_up(console):
    member = new_member(console)
    refused = console.post("/console/coupons/templates", {"title": "", "channel": "moon", "value": "abc"})
    assert refused.status_code == 400
    assert "Must be one of" in refused.get_data(as_text=True)
    assert console.post("/console/coupons/templates", {"title": "Free latte", "channel": "offline", "value": "120",
                                                       "valid_days": "30"}).status_code == 303
    page = console.get("/console/coupons").get_data(as_text=True)
    template_id = re.search(r'<option value="(\d+)">Free latte', page).group(1)
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    form = {"member_id": str(member["id"]), "template_id": template_id, "nonce": nonce}
    first = console.post("/console/coupons/issue", form)
    second = console.post("/console/coupons/issue", form)
    assert first.headers["Location"] == second.headers["Location"]
    coupons = console.http.get(f"/api/v1/members/{member['id']}/coupons", headers=api(console)).get_json()["items"]
    assert len(coupons) == 1
    looked_up = console.get(f"/console/coupons?code={coupons[0]['code']}").get_data(as_text=True)
    assert "Free latte" in looked_up and "Mia Member" in looked_up


def issue(console, member_id, channel="any"):
    template = console.http.post("/api/v1/coupon-templates", headers=api(console),
                                 json={"title": "Cake", "channel": channel, "valid_days": 10}).get_json()
    coupon = console.http.post(f"/api/v1/members/{member_id}/coupons", headers=api(console),
                               json={"template_id": template["id"]})
    return coupon.get_json()


def test_staff_scanner_redeems_once_and_says_why_not_twice(console, staff_console):
    member = new_member(console, phone="+886922333444", email="mia@example.com")
    coupon = issue(console, member["id"])
    first = staff_console.post_json("/console/scan/redeem", {"code": coupon["code"].lower()},
                                    headers={"Idempotency-Key": "scan-1"})
    assert first.status_code == 200 and first.get_json()["status"] == "redeemed"
    replay = staff_console.post_json("/console/scan/redeem", {"code": coupon["code"].lower()},
                                     headers={"Idempotency-Key": "scan-1"})
    assert replay.status_code == 200 and replay.headers.get("Idempotent-Replayed") == "true"
    second = staff_console.post_json("/console/scan/redeem", {"code": f"https://club.example/c/{coupon['code']}"},
                                     headers={"Idempotency-Key": "scan-2"})
    assert second.status_code == 409
    assert second.get_json()["reason"] == "already_redeemed"
    assert second.get_json()["message"] == "Already redeemed"
    assert set(second.get_json()) == {"status", "reason", "message", "title", "channel", "expires_at"}
    unknown = staff_console.post_json("/console/scan/redeem", {"code": "NOPE"}, headers={"Idempotency-Key": "scan-3"})
    assert unknown.status_code == 404 and unknown.get_json()["reason"] == "not_found"
    coupons = console.http.get(f"/api/v1/members/{member['id']}/coupons", headers=api(console)).get_json()["items"]
    assert coupons[0]["status"] == "redeemed"


def test_a_staff_look_up_shows_only_what_the_till_needs(console, staff_console):
    member = new_member(console, phone="+886922333555", email="lee@example.com")
    coupon = issue(console, member["id"], channel="offline")
    found = staff_console.get(f"/console/scan/lookup?code={coupon['code']}", headers={"Accept": "application/json"})
    assert found.status_code == 200
    assert set(found.get_json()) == {"title", "channel", "status", "expires_at"}
    assert "+886" not in found.get_data(as_text=True) and "example.com" not in found.get_data(as_text=True)
    assert staff_console.get(f"/console/coupons?code={coupon['code']}").status_code == 403


def test_two_scanners_scanning_the_same_coupon_at_once_redeem_it_once(console, sign_in_as):
    coupon = issue(console, new_member(console)["id"])
    scanners = [sign_in_as("staff") for _ in range(4)]
    tokens = [scanner.csrf_token() for scanner in scanners]

    def scan(index):
        response = scanners[index].http.post(
            "/console/scan/redeem", json={"code": coupon["code"]},
            headers={"X-CSRFToken": tokens[index], "Idempotency-Key": f"lane-{index}", "Accept": "application/json"})
        return response.status_code, response.get_json().get("reason")

    results = run_concurrently(scan, 4)
    assert sorted(results) == [(200, None)] + [(409, "already_redeemed")] * 3


def test_dashboard_shows_liability_and_the_last_30_days(console):
    member = new_member(console)
    paid_order(console, member["id"], "D-1", "100.00")
    paid_order(console, member["id"], "D-2", "50.50")
    page = console.get("/console/").get_data(as_text=True)
    assert re.search(r'data-figure="outstanding">150<', page)
    assert re.search(r'data-figure="orders">2<', page)
    assert "150.50" in page
    assert 'data-chart="orders-chart"' in page


def test_mall_items_voucher_upload_and_cancel(console):
    created = console.post("/console/points_mall/items", {"name": "Coffee voucher", "points_cost": "100",
                                                          "stock": "5", "active": "1"})
    assert created.status_code == 303
    item_url = created.headers["Location"]
    item_id = int(item_url.rstrip("/").rsplit("/", 1)[1])
    refused = console.post("/console/points_mall/items", {"name": "", "points_cost": "free"})
    assert refused.status_code == 400

    upload = console.post(f"/console/points_mall/items/{item_id}/codes",
                          {"file": (io.BytesIO(b"code\nAAA-1\nAAA-2\nAAA-2\nAAA-3\n"), "codes.csv")},
                          content_type="multipart/form-data", follow_redirects=True)
    text = upload.get_data(as_text=True)
    assert "Imported 3 codes; 1 refused as duplicates; 3 available now." in text

    member = new_member(console)
    console.http.post(f"/api/v1/members/{member['id']}/points", headers=api(console),
                      json={"points": 500, "reason": "welcome"})
    redemption = console.http.post("/api/v1/mall/redemptions", headers=api(console),
                                   json={"member_id": member["id"], "item_id": item_id}).get_json()
    assert redemption["status"] == "completed"
    assert console.post(f"/console/points_mall/redemptions/{redemption['id']}/cancel").status_code == 303
    again = console.post(f"/console/points_mall/redemptions/{redemption['id']}/cancel", follow_redirects=True)
    assert "already cancelled" in again.get_data(as_text=True)
    points = console.http.get(f"/api/v1/members/{member['id']}/points", headers=api(console)).get_json()
    assert points["balance"] == 500
    edited = console.post(item_url, {"name": "Coffee voucher", "points_cost": "120", "stock": "9", "active": "1"})
    assert edited.status_code == 303
    item = console.http.get(f"/api/v1/mall/items/{item_id}", headers=api(console)).get_json()
    assert item["points_cost"] == 120 and item["stock"] == 9


def test_referral_page_funnel_and_qr_export_with_progress(console):
    referrer = new_member(console, "Ada")
    code = console.http.get(f"/api/v1/members/{referrer['id']}/referral", headers=api(console)).get_json()["code"]
    console.http.get(f"/r/{code}")
    new_member(console, "Friend", referral_code=code)
    page = console.get("/console/referral/?period=all").get_data(as_text=True)
    assert 'data-chart="funnel-chart"' in page and 'data-figure="signups">1<' in page

    started = console.post("/console/referral/exports", {"member_ids": f"{referrer['id']}", "image_format": "svg"},
                           follow_redirects=True)
    assert "Export 1 started." in started.get_data(as_text=True)
    progress = console.get("/console/referral/exports/1").get_json()
    assert progress == {"status": "done", "done": 1, "total": 1, "error": None}
    archive = zipfile.ZipFile(io.BytesIO(console.get("/console/referral/exports/1/download").data))
    assert archive.namelist() == [f"{referrer['id']}-{code}.svg"]
    refused = console.post("/console/referral/exports", {"member_ids": "99999"}, follow_redirects=True)
    assert "These members do not exist: 99999" in refused.get_data(as_text=True)


def test_a_members_page_books_an_adjustment_once_per_form_and_saves_tags(console):
    member = new_member(console, "Lin", phone="+886933000111")
    paid_order(console, member["id"], "M-1", "80.00")
    page = console.get(f"/console/members/{member['id']}").get_data(as_text=True)
    assert "M-1" in page and 'data-figure="balance">80<' in page
    nonce = re.search(r'name="nonce" value="([^"]+)"', page).group(1)
    for _ in range(2):
        console.post(f"/console/members/{member['id']}/points", {"points": "-30", "reason": "goodwill", "nonce": nonce})
    assert console.http.get(f"/api/v1/members/{member['id']}/points", headers=api(console)).get_json()["balance"] == 50
    refused = console.post(f"/console/members/{member['id']}/points",
                           {"points": "-500", "reason": "too much", "nonce": "other"}, follow_redirects=True)
    assert "Not booked" in refused.get_data(as_text=True)
    console.post(f"/console/members/{member['id']}/profile", {"tier": "gold", "tags": "vip, coffee"})
    saved = console.http.get(f"/api/v1/members/{member['id']}", headers=api(console)).get_json()
    assert saved["tier"] == "gold" and saved["tags"] == ["vip", "coffee"]
    assert console.get("/console/members/999999").status_code == 404


def test_admins_create_operators_and_see_the_token_once(console, sign_in_as):
    created = console.post("/console/operators", {"name": "till-3", "role": "staff"})
    assert created.status_code == 200
    token = re.search(r"<code data-new-token>([^<]+)</code>", created.get_data(as_text=True)).group(1)
    assert console.http.get("/api/v1/coupon-templates", headers=bearer(token)).status_code == 200
    listed = console.get("/console/operators").get_data(as_text=True)
    assert 'data-operator="till-3"' in listed and token not in listed
    assert console.post("/console/operators", {"name": "till-3", "role": "staff"}).status_code == 409
    operator = sign_in_as("operator")
    assert operator.post("/console/operators", {"name": "x", "role": "admin"}).status_code == 403


def test_members_are_searched_by_text_tier_stage_and_tag(console):
    ada = new_member(console, "Ada Lovelace", phone="+886966000111")
    bob = new_member(console, "Bob Builder", email="bob@example.com")
    paid_order(console, bob["id"], "S-1")
    console.http.patch(f"/api/v1/members/{ada['id']}", headers=api(console), json={"tier": "gold", "tags": ["vip"]})
    def found(query):
        page = console.get(f"/console/members?{query}")
        assert page.status_code == 200, page.get_data(as_text=True)[:500]
        return {int(n) for n in re.findall(r'data-member="(\d+)"', page.get_data(as_text=True))}
    assert found("") == {ada["id"], bob["id"]}
    assert found("q=lovelace") == {ada["id"]}
    assert found("q=bob%40example.com") == {bob["id"]}
    assert found("tier=gold") == {ada["id"]}
    assert found("stage=prospect") == {ada["id"]}
    assert found("stage=new") == {bob["id"]}
    assert found("tag=vip") == {ada["id"]}
    assert console.get("/console/members?stage=sleeping").status_code == 400


def test_audience_preview_counts_by_stage_and_overlap(console):
    ada = new_member(console, "Ada")
    bob = new_member(console, "Bob")
    new_member(console, "Cy")
    paid_order(console, bob["id"], "A-1")
    console.http.patch(f"/api/v1/members/{ada['id']}", headers=api(console), json={"tags": ["vip"]})
    console.http.patch(f"/api/v1/members/{bob['id']}", headers=api(console), json={"tags": ["vip"]})
    page = console.get("/console/members/audiences?a_stages=prospect&b_tags_any=vip&compare=1").get_data(as_text=True)
    assert re.search(r'data-figure="count-a">2<', page)
    assert re.search(r'data-figure="count-b">2<', page)
    assert re.search(r'data-figure="both">1<', page)
    assert console.get("/console/members/audiences?a_stages=nope").status_code == 400


def test_dashboard_counts_members_by_stage(console):
    paid_order(console, new_member(console, "Ann")["id"], "ST-1")
    new_member(console, "Ben")
    page = console.get("/console/").get_data(as_text=True)
    assert 'data-chart="stage-chart"' in page
    assert '{"name": "prospect", "value": 1}, {"name": "new", "value": 1}' in page
    assert '{"name": "at risk", "value": 0}' in page  # stages are named in words


def test_a_plugins_page_shows_its_keywords(console):
    from datetime import datetime, timedelta, timezone

    starts = datetime.now(timezone.utc) + timedelta(days=2)
    event = console.http.post("/api/v1/events", headers=api(console), json={
        "title": "Fan party", "venue": "Xinyi store", "capacity": 10, "signup_keyword": "報名",
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat()})
    assert event.status_code == 201, event.get_json()
    page = console.get("/console/plugins/offline_events").get_data(as_text=True)
    assert "Keywords:" in page and "報名" in page
