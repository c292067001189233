"""Audiences are decided in SQL, on PostgreSQL and SQLite alike, and agree with the Python rules."""
import random
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from core.database import transaction
from core.extensions import db
from core.members import audience
from core.members.audience import Audience, AudienceSchema
from core.members.models import STAGES, Member
from core.testing import bearer, create_operator_token, query_plan

NOW = datetime(2026, 6, 15, 12, 30, 0, 250000, tzinfo=timezone.utc)
TAGS = ["vip", "vi", "vip2", "熟客", "a b", 'quo"te', "o'neil", "c:\\dir", "{x,y}"]  # the last three: quoting in the statement
TIERS = ["member", "silver", "gold", "platinum"]


@pytest.fixture(params=["postgresql", "sqlite"])
def app(request):
    if request.param == "postgresql":
        return request.getfixturevalue("memberday_app")
    return request.getfixturevalue("memberday_sqlite_app")


def _edge_times(now, cfg):
    """Instants on and around every boundary of the stage windows, to the microsecond."""
    times = []
    for days in (cfg["STAGE_NEW_DAYS"], cfg["STAGE_ACTIVE_DAYS"], cfg["STAGE_AT_RISK_DAYS"]):
        for whole in (days, days + 1):
            edge = now - timedelta(days=whole)
            times += [edge - timedelta(microseconds=1), edge, edge + timedelta(microseconds=1),
                      edge - timedelta(hours=5), edge + timedelta(hours=5)]
    return times + [now, now + timedelta(days=2), now - timedelta(days=400)]


def _generate(app, count=400, seed=7):
    """Members with every shape of order history and tags, their times on the windows' edges."""
    rnd = random.Random(seed)
    cfg = app.config
    with app.app_context(), transaction() as session:
        edges = _edge_times(NOW, cfg) + _edge_times(NOW + timedelta(days=1, hours=3), cfg)
        for n in range(count):
            orders = rnd.choice([0, 0, 1, 1, 1, 2, 5])
            last = rnd.choice(edges) if orders or rnd.random() < 0.2 else None
            first = None
            if last is not None:
                first = last if orders <= 1 and rnd.random() < 0.7 else last - timedelta(days=rnd.choice([0, 1, 31, 90]))
            session.add(Member(
                name=f"M{n}", tier=rnd.choice(TIERS), tags=rnd.sample(TAGS, rnd.randint(0, 3)),
                orders_count=orders, first_order_at=first, last_order_at=last))


def _python_members(app, audience_, now):
    """The reference answer: every member loaded, the audience decided in Python."""
    def holds(m):
        tags = set(m.tags)
        return all([
            not audience_.tiers or m.tier in audience_.tiers,
            not audience_.stages or m.stage(now) in audience_.stages,
            set(audience_.tags_all) <= tags,
            not audience_.tags_any or bool(tags & set(audience_.tags_any)),
            not tags & set(audience_.tags_none),
            not audience_.last_order_before or (m.last_order_at is not None and m.last_order_at < audience_.last_order_before),
            not audience_.last_order_after or (m.last_order_at is not None and m.last_order_at >= audience_.last_order_after),
        ])
    return {m.id for m in db.session.scalars(sa.select(Member)) if holds(m)}


def test_the_stage_in_sql_agrees_with_member_stage_on_every_edge(app):
    _generate(app)
    nows = [NOW + timedelta(hours=h, microseconds=m) for h in (-30, -1, 0, 1, 27) for m in (-1, 0, 1)]
    nows += [NOW + timedelta(days=d) for d in (-61, -31, 30, 31, 60, 61)]
    seen = set()
    with app.app_context():
        for now in nows:
            in_sql = dict(db.session.execute(sa.select(Member.id, audience.stage_expression(now))).all())
            in_python = {m.id: m.stage(now) for m in db.session.scalars(sa.select(Member))}
            assert in_sql == in_python, now
            seen |= set(in_python.values())
    # The edges really do put members at every stage.
    assert seen == set(STAGES)


AUDIENCES = [
    Audience(),
    Audience(tiers=("gold", "platinum")),
    Audience(stages=("new",)),
    Audience(stages=("prospect",)),
    Audience(stages=("at_risk",)),
    Audience(stages=("lapsed",), tiers=("gold",)),
    Audience(stages=("active", "at_risk")),
    Audience(stages=("prospect", "lapsed"), tiers=("member",)),
    Audience(tags_all=("vip",)),
    Audience(tags_all=("vip", "熟客")),
    Audience(tags_any=("vi", 'quo"te')),
    Audience(tags_none=("vip",)),
    Audience(tags_all=("a b",), tags_none=("vi", "vip2")),
    Audience(tags_any=("vip", "vip2"), stages=("active",), tiers=("silver", "gold")),
    Audience(tags_any=("o'neil", "{x,y}"), tags_none=("c:\\dir",)),  # written into the statement: quoted
    Audience(tags_all=("o'neil", "c:\\dir")),
    Audience(last_order_before=NOW - timedelta(days=31)),
    Audience(last_order_after=NOW - timedelta(days=31)),
    Audience(last_order_after=NOW - timedelta(days=61), last_order_before=NOW - timedelta(days=30), tags_none=("vi",)),
]


@pytest.mark.parametrize("target", AUDIENCES, ids=range(len(AUDIENCES)))
def test_an_audience_in_sql_holds_exactly_the_members_python_picks(app, target):
    _generate(app)
    with app.app_context():
        expected = _python_members(app, target, NOW)
        assert set(db.session.scalars(audience.member_ids(target, NOW))) == expected
        assert audience.count(target, NOW) == len(expected)
        by_stage = audience.count_by_stage(target, NOW)
        assert sum(by_stage.values()) == len(expected) and set(by_stage) == set(STAGES)
        some = sorted(expected)[:3] + sorted(set(range(1, 401)) - expected)[:3]
        for member_id in some:
            assert audience.contains(target, member_id, NOW) == (member_id in expected)
        assert not audience.contains(target, 10_000, NOW)


