"""The member's side: the week on their page with a countdown and claim buttons, and the landing page."""
from core.testing import csrf_token, sign_in_browser
from week_helpers import running_window, snapshot


def _sign_in(client, member):
    sign_in_browser(client, member)


def test_the_member_page_shows_the_week_with_a_countdown_and_claims_from_the_button(
        memberday_app, new_member, new_week, coupon_template, tick):
    member = new_member()
    starts, ends = running_window()
    week = new_week(name="Autumn member week", starts_at=starts, ends_at=ends, holdout_percent=0,
                    benefits=[{"title": "Partner café coffee", "kind": "coupon",
                               "coupon_template_id": coupon_template(), "stock": 5},
                              {"title": "Bonus points", "kind": "points", "points": 120}])
    tick()
    client = memberday_app.test_client()
    _sign_in(client, member)

    page = client.get("/me").get_data(as_text=True)
    assert "Autumn member week" in page and "Partner café coffee" in page
    assert 'class="member-week-countdown"' in page and "data-seconds" in page
    benefit_id = week["benefits"][1]["id"]
    assert f'name="benefit_id" value="{benefit_id}"' in page

    token = csrf_token(client, f"/member-week/{week['id']}")
    refused = client.post(f"/member-week/{week['id']}/claim", data={"benefit_id": benefit_id})
    assert refused.status_code == 400  # no CSRF token: nothing claimed
    claimed = client.post(f"/member-week/{week['id']}/claim", data={"benefit_id": benefit_id, "csrf_token": token})
    assert claimed.status_code == 303
    after = client.get(claimed.headers["Location"]).get_data(as_text=True)
    assert f'name="benefit_id" value="{benefit_id}"' not in after
    balance = client.get(f"/api/v1/members/{member['id']}/points", headers=member["headers"]).get_json()["balance"]
    assert balance == 120


def test_the_landing_page_is_for_participants_and_counts_their_visit(memberday_app, new_member, new_week, tick):
    from sqlalchemy import select

    from core.extensions import db
    from plugins.member_week.models import Engagement

    members = [new_member(tags=["landing"]) for _ in range(8)]
    starts, ends = running_window()
    week = new_week(name="Tagged week", starts_at=starts, ends_at=ends, holdout_percent=50,
                    audience={"tags_all": ["landing"]})
    tick()
    rows = snapshot(memberday_app, week["id"])
    inside = next(m for m in members if not rows[m["id"]]["held_out"])
    held = next(m for m in members if rows[m["id"]]["held_out"])

    anonymous = memberday_app.test_client()
    assert anonymous.get(f"/member-week/{week['id']}").status_code == 404  # not a week for everyone
    held_client = memberday_app.test_client()
    _sign_in(held_client, held)
    assert held_client.get(f"/member-week/{week['id']}").status_code == 404
    assert "Tagged week" not in held_client.get("/me").get_data(as_text=True)
    client = memberday_app.test_client()
    _sign_in(client, inside)
    assert client.get(f"/member-week/{week['id']}").status_code == 200
    client.get(f"/member-week/{week['id']}")

    with memberday_app.app_context():
        kinds = db.session.execute(select(Engagement.member_id, Engagement.kind)
                                   .where(Engagement.week_id == week["id"])).all()
    assert kinds == [(inside["id"], "page_visit")]


def test_a_week_for_everyone_has_a_public_landing_page(memberday_app, new_week, tick):
    starts, ends = running_window()
    week = new_week(name="Open week", starts_at=starts, ends_at=ends, holdout_percent=0,
                    benefits=[{"title": "Bonus points", "kind": "points", "points": 50}])
    tick()

    page = memberday_app.test_client().get(f"/member-week/{week['id']}")

    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Open week" in text and "Bonus points" in text and "/me/login" in text
    assert memberday_app.test_client().get("/member-week/999999").status_code == 404


def test_demo_seeds_an_ended_week_with_its_report_and_an_announced_one(memberday_app, memberday_client, admin):
    result = memberday_app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output

    weeks = memberday_client.get("/api/v1/member-weeks", headers=admin).get_json()["items"]
    assert sorted(week["status"] for week in weeks) == ["announced", "ended"]
    ended = next(week for week in weeks if week["status"] == "ended")
    report = memberday_client.get(f"/api/v1/member-weeks/{ended['id']}/report", headers=admin).get_json()
    assert report["participants"] > 0 and report["participants"] + report["held_out"] >= 11  # the core's demo members
