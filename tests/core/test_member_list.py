"""Operators find members by tier, stage, tags, last order and search, on PostgreSQL and SQLite."""
import random
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from core.database import transaction, utcnow
from core.extensions import db
from core.members import audience
from core.members.audience import Audience
from core.members.models import Member
from core.testing import bearer, create_operator_token, query_plan

TAGS = ["vip", "vi", "vip2", "熟客", "a b"]
NAMES = ["Chen Mei-ling", "Lin Wei", "Wang 50%_off", "Mei Chen", "Huang Li", "O'Brien", "back\\slash"]


@pytest.fixture(params=["postgresql", "sqlite"])
def app(request):
    if request.param == "postgresql":
        return request.getfixturevalue("memberday_app")
    return request.getfixturevalue("memberday_sqlite_app")


def _generate(app, count=150, seed=3):
    rnd = random.Random(seed)
    now = utcnow()
    with app.app_context(), transaction() as session:
        for n in range(count):
            orders = rnd.choice([0, 1, 1, 2, 4])
            last = now - timedelta(days=rnd.choice([1, 20, 29, 45, 59, 90, 300]), hours=rnd.randint(0, 23)) if orders else None
            session.add(Member(
                name=f"{rnd.choice(NAMES)} {n}", phone=f"+8869{n:08d}", email=f"m{n}@example.com",
                tier=rnd.choice(["member", "silver", "gold", "platinum"]), tags=rnd.sample(TAGS, rnd.randint(0, 3)),
                orders_count=orders, first_order_at=last - timedelta(days=rnd.choice([0, 40])) if last else None,
                last_order_at=last))


def _all_pages(client, token, **params):
    """Every member the list gives for ``params``, following ``next`` to the end."""
    ids, after = [], None
    while True:
        query = dict(params, per_page=40, **({"after": after} if after else {}))
        response = client.get(f"/api/v1/members?{urlencode(query)}", headers=bearer(token))
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        ids += [item["id"] for item in body["items"]]
        after = body["next"]
        if after is None:
            return ids


def _ids(query):
    return list(db.session.scalars(query.order_by(Member.id.desc())))


FILTERS = [
    ({"tier": "gold"}, lambda now: sa.select(Member.id).where(Member.tier == "gold")),
    ({"tier": "gold,platinum"}, lambda now: sa.select(Member.id).where(Member.tier.in_(["gold", "platinum"]))),
    ({"stage": "at_risk"}, lambda now: audience.member_ids(Audience(stages=("at_risk",)), now)),
    ({"stage": "new,prospect"}, lambda now: audience.member_ids(Audience(stages=("new", "prospect")), now)),
    ({"tag": "vip"}, lambda now: audience.member_ids(Audience(tags_all=("vip",)), now)),
    ({"tags_all": "vip,a b"}, lambda now: audience.member_ids(Audience(tags_all=("vip", "a b")), now)),
    ({"tag": "vip", "tags_all": "a b"}, lambda now: audience.member_ids(Audience(tags_all=("a b", "vip")), now)),
    ({"tags_any": "vi,熟客"}, lambda now: audience.member_ids(Audience(tags_any=("vi", "熟客")), now)),
    ({"tags_none": "vip,vi", "tier": "member"},
     lambda now: audience.member_ids(Audience(tags_none=("vip", "vi"), tiers=("member",)), now)),
    ({"last_order_after": "LAST30"}, lambda now: sa.select(Member.id).where(Member.last_order_at >= now - timedelta(days=30))),
    ({"last_order_before": "LAST30", "stage": "lapsed,at_risk"},
     lambda now: audience.member_ids(Audience(stages=("lapsed", "at_risk"), last_order_before=now - timedelta(days=30)), now)),
]


