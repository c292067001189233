"""Share-link clicks are written in batches: the visit sends no statement of its own, every click is
counted exactly once by the readers (who flush first), and a worker stopping normally writes what
it holds."""
from __future__ import annotations

import time
import urllib.error
import urllib.request

from sqlalchemy import func, select

from core.testing import LiveServer, bearer, run_concurrently


def stored_clicks(app, referrer_id: int) -> int:
    from core.extensions import db
    from plugins.referral.models import ReferralClick

    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(ReferralClick)
                                  .where(ReferralClick.referrer_id == referrer_id))
        db.session.remove()
        return count


def stats(client, referrer) -> dict:
    response = client.get(f"/api/v1/members/{referrer['id']}/referral", headers=bearer(referrer["token"]))
    assert response.status_code == 200
    return response.get_json()["stats"]


def test_concurrent_clicks_are_each_counted_once_by_the_stats_and_the_funnel(memberday_app, memberday_client,
                                                                            referrer, admin):
    def visit(index):
        client = memberday_app.test_client()
        source = "?src=qr" if index % 4 == 0 else ""
        return client.get(f"/r/{referrer['code']}{source}", environ_base={"REMOTE_ADDR": f"198.51.100.{index}"})

    assert {response.status_code for response in run_concurrently(visit, 40)} == {303}

    # The readers flush first: exact, though the batch interval has not passed.
    counted = stats(memberday_client, referrer)
    assert (counted["clicks"], counted["scans"]) == (30, 10)
    funnel = memberday_client.get("/api/v1/referral/funnel", headers=admin).get_json()
    assert (funnel["clicks"], funnel["scans"]) == (30, 10)
    assert stored_clicks(memberday_app, referrer["id"]) == 40
    # Read again: nothing counted twice.
    assert stats(memberday_client, referrer)["clicks"] == 30


def test_without_a_reader_the_batch_is_written_within_its_interval(memberday_app, memberday_client, referrer):
    for _ in range(5):
        assert memberday_client.get(f"/r/{referrer['code']}").status_code == 303
    deadline = time.monotonic() + 10
    while stored_clicks(memberday_app, referrer["id"]) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stored_clicks(memberday_app, referrer["id"]) == 5


def test_clicks_one_by_one_when_batching_is_off(memberday_app, memberday_client, referrer):
    memberday_app.config["REFERRAL_CLICK_FLUSH_SECONDS"] = 0
    memberday_app.extensions.pop("referral_click_buffer", None)
    assert memberday_client.get(f"/r/{referrer['code']}").status_code == 303
    assert stored_clicks(memberday_app, referrer["id"]) == 1


def test_a_worker_stopping_normally_writes_the_clicks_it_holds(memberday_app, referrer):
    # A long interval: only the shutdown can have written these.
    server = LiveServer(memberday_app, extra_env={"MEMBERDAY_REFERRAL_CLICK_FLUSH_SECONDS": "3600"})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        for _ in range(12):
            try:
                opener.open(f"{server.url}/r/{referrer['code']}", timeout=10)
            except urllib.error.HTTPError as answer:
                assert answer.code == 303
    finally:
        server.stop()
    assert stored_clicks(memberday_app, referrer["id"]) == 12


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
