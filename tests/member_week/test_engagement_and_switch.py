"""Engagement through the keyword and the mall's week prices, and the plugin switched off and on."""
from core.jobs import run
from week_helpers import claim, order, running_window, snapshot


def _engagements(app, week_id: int) -> set[tuple[int, str]]:
    from sqlalchemy import select

    from core.extensions import db
    from plugins.member_week.models import Engagement

    with app.app_context():
        return {(row.member_id, row.kind) for row in
                db.session.scalars(select(Engagement).where(Engagement.week_id == week_id)).all()}


def _message(client, admin, sender: str, text: str, message_id: str):
    response = client.post("/api/v1/messages", headers=admin,
                           json={"channel": "wechat", "from": sender, "text": text, "message_id": message_id})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["reply"]


def test_the_week_keyword_answers_participants_and_counts_once(memberday_app, memberday_client, admin, new_member,
                                                               new_week, tick):
    member = new_member(openid="openid-week-1")
    starts, ends = running_window()
    week = new_week(starts_at=starts, ends_at=ends, holdout_percent=0, keyword="會員週")
    tick()
    stranger_reply = _message(memberday_client, admin, "openid-nobody", "會員週", "m-0")

    reply = _message(memberday_client, admin, "openid-week-1", " 會員週 ", "m-1")
    _message(memberday_client, admin, "openid-week-1", "會員週", "m-2")

    assert f"/member-week/{week['id']}" in reply
    assert stranger_reply is None
    assert _engagements(memberday_app, week["id"]) == {(member["id"], "keyword")}


def test_week_mall_prices_reach_participants_only_and_a_redemption_is_engagement(
        memberday_app, memberday_client, admin, new_member, new_week, tick):
    from core.rewards.services import credit

    members = [new_member(tags=["mall-week"]) for _ in range(10)]
    with memberday_app.app_context():
        for member in members:
            credit(member["id"], 1000, "Welcome", f"test:welcome:{member['id']}")
    item = memberday_client.post("/api/v1/mall/items", headers=admin, json={
        "name": "Week-only tote", "points_cost": 800, "exclusive": True}).get_json()
    starts, ends = running_window()
    week = new_week(starts_at=starts, ends_at=ends, holdout_percent=50, audience={"tags_all": ["mall-week"]},
                    benefits=[{"title": "Tote at 300", "kind": "mall_item", "item_id": item["id"], "points_cost": 300}])
    tick()
    rows = snapshot(memberday_app, week["id"])
    inside = next(m for m in members if not rows[m["id"]]["held_out"])
    held = next(m for m in members if rows[m["id"]]["held_out"])

    offered = memberday_client.get("/api/v1/mall/items", headers=inside["headers"]).get_json()["items"]
    assert [(i["id"], i["points_cost"], i["offer_label"]) for i in offered] == [(item["id"], 300, week["name"])]
    assert memberday_client.get("/api/v1/mall/items", headers=held["headers"]).get_json()["items"] == []
    refused = claim(memberday_client, inside, week["id"], week["benefits"][0]["id"])
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "mall_item"

    bought = memberday_client.post("/api/v1/mall/redemptions", headers=inside["headers"],
                                   json={"member_id": inside["id"], "item_id": item["id"]})
    assert bought.status_code == 201 and bought.get_json()["points_spent"] == 300
    report = memberday_client.post(f"/api/v1/member-weeks/{week['id']}/report/refresh", headers=admin).get_json()
    assert _engagements(memberday_app, week["id"]) == {(inside["id"], "mall_redemption")}
    assert report["engaged"]["members"] == 1


def test_switched_off_the_week_is_gone_and_switched_on_it_is_all_back(memberday_app, memberday_client, admin,
                                                                      new_member, new_week, tick):
    member = new_member()
    starts, ends = running_window()
    week = new_week(starts_at=starts, ends_at=ends, holdout_percent=0, points_multiplier="2",
                    benefits=[{"title": "Bonus", "kind": "points", "points": 50}])
    tick()
    switch = lambda on: memberday_client.patch("/api/v1/plugins/member_week", headers=admin, json={"enabled": on})

    assert switch(False).status_code == 200
    assert memberday_client.get("/api/v1/member-weeks", headers=admin).status_code == 404
    assert memberday_client.get(f"/api/v1/member-weeks/{week['id']}", headers=member["headers"]).status_code == 404
    assert memberday_client.get("/api/v1/promotions", headers=admin).status_code == 404
    assert claim(memberday_client, member, week["id"], week["benefits"][0]["id"]).status_code == 404
    assert memberday_client.get(f"/member-week/{week['id']}").status_code == 404
    assert order(memberday_client, admin, "OFF-1", member["id"], "100.00")["points_earned"] == 100
    with memberday_app.app_context():
        assert run("member_week.tick") is None  # a job of a disabled plugin does nothing

    assert switch(True).status_code == 200
    assert memberday_client.get(f"/api/v1/member-weeks/{week['id']}", headers=member["headers"]).status_code == 200
    assert order(memberday_client, admin, "ON-1", member["id"], "100.00")["points_earned"] == 200
    assert claim(memberday_client, member, week["id"], week["benefits"][0]["id"]).status_code == 201
    with memberday_app.app_context():
        assert run("member_week.tick") == {"announced": 0, "running": 0, "ended": 0, "resumed": 0}
