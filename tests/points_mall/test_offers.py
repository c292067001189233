"""Other plugins make items exclusive or cheaper through ``memberday_mall_offers``.

A tiny plugin defined here is registered on the app's own plugin host, as a
third-party plugin would be, and offers items to members with a given tag.
"""
import types

import pytest

from core.plugins import PluginInfo, hookimpl
from core.plugins.host import current_host
from plugins.points_mall.hookspecs import MallOffer
from mall_helpers import balance, redeem

PLUGIN_ID = "mall_offers_for_tests"


@pytest.fixture
def offers(memberday_app, configure):
    """The offers the test plugin makes: ``{tag: [MallOffer, ...]}``, filled in by each test."""
    table: dict[str, list] = {}
    module = types.ModuleType(PLUGIN_ID)
    module.PLUGIN = PluginInfo(id=PLUGIN_ID, name="Mall offers for tests")

    @hookimpl
    def memberday_mall_offers(member):
        return [offer for tag, made in table.items() if tag in member.tags for offer in made]

    module.memberday_mall_offers = memberday_mall_offers
    with memberday_app.app_context():
        record = current_host().add(module)
    assert record.status == "ok", record.error
    configure(plugin_id=PLUGIN_ID)  # saving settings makes every process reload the plugin list
    return table


def test_exclusive_item_is_seen_and_taken_only_by_members_an_offer_covers(memberday_client, offers, new_member,
                                                                          new_item):
    item = new_item(name="Member-week tote", points_cost=300, exclusive=True)
    offers["week"] = [MallOffer(item_id=item["id"], points_cost=300, label="Member week")]
    insider = new_member(points=1000, tags=["week"])
    outsider = new_member(points=1000)

    assert item["id"] not in [i["id"] for i in memberday_client.get("/api/v1/mall/items").get_json()["items"]]
    outside_view = memberday_client.get("/api/v1/mall/items", headers=outsider["headers"]).get_json()
    assert item["id"] not in [i["id"] for i in outside_view["items"] + outside_view["need_more_points"]]
    inside_view = memberday_client.get("/api/v1/mall/items", headers=insider["headers"]).get_json()
    listed = [i for i in inside_view["items"] if i["id"] == item["id"]]
    assert [(i["offer_label"], i["points_cost"]) for i in listed] == [("Member week", 300)]

    refused = redeem(memberday_client, outsider, item["id"])
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (403, "not_eligible")
    taken = redeem(memberday_client, insider, item["id"])
    assert taken.status_code == 201
    assert taken.get_json()["offer_label"] == "Member week"
    assert (balance(memberday_client, insider), balance(memberday_client, outsider)) == (700, 1000)


def test_the_lowest_offered_cost_wins_and_is_what_the_member_pays(memberday_client, offers, new_member, new_item):
    item = new_item(name="Brunch", points_cost=1000)
    offers["vip"] = [MallOffer(item["id"], 800, "VIP"), MallOffer(item["id"], 600, "VIP week"),
                     MallOffer(item["id"], 0, "broken: free is not an offer")]
    offers["everyone"] = [MallOffer(item["id"], 1500, "Dearer than the list price")]
    vip = new_member(points=2000, tags=["vip", "everyone"])
    regular = new_member(points=2000, tags=["everyone"])

    vip_view = memberday_client.get(f"/api/v1/mall/items/{item['id']}", headers=vip["headers"]).get_json()
    assert (vip_view["points_cost"], vip_view["regular_points_cost"], vip_view["offer_label"]) == \
        (600, 1000, "VIP week")
    body = redeem(memberday_client, vip, item["id"], quantity=2).get_json()
    assert (body["unit_cost"], body["points_spent"]) == (600, 1200)
    assert redeem(memberday_client, regular, item["id"]).get_json()["points_spent"] == 1000
    assert (balance(memberday_client, vip), balance(memberday_client, regular)) == (800, 1000)


def test_a_switched_off_offer_plugin_no_longer_opens_exclusive_items(memberday_client, admin, offers, new_member,
                                                                     new_item):
    item = new_item(points_cost=100, exclusive=True)
    offers["week"] = [MallOffer(item["id"], 50, "Week")]
    member = new_member(points=500, tags=["week"])
    assert memberday_client.patch(f"/api/v1/plugins/{PLUGIN_ID}", headers=admin,
                                  json={"enabled": False}).status_code == 200

    assert redeem(memberday_client, member, item["id"]).get_json()["error"]["code"] == "not_eligible"
    assert memberday_client.get("/api/v1/mall/items", headers=member["headers"]).get_json()["items"] == []
