"""Codes, share links, attribution cookies, QR images, and the plugin switched off and on."""
from __future__ import annotations

from io import BytesIO
from urllib.parse import urlsplit

import pytest
from PIL import Image

from core.testing import bearer, csrf_token, run_concurrently, sign_in_browser, join_browser
from referral_helpers import join, referrals

LOOK_ALIKES = set("0O1IL")


def test_code_is_short_unique_per_member_without_look_alikes_and_created_once(memberday_app, memberday_client):
    members = [join(memberday_client, f"Member {n}") for n in range(3)]
    codes = set()
    for body in members:
        def fetch(_):
            response = memberday_app.test_client().get(f"/api/v1/members/{body['id']}/referral",
                                                       headers=bearer(body["token"]))
            assert response.status_code == 200, response.get_json()
            return response.get_json()["code"]

        seen = set(run_concurrently(fetch, 5))  # first requests racing to create the code
        assert len(seen) == 1
        code = seen.pop()
        assert len(code) == 7 and code.isupper() and not set(code) & LOOK_ALIKES
        codes.add(code)
    assert len(codes) == 3


def test_share_link_is_case_insensitive(memberday_client, referrer):
    response = memberday_client.get(f"/r/{referrer['code'].lower()}")
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == f"/r/{referrer['code']}/join"


def test_clicks_and_scans_are_counted_apart_without_keeping_the_address(memberday_app, memberday_client, referrer):
    address = "203.0.113.77"
    client = memberday_app.test_client()
    client.get(f"/r/{referrer['code']}", headers={"User-Agent": "LinkPhone/2"}, environ_base={"REMOTE_ADDR": address})
    client.get(f"/r/{referrer['code']}?src=qr", headers={"User-Agent": "ScanPhone/3"},
               environ_base={"REMOTE_ADDR": address})
    client.get(f"/r/{referrer['code']}", headers={"User-Agent": "Desk/1"}, environ_base={"REMOTE_ADDR": "198.51.100.1"})

    from core.extensions import db
    from plugins.referral import clicks as click_batch
    from plugins.referral.models import ReferralClick

    with memberday_app.app_context():
        click_batch.flush()  # as every reader of clicks does first
        clicks = db.session.scalars(db.select(ReferralClick).order_by(ReferralClick.id)).all()
        rows = [(c.source, c.user_agent, c.client_hash, c.referrer_id) for c in clicks]
    assert [(source, agent) for source, agent, _, _ in rows] == [
        ("link", "LinkPhone/2"), ("qr", "ScanPhone/3"), ("link", "Desk/1")]
    assert rows[0][2] == rows[1][2] != rows[2][2]  # the same visitor, told apart from another
    assert all(address not in str(row) and "203.0.113" not in str(row) for row in rows)
    assert {row[3] for row in rows} == {referrer["id"]}

    stats = memberday_client.get(f"/api/v1/members/{referrer['id']}/referral",
                                 headers=bearer(referrer["token"])).get_json()["stats"]
    assert stats == {"clicks": 2, "scans": 1, "signups": 0, "qualified": 0, "rewarded": 0}


def test_share_link_cookie_attributes_a_later_join_and_the_first_click_wins(memberday_app, memberday_client,
                                                                           referrer):
    other = join(memberday_client, "Other Referrer")
    other_code = memberday_client.get(f"/api/v1/members/{other['id']}/referral",
                                      headers=bearer(other["token"])).get_json()["code"]
    browser = memberday_app.test_client()
    browser.get(f"/r/{referrer['code']}")
    browser.get(f"/r/{other_code}")  # a later click does not take the friend over
    # the core's own form
    assert join_browser(browser, "/join", name="Core Join Page").status_code == 303
    api_client = memberday_app.test_client()
    api_client.get(f"/r/{other_code}")
    joined = join(api_client, "Api Join")  # no code in the body: the cookie speaks
    rows = referrals(memberday_app)
    assert [(row["referrer_id"], row["channel"]) for row in rows] == [(referrer["id"], "web"), (other["id"], "api")]
    assert rows[1]["referee_id"] == joined["id"]


def test_a_cookie_signed_before_or_after_the_uncompressed_payload_attributes_the_join(memberday_app, referrer):
    """Cookies set by a share link before the serializer stopped trying zlib still attribute, and
    what it writes now reads with the library's own serializer (the format did not change)."""
    from itsdangerous import URLSafeTimedSerializer

    library = URLSafeTimedSerializer(memberday_app.config["SECRET_KEY"], salt="referral-attribution")
    browser = memberday_app.test_client()
    browser.set_cookie("memberday_ref", library.dumps(referrer["code"]))
    joined = join(browser, "Earlier Cookie")
    assert [(row["referrer_id"], row["referee_id"]) for row in referrals(memberday_app)] == [
        (referrer["id"], joined["id"])]
    with memberday_app.app_context():
        from plugins.referral import services

        assert library.loads(services.attribution_cookie_value(referrer["code"])) == referrer["code"]


def test_forged_or_expired_attribution_cookie_is_ignored(memberday_app, memberday_client, referrer, configure):
    from itsdangerous import URLSafeTimedSerializer

    forged = memberday_app.test_client()
    forged.set_cookie("memberday_ref", URLSafeTimedSerializer("not-our-secret", salt="referral-attribution")
                      .dumps(referrer["code"]))
    join(forged, "Forged")

    configure(attribution_window_days=1)
    with memberday_app.app_context():
        from unittest import mock

        from plugins.referral import services

        with mock.patch("itsdangerous.timed.time.time", return_value=1_000_000):
            old = services.attribution_cookie_value(referrer["code"])
    stale = memberday_app.test_client()
    stale.set_cookie("memberday_ref", old)
    join(stale, "Stale")
    assert referrals(memberday_app) == []


