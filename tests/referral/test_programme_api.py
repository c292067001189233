"""The referral API for members and operators, settings validation, exports, the member page and demo data."""
from __future__ import annotations

import zipfile
from io import BytesIO

import pytest

from core.testing import bearer, create_operator_token, csrf_token, sign_in_browser
from referral_helpers import join, referrals, report_order, run_job

PROGRAMME = dict(qualify_on="first_order", min_order_amount="50.00", hold_days=7, referrer_points=200,
                 referee_points=100, max_referrals_per_day=None, max_referrals_per_month=None)


def test_member_sees_own_code_links_and_stats_and_nobody_elses(memberday_app, memberday_client, referrer, admin):
    url = f"/api/v1/members/{referrer['id']}/referral"
    body = memberday_client.get(url, headers=bearer(referrer["token"])).get_json()
    base = memberday_app.config["PUBLIC_URL"]
    assert body["code"] == referrer["code"]
    assert body["share_url"] == f"{base}/r/{referrer['code']}"
    assert body["qr_png_url"] == f"{base}/r/{referrer['code']}/qr.png"
    assert body["qr_svg_url"] == f"{base}/r/{referrer['code']}/qr.svg"
    assert set(body["stats"]) == {"clicks", "scans", "signups", "qualified", "rewarded"}
    assert memberday_client.get(url, headers=admin).get_json()["code"] == referrer["code"]

    stranger = join(memberday_client, "Stranger")
    assert memberday_client.get(url, headers=bearer(stranger["token"])).status_code == 403
    assert memberday_client.get(url).status_code == 401
    assert memberday_client.get("/api/v1/members/999999/referral", headers=admin).status_code == 404


def test_operators_list_referrals_by_referrer_and_status(memberday_app, memberday_client, referrer, admin, configure):
    configure(**PROGRAMME)
    other = join(memberday_client, "Other Referrer")
    other_code = memberday_client.get(f"/api/v1/members/{other['id']}/referral", headers=admin).get_json()["code"]
    friends = [join(memberday_client, f"Friend {n}", referral_code=referrer["code"]) for n in range(3)]
    join(memberday_client, "Friend of other", referral_code=other_code)
    report_order(memberday_client, admin, "SHOP-1", friends[0]["id"], "80.00")

    everything = memberday_client.get("/api/v1/referrals?count=exact", headers=admin).get_json()
    assert everything["total"] == 4 and len(everything["items"]) == 4
    mine = memberday_client.get(f"/api/v1/referrals?referrer_id={referrer['id']}&per_page=2&count=exact",
                                headers=admin).get_json()
    assert mine["total"] == 3 and len(mine["items"]) == 2
    assert {item["referrer_id"] for item in mine["items"]} == {referrer["id"]}
    held = memberday_client.get("/api/v1/referrals?status=held", headers=admin).get_json()["items"]
    assert [(item["referee_id"], item["status"], item["reason"]) for item in held] == [
        (friends[0]["id"], "held", None)]
    assert set(held[0]) >= {"id", "referrer_id", "referee_id", "status", "reason"}

    assert memberday_client.get("/api/v1/referrals?status=lost", headers=admin).status_code == 400
    assert memberday_client.get("/api/v1/referrals", headers=bearer(referrer["token"])).status_code == 403
    staff = create_operator_token(memberday_app, "staff")
    assert memberday_client.get("/api/v1/referrals", headers=bearer(staff)).status_code == 403


