"""Keywords have one holder: declared by a plugin or claimed by a campaign, clashes refused with
``409 keyword_taken``, and a held keyword answered by its holder alone."""
from datetime import datetime, timedelta, timezone

import pytest

from core.plugins import PluginInfo, hookimpl
from core.testing import bearer

from hostkit import patch_plugin, plugin, register, send


def iso(value):
    return value.isoformat()




class CheckIn:
    """Declares 簽到 and answers it."""

    def __init__(self, plugin_id="daily_check_in", enabled_by_default=True):
        self.PLUGIN = PluginInfo(id=plugin_id, name=plugin_id, keywords=("簽到",),
                                 enabled_by_default=enabled_by_default)
        self.asked = []

        @hookimpl
        def memberday_keyword_reply(text):
            self.asked.append(text)
            return f"{plugin_id}: checked in" if text == "簽到" else None

        self.memberday_keyword_reply = memberday_keyword_reply


class AnswersEverything:
    """A greedy matcher asked first: it would answer any text if the core let it."""

    PLUGIN = PluginInfo(id="greedy", name="Greedy")

    def __init__(self):
        self.asked = []

    @hookimpl(tryfirst=True)
    def memberday_keyword_reply(self, text):
        self.asked.append(text)
        return "greedy answer"


def event(client, headers, **fields):
    starts = datetime.now(timezone.utc) + timedelta(days=1)
    body = {"title": "Fan party", "venue": "Xinyi store", "capacity": 20, "starts_at": iso(starts),
            "ends_at": iso(starts + timedelta(hours=3)), **fields}
    return client.post("/api/v1/events", json=body, headers=headers)


def week(client, headers, **fields):
    starts = datetime.now(timezone.utc) + timedelta(days=40)
    body = {"name": "November week", "starts_at": iso(starts), "ends_at": iso(starts + timedelta(days=7)),
            **fields}
    return client.post("/api/v1/member-weeks", json=body, headers=headers)


def test_a_week_cannot_take_an_open_events_keyword_across_plugins(memberday_client, operator_token):
    admin = bearer(operator_token)
    party = event(memberday_client, admin, signup_keyword="會員週")
    assert party.status_code == 201, party.get_json()

    # Full width and another case are the same keyword.
    refused = week(memberday_client, admin, keyword="會員週")
    assert refused.status_code == 409
    body = refused.get_json()["error"]
    assert body["code"] == "keyword_taken"
    assert body["holder"] == {"plugin": "offline_events", "owner": f"event:{party.get_json()['id']}"}

    cancelled = memberday_client.post(f"/api/v1/events/{party.get_json()['id']}/cancel", headers=admin)
    assert cancelled.status_code == 200, cancelled.get_json()
    taken_over = week(memberday_client, admin, keyword="會員週")
    assert taken_over.status_code == 201, taken_over.get_json()

    # Now the week holds it: an event cannot have it, until the week is cancelled.
    assert event(memberday_client, admin, signup_keyword="會員週").get_json()["error"]["code"] == "keyword_taken"
    week_id = taken_over.get_json()["id"]
    assert memberday_client.post(f"/api/v1/member-weeks/{week_id}/cancel", headers=admin).status_code == 200
    assert event(memberday_client, admin, signup_keyword="會員週").status_code == 201


def test_keywords_match_in_their_normal_form(memberday_client, operator_token):
    admin = bearer(operator_token)
    assert event(memberday_client, admin, signup_keyword="VIP").status_code == 201
    refused = week(memberday_client, admin, keyword="ｖｉｐ")  # full-width, lower case
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "keyword_taken"


def test_switching_on_a_plugin_whose_declared_keyword_is_held_is_refused_with_the_holder(
        memberday_app, memberday_client, operator_token):
    first, second = CheckIn("daily_check_in"), CheckIn("stamp_card", enabled_by_default=False)
    register(memberday_app, first, second)

    refused = patch_plugin(memberday_client, operator_token, "stamp_card", enabled=True)
    assert refused.status_code == 409
    assert refused.get_json()["error"]["code"] == "keyword_taken"
    assert refused.get_json()["error"]["holder"]["plugin"] == "daily_check_in"
    described = plugin(memberday_client, operator_token, "stamp_card")
    assert described["enabled"] is False
    assert described["keywords"] == ["簽到"]
    assert any("daily_check_in" in clash for clash in described["keyword_clashes"])

    # Once the holder is off, the second may have it; then the first is the one refused.
    assert patch_plugin(memberday_client, operator_token, "daily_check_in", enabled=False).status_code == 200
    assert patch_plugin(memberday_client, operator_token, "stamp_card", enabled=True).status_code == 200
    again = patch_plugin(memberday_client, operator_token, "daily_check_in", enabled=True)
    assert again.status_code == 409 and again.get_json()["error"]["holder"]["plugin"] == "stamp_card"


def test_a_campaign_cannot_claim_a_keyword_a_plugin_declares(memberday_app, memberday_client, operator_token):
    register(memberday_app, CheckIn())
    refused = event(memberday_client, bearer(operator_token), signup_keyword="簽到")
    assert refused.status_code == 409
    assert refused.get_json()["error"]["holder"] == {"plugin": "daily_check_in", "owner": None}


def test_a_held_keyword_is_answered_by_its_holder_alone(memberday_app, memberday_client, operator_token):
    greedy, check_in = AnswersEverything(), CheckIn()
    register(memberday_app, greedy, check_in)

    assert send(memberday_client, operator_token, "簽到", "m-1") == "daily_check_in: checked in"
    assert greedy.asked == []  # asked first for anything else, never for a held keyword
    assert send(memberday_client, operator_token, "hello", "m-2") == "greedy answer"
    assert greedy.asked == ["hello"]

    # While its holder is off, a declared keyword is free: the others are asked again.
    assert patch_plugin(memberday_client, operator_token, "daily_check_in", enabled=False).status_code == 200
    assert send(memberday_client, operator_token, "簽到", "m-3") == "greedy answer"


def test_an_event_keyword_is_routed_to_the_events_plugin(memberday_app, memberday_client, operator_token):
    greedy = AnswersEverything()
    register(memberday_app, greedy)
    assert event(memberday_client, bearer(operator_token), signup_keyword="報名").status_code == 201
    reply = send(memberday_client, operator_token, "報名", "m-10")
    assert reply != "greedy answer" and "報名" not in greedy.asked


def test_plugins_list_shows_keywords_and_clashes(memberday_app, operator_token):
    register(memberday_app, CheckIn("daily_check_in"), CheckIn("stamp_card", enabled_by_default=False))
    result = memberday_app.test_cli_runner().invoke(args=["plugins", "list"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    stamp = next(i for i, line in enumerate(lines) if " stamp_card " in line)
    assert "keywords: 簽到" in lines[stamp]
    assert "keyword clash" in lines[stamp + 1] and "daily_check_in" in lines[stamp + 1]


@pytest.mark.parametrize("keyword", ["", " ", "x" * 41])
def test_a_bad_keyword_is_a_400_not_a_claim(memberday_client, operator_token, keyword):
    response = week(memberday_client, bearer(operator_token), keyword=keyword)
    assert response.status_code in (400, 201), response.get_json()
    if response.status_code == 201:  # an empty keyword is no keyword
        assert not response.get_json()["keyword"]