JUNK = ["", "abc", "ZZZZZZZ", "Z" * 17, "A" * 5000, "%E4%BD%A0%E5%A5%BD%E4%BD%A0%E5%A5%BD", "%FF%FE%FD%FC",
        "%C5%BF%C5%BF%C5%BF%C5%BF", "%3Cscript%3E", "..%2F..%2Fetc", "a/b/c", "%00%00%00%00", "ABC%20DEF",
        "1234567", "%F0%9F%98%80" * 300]


def test_junk_long_or_non_ascii_share_codes_get_the_friendly_404_page(memberday_client, referrer):
    for code in JUNK:
        for suffix in ("", "/qr.png", "/qr.svg", "/join", "/qr.gif"):
            for accept in ("text/html", "application/json", None):
                # "/r//qr.png" is first redirected to "/r/qr.png" (merged slashes), which is then a 404 too.
                response = memberday_client.get(f"/r/{code}{suffix}", headers={"Accept": accept} if accept else {},
                                                follow_redirects=True)
                assert response.status_code == 404, (code, suffix, response.status_code)
                assert response.mimetype == "text/html"
                assert "find that invitation" in response.get_data(as_text=True)
            response = memberday_client.post(f"/r/{code}{suffix}",
                                             data={"csrf_token": csrf_token(memberday_client), "name": "x"})
            assert response.status_code in (404, 405, 308), (code, suffix, response.status_code)


@pytest.mark.parametrize("image_format, mimetype", [("png", "image/png"), ("svg", "image/svg+xml")])
def test_qr_images_are_cacheable_and_revalidate_with_304(memberday_client, referrer, image_format, mimetype):
    url = f"/r/{referrer['code']}/qr.{image_format}"
    response = memberday_client.get(url)
    assert response.status_code == 200 and response.mimetype == mimetype
    assert "max-age" in response.headers["Cache-Control"] and "public" in response.headers["Cache-Control"]
    etag = response.headers["ETag"]
    if image_format == "png":
        image = Image.open(BytesIO(response.data))
        assert image.format == "PNG" and image.size[0] == image.size[1] >= 200
    else:
        assert b"<svg" in response.data

    again = memberday_client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert memberday_client.get(url.lower(), headers={"If-None-Match": etag}).status_code == 304  # any case
    assert memberday_client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200
    other_format = "svg" if image_format == "png" else "png"
    assert memberday_client.get(f"/r/{referrer['code']}/qr.{other_format}").headers["ETag"] != etag


def test_qr_code_holds_the_share_link_marked_as_a_scan(memberday_app, referrer):
    from plugins.referral import services

    with memberday_app.app_context():
        assert services.scan_url(referrer["code"]) == f"{memberday_app.config['PUBLIC_URL']}/r/{referrer['code']}?src=qr"


def test_disabling_the_plugin_turns_links_off_and_ignores_codes_and_enabling_restores_both(
        memberday_app, memberday_client, admin, referrer):
    def switch(enabled):
        response = memberday_client.patch("/api/v1/plugins/referral", json={"enabled": enabled}, headers=admin)
        assert response.status_code == 200 and response.get_json()["enabled"] is enabled

    browser = memberday_app.test_client()
    assert browser.get(f"/r/{referrer['code']}").status_code == 303  # cookie set while on
    switch(False)
    for path in (f"/r/{referrer['code']}", f"/r/{referrer['code']}/qr.png", f"/r/{referrer['code']}/join"):
        assert memberday_client.get(path).status_code == 404
    assert memberday_client.get(f"/api/v1/members/{referrer['id']}/referral", headers=admin).status_code == 404
    ignored = join(memberday_client, "Joined While Off", referral_code=referrer["code"])
    cookie_ignored = join(browser, "Cookie While Off")
    assert memberday_client.get(f"/api/v1/members/{ignored['id']}", headers=bearer(ignored["token"])).status_code == 200
    page = memberday_app.test_client()
    sign_in_browser(page, referrer)
    assert "Invite friends" not in page.get("/me").get_data(as_text=True)
    assert referrals(memberday_app) == []

    switch(True)
    assert memberday_client.get(f"/r/{referrer['code']}").status_code == 303
    assert memberday_client.get(f"/r/{referrer['code']}/qr.svg").status_code == 200
    restored = join(memberday_client, "Joined When On", referral_code=referrer["code"])
    assert [row["referee_id"] for row in referrals(memberday_app)] == [restored["id"]]
    assert cookie_ignored["id"] not in [row["referee_id"] for row in referrals(memberday_app)]
    assert "Invite friends" in page.get("/me").get_data(as_text=True)


def test_operator_landing_page_receives_the_code(memberday_client, referrer, configure):
    configure(landing_url="https://shop.example.com/welcome")
    response = memberday_client.get(f"/r/{referrer['code']}")
    assert response.headers["Location"] == f"https://shop.example.com/welcome?ref={referrer['code']}"
    configure(landing_url="https://shop.example.com/invite/{code}?utm_source=referral")
    response = memberday_client.get(f"/r/{referrer['code']}")
    assert response.headers["Location"] == f"https://shop.example.com/invite/{referrer['code']}?utm_source=referral"


def test_a_share_link_without_a_code_or_with_more_is_a_page_not_found_in_the_readers_language(memberday_client):
    for path in ("/r", "/r/", "/r/a/b", "/r/NOPE999"):
        response = memberday_client.get(path, headers={"Accept": "text/html", "Accept-Language": "zh-TW"})
        assert response.status_code == 404, path
        assert '<html lang="zh-Hant">' in response.get_data(as_text=True), path