def test_leaderboard_ranks_referrers_by_qualified_friends_and_masks_names(memberday_app, memberday_client, referrer,
                                                                          admin, configure):
    configure(**dict(PROGRAMME, qualify_on="signup"))
    runner_up = join(memberday_client, "Bea Second")
    runner_up_code = memberday_client.get(f"/api/v1/members/{runner_up['id']}/referral",
                                          headers=admin).get_json()["code"]
    for n in range(3):
        join(memberday_client, f"Friend {n}", referral_code=referrer["code"])
    join(memberday_client, "Friend of Bea", referral_code=runner_up_code)

    for period in ("day", "week", "month", "all"):
        public = memberday_client.get(f"/api/v1/referral/leaderboard?period={period}")
        assert public.status_code == 200
        items = public.get_json()["items"]
        assert [(item["rank"], item["name"], item["referrals"]) for item in items] == [
            (1, "A** R***", 3), (2, "B** S***", 1)]
        assert "member_id" not in items[0]
    operator_view = memberday_client.get("/api/v1/referral/leaderboard?period=all", headers=admin).get_json()
    assert operator_view["items"][0]["member_id"] == referrer["id"]
    assert operator_view["items"][0]["name"] == "Ada Referrer"
    assert memberday_client.get("/api/v1/referral/leaderboard?period=year").status_code == 400


def test_funnel_counts_each_step_and_the_viral_coefficient(memberday_app, memberday_client, referrer, admin,
                                                            configure, clock):
    configure(**PROGRAMME)
    for src in ("", "", "", "?src=qr"):
        memberday_client.get(f"/r/{referrer['code']}{src}")
    friends = [join(memberday_client, f"Friend {n}", referral_code=referrer["code"]) for n in range(2)]
    join(memberday_client, "Same device", device_id="device-ada", referral_code=referrer["code"])  # refused
    report_order(memberday_client, admin, "SHOP-1", friends[0]["id"], "99.00")
    clock.advance(days=PROGRAMME["hold_days"], hours=1)
    run_job(memberday_app, "referral.release_due", clock.now)

    response = memberday_client.get("/api/v1/referral/funnel?period=month", headers=admin)
    assert response.status_code == 200
    funnel = response.get_json()
    assert {key: funnel[key] for key in ("clicks", "scans", "signups", "qualified", "rewarded", "rejected")} == {
        "clicks": 3, "scans": 1, "signups": 2, "qualified": 1, "rewarded": 1, "rejected": 1}
    assert funnel["rejected_by_reason"] == {"self_referral": 1}
    assert funnel["members"] == 4
    assert funnel["invites_per_member"] == 1.0 and funnel["conversion"] == 0.5
    assert funnel["viral_coefficient"] == 0.5
    assert memberday_client.get("/api/v1/referral/funnel", headers=bearer(referrer["token"])).status_code == 403


@pytest.mark.parametrize("settings, field", [
    ({"qualify_on": "never"}, "qualify_on"),
    ({"hold_days": -1}, "hold_days"),
    ({"hold_days": "7"}, "hold_days"),
    ({"min_order_amount": "lots"}, "min_order_amount"),
    ({"referrer_points": -5}, "referrer_points"),
    ({"attribution_window_days": 0}, "attribution_window_days"),
    ({"referee_coupon_template_id": 0}, "referee_coupon_template_id"),
    ({"landing_url": "javascript:alert(1)"}, "landing_url"),
    ({"landing_url": "//evil.example.com"}, "landing_url"),
    ({"milestones": [{"count": 3, "points": 100}, {"count": 3, "points": 200}]}, "milestones"),
    ({"milestones": [{"count": 0, "points": 100}]}, "milestones"),
    ({"milestones": "three"}, "milestones"),
    ({"max_referrals_per_day": 20, "max_referrals_per_month": 5}, "max_referrals_per_day"),
    ({"clawback_after_release": "maybe"}, "clawback_after_release"),
])
def test_invalid_settings_are_refused_with_the_field_and_nothing_changes(memberday_client, admin, settings, field):
    before = memberday_client.get("/api/v1/plugins/referral", headers=admin).get_json()["settings"]
    response = memberday_client.patch("/api/v1/plugins/referral", json={"settings": settings}, headers=admin)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]
    assert memberday_client.get("/api/v1/plugins/referral", headers=admin).get_json()["settings"] == before