@pytest.mark.parametrize("params, expected", FILTERS, ids=[str(p) for p, _ in FILTERS])
def test_each_filter_lists_exactly_its_members_on_every_page(app, params, expected):
    _generate(app)
    client, token = app.test_client(), create_operator_token(app, "operator")
    now = utcnow()
    cut = (now - timedelta(days=30)).astimezone(timezone(timedelta(hours=8))).isoformat()
    params = {k: cut if v == "LAST30" else v for k, v in params.items()}
    listed = _all_pages(client, token, **params)
    with app.app_context():
        wanted = _ids(expected(now))
    assert listed == wanted and len(wanted) > 0
    counted = client.get(f"/api/v1/members?{urlencode(dict(params, count='exact'))}", headers=bearer(token)).get_json()
    assert counted["total"] == len(wanted)


def test_a_name_fragment_finds_what_the_old_search_found_by_name(app):
    _generate(app)
    client, token = app.test_client(), create_operator_token(app, "operator")
    with app.app_context():
        for fragment in ("mei", "CHEN", "50%_", "%", "_", "'b", "\\", "li 1",
                         # across words, in and out of their order, and with the characters the index swaps
                         "mei-ling", "chen mei", "n mei-l", "mei chen", "ei-l", "g 5", "0%_", "0", "1", "10",
                         "-", "n 1", "g 1", "n-"):
            old = sa.select(Member.id).where(Member.name.ilike(f"%{fragment}%")) if fragment not in "%_\\" else None
            found = _all_pages(client, token, q=fragment)
            # The old query read % and _ as wildcards; a fragment is now the text itself.
            python = [m.id for m in db.session.scalars(sa.select(Member).order_by(Member.id.desc()))
                      if fragment.lower() in m.name.lower()]
            assert found == python, fragment
            if old is not None and "%" not in fragment and "_" not in fragment:
                assert found == _ids(old)


def test_an_exact_phone_or_email_finds_that_member_alone(app):
    _generate(app)
    client, token = app.test_client(), create_operator_token(app, "operator")
    with app.app_context():
        member = db.session.scalars(sa.select(Member).where(Member.phone == "+886900000042")).one()
    for q in ("+886900000042", "+886 9000-00042", "M42@Example.com"):
        assert _all_pages(client, token, q=q) == [member.id], q
    # A fragment of a phone number is not a search for it.
    assert _all_pages(client, token, q="+88690000004") == []


def test_search_and_filters_use_their_indexes_on_postgresql(memberday_app):
    from core.members.services import search_condition

    with memberday_app.app_context():
        for q, index in (("Chen Mei", "ix_members_name_words_trgm"), ("mei", "ix_members_name_words_trgm"),
                         ("yi-ting chen", "ix_members_name_words_trgm"), ("+886900000042", "uq_members_phone"),
                         ("m1@example.com", "uq_members_email")):
            plan = query_plan(db.session, sa.select(Member.id).where(search_condition(q)))
            assert index in plan, plan


@pytest.mark.parametrize("query", [
    "tier=diamond", "stage=sleeping", "stage=new,", "tags_all=", "tags_any=,", "tag=", "colour=red",
    "tags=vip", "last_order_before=2026-01-01T00:00:00", "last_order_after=yesterday", "q=" + "x" * 101,
    "count=maybe", "after=%%%", "after=bm90IGEgY3Vyc29y", "page=2&after=WzFd", "page=201&per_page=50",
])
def test_a_bad_or_unknown_parameter_is_400_not_everyone(memberday_client, operator_token, query):
    response = memberday_client.get(f"/api/v1/members?{query}", headers=bearer(operator_token))
    assert response.status_code == 400, (query, response.get_json())
    assert response.get_json()["error"]["code"] == "validation_error"


@pytest.mark.parametrize("path", ["/api/v1/notifications", "/api/v1/coupon-templates", "/api/v1/referrals",
                                  "/api/v1/mall/redemptions", "/api/v1/plugins/referral/audit"])
def test_every_list_refuses_a_parameter_it_does_not_know(memberday_client, operator_token, path):
    response = memberday_client.get(f"{path}?colour=red", headers=bearer(operator_token))
    assert response.status_code == 400, (path, response.get_json())
    assert "colour" in response.get_json()["error"]["fields"]
