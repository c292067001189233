"""The birthday gift plugin, tested the way any third party tests theirs: with the
fixtures Memberday ships (``memberday_app``, ``memberday_client``, ``operator_token``,
``member``, ``memberday_worker``) and nothing else from inside the core.

Every piece the plugin adds is shown working, then gone once an operator
switches the plugin off.
"""
import hashlib
import hmac
import json

from sqlalchemy import inspect

from core.testing import bearer, csrf_token, run_concurrently, sign_in_browser

PLUGIN = "/api/v1/plugins/birthday_gift"
SECRET = "a-crm-shared-secret-of-some-length"


def switch(client, token, enabled):
    response = client.patch(PLUGIN, json={"enabled": enabled}, headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["enabled"] is enabled


def configure(client, token, **settings):
    return client.patch(PLUGIN, json={"settings": settings}, headers=bearer(token))


def birthday_url(member_id):
    return f"/api/v1/birthday-gift/members/{member_id}/birthday"


def set_birthday(client, member, month, day):
    response = client.put(birthday_url(member["id"]), json={"month": month, "day": day},
                          headers=bearer(member["token"]))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def join(client, name):
    response = client.post("/api/v1/members", json={"name": name})
    assert response.status_code == 201
    return response.get_json()


def points(client, token, member_id):
    body = client.get(f"/api/v1/members/{member_id}/points", headers=bearer(token)).get_json()
    return body["balance"], [entry["source"] for entry in body["items"]]


def report_order(client, token, member_id, external_id, paid_at, amount="100.00"):
    response = client.post("/api/v1/orders", headers=bearer(token), json={
        "external_id": external_id, "member_id": member_id, "amount": amount, "paid_at": paid_at})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def sign_in(client, member):
    sign_in_browser(client, member)


# ------------------------------------------------------------------ installed

def test_plugin_is_installed_with_its_version_hooks_and_tables(memberday_app, memberday_client, operator_token):
    response = memberday_client.get("/api/v1/plugins", headers=bearer(operator_token))
    plugin = next(item for item in response.get_json()["items"] if item["id"] == "birthday_gift")
    assert plugin["status"] == "ok" and plugin["enabled"] is True and plugin["enabled_by_default"] is False
    assert plugin["distribution"] == "memberday-birthday-gift" and plugin["version"] == "0.1.0"
    assert {"memberday_points_multiplier", "memberday_member_created", "memberday_jobs",
            "memberday_migrations_folder", "memberday_cli_commands"} <= set(plugin["hooks"])
    assert plugin["settings"] == {"gift_points": 200, "coupon_template_id": None, "points_multiplier": 2,
                                  "webhook_secret": None}
    with memberday_app.app_context():
        from core.extensions import db

        tables = set(inspect(db.engine).get_table_names())
    assert {"birthday_gift_birthdays", "birthday_gift_gifts"} <= tables


# ------------------------------------------------------------------ API

def test_member_sets_birthday_once_and_an_operator_corrects_it(memberday_client, operator_token, member):
    assert set_birthday(memberday_client, member, 3, 14)["set_by"] == "member"
    again = memberday_client.put(birthday_url(member["id"]), json={"month": 7, "day": 1},
                                 headers=bearer(member["token"]))
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "birthday_already_set"

    fixed = memberday_client.put(birthday_url(member["id"]), json={"month": 7, "day": 1},
                                 headers=bearer(operator_token))
    assert fixed.status_code == 200
    assert fixed.get_json() | {"gift": None} == {"member_id": member["id"], "month": 7, "day": 1,
                                                "set_by": "operator", "gift": None}


def test_a_member_cannot_reach_another_members_birthday(memberday_client, member):
    other = join(memberday_client, "Other")
    response = memberday_client.put(birthday_url(other["id"]), json={"month": 1, "day": 2},
                                    headers=bearer(member["token"]))
    assert response.status_code == 403
    assert memberday_client.get(birthday_url(member["id"]), headers=bearer(member["token"])).status_code == 404


def test_an_impossible_birthday_is_refused_per_field_and_nothing_is_saved(memberday_client, member):
    for body, field in (({"month": 13, "day": 1}, "month"), ({"month": 2, "day": 30}, "day"),
                        ({"month": "3", "day": 1}, "month"), ({"day": 1}, "month")):
        response = memberday_client.put(birthday_url(member["id"]), json=body, headers=bearer(member["token"]))
        assert response.status_code == 400, body
        assert field in response.get_json()["error"]["fields"], body
    assert memberday_client.get(birthday_url(member["id"]), headers=bearer(member["token"])).status_code == 404
    # 29 February is somebody's birthday.
    assert set_birthday(memberday_client, member, 2, 29)["day"] == 29


def test_api_routes_answer_404_while_the_plugin_is_off(memberday_client, operator_token, member):
    switch(memberday_client, operator_token, False)
    response = memberday_client.put(birthday_url(member["id"]), json={"month": 3, "day": 14},
                                    headers=bearer(member["token"]))
    assert response.status_code == 404
    switch(memberday_client, operator_token, True)
    assert set_birthday(memberday_client, member, 3, 14)["month"] == 3


# ------------------------------------------------------------------ settings

def test_settings_are_validated_per_field_and_nothing_is_saved(memberday_client, operator_token):
    for settings, field in (({"gift_points": -1}, "gift_points"), ({"gift_points": "many"}, "gift_points"),
                            ({"gift_points": 0}, "gift_points"), ({"points_multiplier": 11}, "points_multiplier"),
                            ({"coupon_template_id": 0}, "coupon_template_id"),
                            ({"webhook_secret": "short"}, "webhook_secret")):
        response = configure(memberday_client, operator_token, **settings)
        assert response.status_code == 400, settings
        assert field in response.get_json()["error"]["fields"], settings
    shown = memberday_client.get(PLUGIN, headers=bearer(operator_token)).get_json()["settings"]
    assert shown["gift_points"] == 200 and shown["points_multiplier"] == 2


def test_the_webhook_secret_is_never_shown_back(memberday_app, memberday_client, operator_token):
    response = configure(memberday_client, operator_token, webhook_secret=SECRET, gift_points=300)
    assert response.status_code == 200
    assert response.get_json()["settings"] == {"gift_points": 300, "coupon_template_id": None,
                                               "points_multiplier": 2, "webhook_secret": "********"}
    for path in (PLUGIN, "/api/v1/plugins"):
        assert SECRET not in memberday_client.get(path, headers=bearer(operator_token)).get_data(as_text=True)
    result = memberday_app.test_cli_runner().invoke(args=["plugins", "settings", "birthday_gift"])
    assert result.exit_code == 0 and '"gift_points": 300' in result.output
    assert SECRET not in result.output


# ------------------------------------------------------------------ CRM webhook (uses the secret)

def signed(body, secret=SECRET):
    raw = json.dumps(body).encode()
    return raw, {"Content-Type": "application/json", "X-Birthday-Gift-Signature":
                 "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()}


def test_crm_webhook_sets_a_birthday_only_with_a_valid_signature(memberday_client, operator_token, member):
    raw, headers = signed({"member_id": member["id"], "month": 5, "day": 20})
    assert memberday_client.post("/api/v1/birthday-gift/webhook", data=raw, headers=headers).status_code == 404

    assert configure(memberday_client, operator_token, webhook_secret=SECRET).status_code == 200
    _, forged = signed({"member_id": member["id"], "month": 5, "day": 20}, secret="not-the-shared-secret!")
    assert memberday_client.post("/api/v1/birthday-gift/webhook", data=raw, headers=forged).status_code == 401
    assert memberday_client.get(birthday_url(member["id"]), headers=bearer(member["token"])).status_code == 404

    response = memberday_client.post("/api/v1/birthday-gift/webhook", data=raw, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["set_by"] == "webhook" and response.get_json()["month"] == 5


# ------------------------------------------------------------------ the daily job

def enqueue_send_due(app, on):
    with app.app_context():
        from core.jobs import enqueue

        enqueue("birthday_gift.send_due", on)


def test_daily_job_gifts_birthday_month_members_once_a_year(memberday_app, memberday_client, operator_token,
                                                            member, memberday_worker):
    template = memberday_client.post("/api/v1/coupon-templates", json={"title": "Birthday cake"},
                                     headers=bearer(operator_token)).get_json()
    assert configure(memberday_client, operator_token, coupon_template_id=template["id"]).status_code == 200
    set_birthday(memberday_client, member, 3, 14)
    other = join(memberday_client, "Born in June")
    set_birthday(memberday_client, other, 6, 1)

    enqueue_send_due(memberday_app, "2026-03-02")
    enqueue_send_due(memberday_app, "2026-03-20")  # a second run in the same month
    memberday_worker.run()
    enqueue_send_due(memberday_app, "2026-03-31")  # and a retried one later
    memberday_worker.run()

    balance, sources = points(memberday_client, operator_token, member["id"])
    assert balance == 200 and sources == [f"birthday_gift:{member['id']}:2026"]
    coupons = memberday_client.get(f"/api/v1/members/{member['id']}/coupons", headers=bearer(operator_token))
    assert [c["title"] for c in coupons.get_json()["items"]] == ["Birthday cake"]
    gift = memberday_client.get(birthday_url(member["id"]), headers=bearer(member["token"])).get_json()["gift"]
    assert gift == {"year": 2026, "points": 200, "coupon_code": coupons.get_json()["items"][0]["code"]}
    assert points(memberday_client, operator_token, other["id"]) == (0, [])
    assert memberday_worker.failed() == []

    enqueue_send_due(memberday_app, "2027-03-01")  # next year, the next gift
    memberday_worker.run()
    assert points(memberday_client, operator_token, member["id"])[0] == 400


def test_concurrent_job_runs_give_one_gift(memberday_app, memberday_client, operator_token, member):
    set_birthday(memberday_client, member, 3, 14)

    def run_job(_):
        with memberday_app.app_context():
            from core.jobs import run

            return run("birthday_gift.send_due", "2026-03-10")

    results = run_concurrently(run_job, 4)
    assert sorted(result["given"] for result in results) == [0, 0, 0, 1]
    assert all(result["failed"] == 0 for result in results)
    assert points(memberday_client, operator_token, member["id"]) == (200, [f"birthday_gift:{member['id']}:2026"])


def test_a_queued_job_does_nothing_once_the_plugin_is_off(memberday_app, memberday_client, operator_token,
                                                          member, memberday_worker):
    set_birthday(memberday_client, member, 3, 14)
    enqueue_send_due(memberday_app, "2026-03-10")
    switch(memberday_client, operator_token, False)
    memberday_worker.run()
    assert memberday_worker.failed() == []
    assert points(memberday_client, operator_token, member["id"]) == (0, [])


# ------------------------------------------------------------------ event and filter hooks

def test_orders_in_the_birthday_month_earn_double_points_until_the_plugin_is_off(
        memberday_client, operator_token, member):
    set_birthday(memberday_client, member, 3, 14)
    assert report_order(memberday_client, operator_token, member["id"], "o-1",
                        "2026-03-15T12:00:00+08:00")["points_earned"] == 200
    assert report_order(memberday_client, operator_token, member["id"], "o-2",
                        "2026-04-15T12:00:00+08:00")["points_earned"] == 100
    switch(memberday_client, operator_token, False)
    assert report_order(memberday_client, operator_token, member["id"], "o-3",
                        "2026-03-16T12:00:00+08:00")["points_earned"] == 100


def test_the_birthday_month_follows_the_brands_time_zone(memberday_client, operator_token, member):
    set_birthday(memberday_client, member, 3, 1)
    # 17:00 UTC on 28 February is already 1 March in Taipei.
    assert report_order(memberday_client, operator_token, member["id"], "o-tz",
                        "2026-02-28T17:00:00+00:00")["points_earned"] == 200


def test_new_members_are_asked_for_their_birthday_only_while_the_plugin_is_on(
        memberday_client, operator_token, member):
    def inbox(someone):
        response = memberday_client.get(f"/api/v1/members/{someone['id']}/notifications",
                                        headers=bearer(someone["token"]))
        return [note["title"] for note in response.get_json()["items"]]

    assert inbox(member) == ["Tell us your birthday"]
    switch(memberday_client, operator_token, False)
    assert inbox(join(memberday_client, "Joined while off")) == []


# ------------------------------------------------------------------ pages

def test_member_sets_birthday_on_the_birthday_page(memberday_client, member):
    assert memberday_client.get("/birthday").status_code == 302  # signed out: to the log-in page
    sign_in(memberday_client, member)
    page = memberday_client.get("/birthday")
    assert page.status_code == 200 and 'name="month"' in page.get_data(as_text=True)

    assert memberday_client.post("/birthday", data={"csrf_token": csrf_token(memberday_client),
                                                    "month": "2", "day": "31"}).status_code == 400
    assert memberday_client.post("/birthday", data={"csrf_token": csrf_token(memberday_client),
                                                    "month": "3", "day": "14"}).status_code == 303
    assert 'id="birthday">03-14<' in memberday_client.get("/birthday").get_data(as_text=True)


def test_birthday_page_and_member_page_section_disappear_while_off(memberday_client, operator_token, member):
    sign_in(memberday_client, member)
    assert "Birthday gift" in memberday_client.get("/me").get_data(as_text=True)
    switch(memberday_client, operator_token, False)
    assert memberday_client.get("/birthday").status_code == 404
    me = memberday_client.get("/me")
    assert me.status_code == 200 and "Birthday gift" not in me.get_data(as_text=True)


# ------------------------------------------------------------------ CLI

def test_cli_runs_the_gift_round_and_refuses_while_off(memberday_app, memberday_client, operator_token, member):
    set_birthday(memberday_client, member, 3, 14)
    runner = memberday_app.test_cli_runner()
    switch(memberday_client, operator_token, False)
    refused = runner.invoke(args=["birthday-gift", "send-due", "--date", "2026-03-10"])
    assert refused.exit_code != 0 and "disabled" in refused.output
    assert points(memberday_client, operator_token, member["id"]) == (0, [])

    switch(memberday_client, operator_token, True)
    result = runner.invoke(args=["birthday-gift", "send-due", "--date", "2026-03-10"])
    assert result.exit_code == 0, result.output
    assert "gifts given: 1" in result.output
    assert points(memberday_client, operator_token, member["id"])[0] == 200
