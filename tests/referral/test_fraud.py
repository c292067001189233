"""Referrals refused with a named reason: nothing moves for them."""
from __future__ import annotations

import pytest

from core.testing import csrf_token, run_concurrently, join_browser
from referral_helpers import join, points, referrals

SIGNUP_PROGRAMME = dict(qualify_on="signup", hold_days=0, referrer_points=200, referee_points=100,
                        max_referrals_per_day=None, max_referrals_per_month=None)


@pytest.fixture
def programme(configure):
    return configure(**SIGNUP_PROGRAMME)


def assert_refused(app, client, admin, referrer, referee_id, reason):
    [referral] = referrals(app, referee_id=referee_id)
    assert (referral["status"], referral["reason"]) == ("rejected", reason)
    assert points(client, admin, referee_id) == (0, 0)
    assert points(client, admin, referrer["id"]) == (0, 0)


def test_referrer_on_their_own_device_is_a_self_referral(memberday_app, memberday_client, admin, referrer,
                                                         programme):
    second_account = join(memberday_client, "Ada Again", device_id="device-ada", referral_code=referrer["code"])
    assert_refused(memberday_app, memberday_client, admin, referrer, second_account["id"], "self_referral")


def test_referrer_joining_through_their_own_link_is_a_self_referral(memberday_app, memberday_client, admin,
                                                                    referrer, programme):
    response = memberday_client.post(f"/r/{referrer['code']}/join", data={"csrf_token": csrf_token(memberday_client),
                                                                          "name": "Ada", "phone": "+886900000001"})
    assert response.status_code == 409
    assert_refused(memberday_app, memberday_client, admin, referrer, referrer["id"], "self_referral")


def test_existing_member_joining_again_through_a_link_is_refused(memberday_app, memberday_client, admin, referrer,
                                                                 programme):
    existing = join(memberday_client, "Cy Existing", phone="+886900000003")
    friend = memberday_app.test_client()
    friend.get(f"/r/{referrer['code']}")
    response = friend.post(f"/r/{referrer['code']}/join", data={"csrf_token": csrf_token(friend),
                                                                "name": "Cy", "phone": "+886 900-000-003"})
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "already have an account" in page and "Sign in" in page
    assert friend.get("/me").status_code == 302  # not signed in as the existing member
    assert_refused(memberday_app, memberday_client, admin, referrer, existing["id"], "already_member")


def test_member_already_on_the_device_makes_a_new_account_there_already_member(
        memberday_app, memberday_client, admin, referrer, programme):
    join(memberday_client, "Cy Existing", device_id="shared-tablet")
    again = join(memberday_client, "Cy New Account", device_id="shared-tablet", referral_code=referrer["code"])
    assert_refused(memberday_app, memberday_client, admin, referrer, again["id"], "already_member")


def test_repeated_device_behind_several_referees_is_refused(memberday_app, memberday_client, admin, referrer,
                                                            programme):
    first = join(memberday_client, "Friend One", device_id="phone-7", referral_code=referrer["code"])
    second = join(memberday_client, "Friend Two", device_id="phone-7", referral_code=referrer["code"])
    [accepted] = referrals(memberday_app, referee_id=first["id"])
    assert accepted["status"] == "rewarded"
    [refused] = referrals(memberday_app, referee_id=second["id"])
    assert (refused["status"], refused["reason"]) == ("rejected", "duplicate_device")
    assert points(memberday_client, admin, second["id"]) == (0, 0)
    assert points(memberday_client, admin, referrer["id"]) == (200, 0)  # for the first friend only


def test_same_browser_joining_twice_through_the_landing_page_is_a_repeated_device(
        memberday_app, memberday_client, admin, referrer, programme):
    browser = memberday_app.test_client()
    assert join_browser(browser, f"/r/{referrer['code']}/join", name="One").status_code == 303
    browser.post("/me/logout")
    assert join_browser(browser, f"/r/{referrer['code']}/join", name="Two").status_code == 303
    statuses = [(row["status"], row["reason"]) for row in referrals(memberday_app)]
    assert statuses == [("rewarded", None), ("rejected", "duplicate_device")]
    assert points(memberday_client, admin, referrer["id"]) == (200, 0)