def test_overlap_counts_each_audience_and_both(app):
    _generate(app)
    a, b = Audience(tags_any=("vip",)), Audience(stages=("active", "new"), tiers=("gold", "member"))
    with app.app_context():
        in_a, in_b = _python_members(app, a, NOW), _python_members(app, b, NOW)
        assert audience.overlap(a, b, NOW) == {"a": len(in_a), "b": len(in_b), "both": len(in_a & in_b)}
        assert len(in_a & in_b) > 0


def test_stage_counts_group_every_member(app):
    _generate(app)
    with app.app_context():
        expected = {stage: 0 for stage in STAGES}
        for m in db.session.scalars(sa.select(Member)):
            expected[m.stage(NOW)] += 1
        assert audience.count_by_stage(Audience(), NOW) == expected


def test_member_ids_feed_an_insert_select_snapshot(memberday_app):
    _generate(memberday_app, count=50)
    target = Audience(tags_all=("vip",))
    with memberday_app.app_context(), transaction() as session:
        session.execute(sa.text("CREATE TEMPORARY TABLE snapshot (member_id integer, stage text)"))
        ids = audience.member_ids(target, NOW).add_columns(audience.stage_expression(NOW))
        session.execute(sa.insert(sa.table("snapshot", sa.column("member_id"), sa.column("stage")))
                        .from_select(["member_id", "stage"], ids))
        rows = dict(session.execute(sa.text("SELECT member_id, stage FROM snapshot")).all())
        assert set(rows) == _python_members(memberday_app, target, NOW)
        assert all(rows[m.id] == m.stage(NOW) for m in session.scalars(sa.select(Member).where(Member.id.in_(rows))))


def test_tag_filters_use_the_gin_index_on_postgresql(memberday_app):
    with memberday_app.app_context():
        for target in (Audience(tags_all=("vip",)), Audience(tags_any=("vip", "vi"))):
            plan = query_plan(db.session, audience.member_ids(target, NOW))
            assert "ix_members_tags" in plan, plan


def test_an_audience_round_trips_through_its_dict_and_schema(memberday_app):
    target = Audience(tiers=("gold",), stages=("new", "active"), tags_all=("vip",), tags_any=("a", "b"),
                      tags_none=("x",), last_order_before=NOW, last_order_after=NOW - timedelta(days=3))
    assert Audience.from_dict(target.to_dict()) == target
    assert Audience.from_dict(None) == Audience.from_dict({}) == Audience()
    assert Audience().is_everyone and not target.is_everyone
    with memberday_app.test_request_context():
        schema = AudienceSchema()
        loaded = schema.load(schema.dump(target))
        assert Audience.from_dict(loaded) == target
        assert schema.dump(loaded) == schema.dump(target)
        assert schema.load({}) == Audience().to_dict()


@pytest.mark.parametrize("body, field", [
    ({"tiers": ["diamond"]}, "tiers"),
    ({"stages": ["sleeping"]}, "stages"),
    ({"tags_all": "vip"}, "tags_all"),
    ({"tags_any": [""]}, "tags_any"),
    ({"last_order_before": "2026-01-01T00:00:00"}, "last_order_before"),
])
def test_an_audience_with_unknown_parts_is_refused(memberday_app, body, field):
    from marshmallow import ValidationError

    with memberday_app.test_request_context(), pytest.raises(ValidationError) as error:
        AudienceSchema().load(body)
    assert field in error.value.messages


def test_preview_counts_an_audience_by_stage_and_its_overlap(memberday_app):
    _generate(memberday_app, count=120)
    client, token = memberday_app.test_client(), create_operator_token(memberday_app, "operator")
    body = {"audience": {"tags_any": ["vip"]}, "compare": {"stages": ["active", "new"]}}
    response = client.post("/api/v1/audiences/preview", headers=bearer(token), json=body)
    assert response.status_code == 200, response.get_json()
    result = response.get_json()
    with memberday_app.app_context():
        vip = _python_members(memberday_app, Audience(tags_any=("vip",)), None)
        buyers = _python_members(memberday_app, Audience(stages=("active", "new")), None)
    assert result["count"] == len(vip) == sum(result["by_stage"].values())
    assert result["overlap"] == {"a": len(vip), "b": len(buyers), "both": len(vip & buyers)}
    everyone = client.post("/api/v1/audiences/preview", headers=bearer(token), json={}).get_json()
    assert everyone["count"] == 120 and "overlap" not in everyone


def test_preview_is_for_operators_and_validates_its_body(memberday_app, member):
    client, token = memberday_app.test_client(), create_operator_token(memberday_app, "operator")
    assert client.post("/api/v1/audiences/preview", json={}).status_code == 401
    assert client.post("/api/v1/audiences/preview", headers=bearer(member["token"]), json={}).status_code == 403
    bad = client.post("/api/v1/audiences/preview", headers=bearer(token), json={"audience": {"stages": ["x"]}})
    assert bad.status_code == 400
    assert bad.get_json()["error"]["code"] == "validation_error"


def test_a_preview_with_junk_in_its_lists_is_a_validation_error(memberday_app):
    client, token = memberday_app.test_client(), create_operator_token(memberday_app, "operator")
    body = {"audience": {"tiers": ["0", 0, None, [None], "gold"], "stages": ["new", 3]}, "compare": None}
    response = client.post("/api/v1/audiences/preview", headers=bearer(token), json=body)
    assert response.status_code == 400
    assert set(response.get_json()["error"]["fields"]["audience"]) == {"tiers", "stages"}
