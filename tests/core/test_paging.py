"""Every list that can grow pages by cursor at any depth, and by page for the first pages."""
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa

from core.database import transaction
from core.extensions import db
from core.members.models import Member
from core.notifications import services as notifications
from core.rewards import services as ledger
from core.testing import bearer, create_operator_token, query_plan

ROWS = 67  # not a multiple of any page size used below


def _members(n):
    with transaction() as session:
        members = [Member(name=f"P{i}", tags=[]) for i in range(n)]
        session.add_all(members)
    return [m.id for m in members]


@pytest.fixture
def lists(memberday_app):
    """One member with a long history in every list, and what the old queries return for each."""
    from plugins.points_mall.models import MallItem, Redemption
    from plugins.referral.models import Referral

    with memberday_app.app_context():
        owner, *others = _members(ROWS + 1)
        template = ledger.create_template("Tea")
        for i in range(ROWS):
            ledger.credit(owner, 1, "test", f"paging:{i}")
            ledger.issue_coupon(owner, template.id, source=f"paging:{i}")
            notifications.notify(owner, f"N{i}")
            notifications.notify_operators(f"O{i}")
        with transaction() as session:
            item = MallItem(name="Mug", points_cost=1)
            session.add(item)
            session.flush()
            for i, other in enumerate(others):
                session.add(Referral(referrer_id=owner, referee_id=other, code="X", status="pending"))
                session.add(Redemption(member_id=owner, item_id=item.id, quantity=1, unit_cost=1, points_spent=1))
        # The old queries: each list's service query, whole, newest first.
        from plugins.points_mall.services import redemption_list
        from plugins.referral.services import referrals_query

        def ids(query):
            return [row.id for row in db.session.scalars(query)]

        expected = {
            "/api/v1/members": list(db.session.scalars(sa.select(Member.id).order_by(Member.id.desc()))),
            f"/api/v1/members/{owner}/points": ids(ledger.history(owner)),
            f"/api/v1/members/{owner}/coupons": ids(sa.select(ledger.Coupon).where(ledger.Coupon.member_id == owner)
                                                    .order_by(ledger.Coupon.id.desc())),
            f"/api/v1/members/{owner}/notifications": ids(notifications.inbox(owner)),
            "/api/v1/notifications": ids(notifications.operators_inbox()),
            f"/api/v1/referrals?referrer_id={owner}": ids(referrals_query(owner)),
            f"/api/v1/mall/redemptions?member_id={owner}": ids(redemption_list(owner)),
        }
    return expected


def _get(client, token, path, **params):
    joiner = "&" if "?" in path else "?"
    response = client.get(f"{path}{joiner}{urlencode(params)}" if params else path, headers=bearer(token))
    assert response.status_code == 200, (path, params, response.get_json())
    return response.get_json()


def _by_cursor(client, token, path, per_page):
    ids, after, pages = [], None, 0
    while True:
        body = _get(client, token, path, per_page=per_page, **({"after": after} if after else {}))
        assert "total" not in body  # no COUNT unless asked for
        ids += [item["id"] for item in body["items"]]
        pages += 1
        after = body["next"]
        if after is None:
            return ids, pages


def test_cursor_pages_and_numbered_pages_give_exactly_the_old_lists(memberday_app, lists):
    client, token = memberday_app.test_client(), create_operator_token(memberday_app, "admin")
    for path, expected in lists.items():
        assert len(expected) >= ROWS, path
        for per_page in (1, 10, ROWS, 200):
            ids, pages = _by_cursor(client, token, path, per_page)
            assert ids == expected, (path, per_page)
            assert pages == max(1, -(-len(expected) // per_page))
        numbered = []
        for page in range(1, 9):
            numbered += [item["id"] for item in _get(client, token, path, per_page=10, page=page)["items"]]
        assert numbered == expected[:80], path
        assert _get(client, token, path, count="exact", per_page=5)["total"] == len(expected)


def test_a_numbered_page_hands_over_to_the_cursor(memberday_app, lists):
    client, token = memberday_app.test_client(), create_operator_token(memberday_app, "admin")
    path = next(p for p in lists if p.endswith("/points"))
    second = _get(client, token, path, per_page=10, page=2)
    rest = _get(client, token, path, per_page=100, after=second["next"])
    assert [item["id"] for item in second["items"] + rest["items"]] == lists[path][10:]


def test_no_member_is_skipped_or_repeated_while_members_join(memberday_app):
    client, token = memberday_app.test_client(), create_operator_token(memberday_app, "admin")
    with memberday_app.app_context():
        before = set(_members(95))
    seen, after = [], None
    while True:
        body = _get(client, token, "/api/v1/members", per_page=10, **({"after": after} if after else {}))
        seen += [item["id"] for item in body["items"]]
        with memberday_app.app_context():
            _members(7)  # others join between every two pages
        after = body["next"]
        if after is None:
            break
    assert len(seen) == len(set(seen)) and set(seen) == before


def test_each_list_pages_along_an_index_on_postgresql(memberday_app):
    from core.notifications.models import Notification
    from core.rewards.models import Coupon, PointsEntry
    from plugins.points_mall.models import Redemption
    from plugins.referral.models import Referral

    cases = [
        (sa.select(PointsEntry).where(PointsEntry.member_id == 1), PointsEntry.id, "ix_points_entries_member_id"),
        (sa.select(Coupon).where(Coupon.member_id == 1), Coupon.id, "ix_coupons_member_id"),
        (sa.select(Notification).where(Notification.member_id == 1, Notification.audience == "member"),
         Notification.id, "ix_notifications_member_id"),
        (sa.select(Notification).where(Notification.audience == "operators"), Notification.id,
         "ix_notifications_operators"),
        (sa.select(Referral).where(Referral.referrer_id == 1), Referral.id, "ix_referral_referrals_referrer_id"),
        (sa.select(Redemption).where(Redemption.member_id == 1), Redemption.id, "ix_points_mall_redemptions_member_id"),
    ]
    with memberday_app.app_context():
        for query, key, index in cases:
            plan = query_plan(db.session, query.where(key < 1000).order_by(key.desc()).limit(51))
            assert index in plan and "Sort" not in plan, plan