@pytest.mark.parametrize("limit, reason", [("max_referrals_per_day", "daily_cap"),
                                           ("max_referrals_per_month", "monthly_cap")])
def test_referrer_over_a_limit_is_refused(memberday_app, memberday_client, admin, referrer, configure, limit, reason):
    configure(**dict(SIGNUP_PROGRAMME, **{limit: 2}))
    friends = [join(memberday_client, f"Friend {n}", referral_code=referrer["code"]) for n in range(3)]
    assert [(row["status"], row["reason"]) for row in referrals(memberday_app)] == [
        ("rewarded", None), ("rewarded", None), ("rejected", reason)]
    assert points(memberday_client, admin, friends[2]["id"]) == (0, 0)
    assert points(memberday_client, admin, referrer["id"]) == (400, 0)


def test_limit_holds_when_many_friends_join_at_once(memberday_app, memberday_client, admin, referrer, configure):
    configure(**dict(SIGNUP_PROGRAMME, max_referrals_per_day=3))

    def join_now(index):
        return join(memberday_app.test_client(), f"Friend {index}", referral_code=referrer["code"])["id"]

    run_concurrently(join_now, 8)
    rows = referrals(memberday_app)
    assert len(rows) == 8
    assert sorted(row["status"] for row in rows) == ["rejected"] * 5 + ["rewarded"] * 3
    assert {row["reason"] for row in rows if row["status"] == "rejected"} == {"daily_cap"}
    assert points(memberday_client, admin, referrer["id"]) == (600, 0)


def test_unknown_or_malformed_referral_code_at_join_is_ignored(memberday_app, memberday_client, programme):
    for code in ("ZZZZZZZ", "abc", "x" * 32, "ſ" * 7):
        join(memberday_client, f"Friend {code[:3]}", referral_code=code)
    assert referrals(memberday_app) == []


def test_two_friends_on_one_device_through_two_referrers_at_once_are_never_both_rewarded(
        memberday_app, memberday_client, admin, referrer, programme):
    """Each friend's attribution runs in its own thread and connection, released together; the two
    accounts on one device joined at the same instant, so only the cross-referrer check can tell."""
    from core.database import transaction
    from core.extensions import db
    from core.members.models import Member
    from core.testing import bearer
    from plugins.referral import services

    other = join(memberday_client, "Cy Referrer", phone="+886900000009", device_id="device-cy")
    other["code"] = memberday_client.get(f"/api/v1/members/{other['id']}/referral",
                                         headers=bearer(other["token"])).get_json()["code"]
    codes = [referrer["code"], other["code"]]
    for round_ in range(20):
        device = f"shared-device-{round_}"
        friend_ids = [join(memberday_client, f"Friend {round_}-{index}", device_id=device)["id"] for index in (0, 1)]
        with memberday_app.app_context():
            with transaction():
                first = db.session.get(Member, friend_ids[0])
                db.session.get(Member, friend_ids[1]).created_at = first.created_at

        def attribute(index):
            with memberday_app.app_context():
                member = db.session.get(Member, friend_ids[index])
                referral = services.attribute_join(member, {"referral_code": codes[index], "channel": "api"})
                return referral.status

        statuses = run_concurrently(attribute, 2)
        assert statuses.count("rewarded") <= 1, statuses
        rows = [row for row in referrals(memberday_app) if row["referee_id"] in friend_ids]
        assert [row["status"] for row in rows].count("rewarded") <= 1, rows
        assert sum(points(memberday_client, admin, friend_id)[0] for friend_id in friend_ids) \
            <= SIGNUP_PROGRAMME["referee_points"]