def test_settings_defaults_are_a_complete_programme(memberday_client, admin):
    settings = memberday_client.get("/api/v1/plugins/referral", headers=admin).get_json()["settings"]
    assert settings["attribution_window_days"] == 30 and settings["qualify_on"] in ("signup", "first_order")
    assert settings["landing_url"] is None and settings["milestones"] == []
    assert settings["clawback_after_release"] is False


def test_member_page_shows_code_link_and_qr(memberday_app, referrer):
    page = memberday_app.test_client()
    sign_in_browser(page, referrer)
    html = page.get("/me").get_data(as_text=True)
    assert "Invite friends" in html and referrer["code"] in html
    assert f"/r/{referrer['code']}" in html and f"/r/{referrer['code']}/qr.svg" in html


def test_qr_export_for_chosen_members_runs_as_a_job_and_downloads_as_zip(memberday_app, memberday_client,
                                                                        memberday_worker, admin, tmp_path):
    memberday_app.config["REFERRAL_EXPORT_DIR"] = str(tmp_path)
    memberday_worker.env["MEMBERDAY_REFERRAL_EXPORT_DIR"] = str(tmp_path)
    members = [join(memberday_client, f"Member {n}") for n in range(3)]
    response = memberday_client.post("/api/v1/referral/qr-exports", headers=admin,
                                     json={"member_ids": [members[0]["id"], members[2]["id"]]})
    assert response.status_code == 202, response.get_json()
    export_id = response.get_json()["id"]
    assert memberday_client.get(f"/api/v1/referral/qr-exports/{export_id}/download",
                                headers=admin).get_json()["error"]["code"] == "export_not_ready"

    memberday_worker.run()
    status = memberday_client.get(f"/api/v1/referral/qr-exports/{export_id}", headers=admin).get_json()
    assert (status["status"], status["total"], status["done"]) == ("done", 2, 2)
    download = memberday_client.get(f"/api/v1/referral/qr-exports/{export_id}/download", headers=admin)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    names = zipfile.ZipFile(BytesIO(download.data)).namelist()
    assert sorted(name.split("-")[0] for name in names) == sorted([str(members[0]["id"]), str(members[2]["id"])])
    assert all(name.endswith(".png") for name in names)

    unknown = memberday_client.post("/api/v1/referral/qr-exports", headers=admin, json={"member_ids": [999999]})
    assert unknown.status_code == 400
    assert unknown.get_json()["error"]["fields"]["member_ids"] == ["These members do not exist: 999999"]
    # The same refusal in the reader's language, the ids kept.
    chinese = memberday_client.post("/api/v1/referral/qr-exports", json={"member_ids": [999999, 999998]},
                                    headers=dict(admin, **{"Accept-Language": "zh-TW"}))
    assert chinese.status_code == 400
    assert chinese.get_json()["error"]["fields"]["member_ids"] == ["這些會員不存在：999998, 999999"]


def test_export_qr_command_exports_every_member_with_progress(memberday_app, memberday_client, tmp_path):
    memberday_app.config["REFERRAL_EXPORT_DIR"] = str(tmp_path / "exports")
    for n in range(3):
        join(memberday_client, f"Member {n}")
    target = tmp_path / "posters.zip"
    runner = memberday_app.test_cli_runner()
    result = runner.invoke(args=["referral", "export-qr", "--all", "--format", "svg", "--output", str(target)])
    assert result.exit_code == 0, result.output
    assert "QR codes" in result.output and "3 QR codes written" in result.output
    names = zipfile.ZipFile(target).namelist()
    assert len(names) == 3 and all(name.endswith(".svg") for name in names)

    refused = runner.invoke(args=["referral", "export-qr"])
    assert refused.exit_code != 0 and "--all" in refused.output


def test_demo_adds_referrals_in_several_states(memberday_app):
    result = memberday_app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    statuses = sorted((row["status"], row["reason"] or "") for row in referrals(memberday_app))
    assert statuses == [("held", ""), ("pending", ""), ("rejected", "duplicate_device"), ("rewarded", "")]
