"""Idempotency-Key: a retried call returns the first answer and books nothing twice."""
from sqlalchemy import func, select

from core.extensions import db
from core.members.models import Member
from core.rewards.models import PointsEntry
from core.testing import bearer, run_concurrently


def _entries(app):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(PointsEntry))


def test_a_repeated_key_returns_the_first_response_and_books_once(memberday_client, memberday_app, operator_token,
                                                                   member):
    headers = {**bearer(operator_token), "Idempotency-Key": "grant-42"}
    url = f"/api/v1/members/{member['id']}/points"
    first = memberday_client.post(url, headers=headers, json={"points": 50, "reason": "apology"})
    second = memberday_client.post(url, headers=headers, json={"points": 50, "reason": "apology"})
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert second.headers.get("Idempotent-Replayed") == "true"
    assert _entries(memberday_app) == 1
    with memberday_app.app_context():
        assert db.session.get(Member, member["id"]).points_balance == 50


def test_the_same_key_with_another_body_is_refused(memberday_client, operator_token, member):
    headers = {**bearer(operator_token), "Idempotency-Key": "grant-43"}
    url = f"/api/v1/members/{member['id']}/points"
    memberday_client.post(url, headers=headers, json={"points": 50, "reason": "apology"})
    other = memberday_client.post(url, headers=headers, json={"points": 500, "reason": "apology"})
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"


def test_the_same_key_sent_concurrently_books_once(memberday_app, operator_token, member):
    headers = {**bearer(operator_token), "Idempotency-Key": "grant-44"}

    def grant(i):
        response = memberday_app.test_client().post(f"/api/v1/members/{member['id']}/points", headers=headers,
                                                    json={"points": 30, "reason": "retry storm"})
        return response.status_code, response.get_json()

    results = run_concurrently(grant, 12)
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    assert _entries(memberday_app) == 1


def test_a_refusal_is_remembered_for_the_key(memberday_client, memberday_app, operator_token, member):
    headers = {**bearer(operator_token), "Idempotency-Key": "spend-1"}
    url = f"/api/v1/members/{member['id']}/points"
    refused = memberday_client.post(url, headers=headers, json={"points": -10, "reason": "too early"})
    assert refused.status_code == 409
    memberday_client.post(url, headers=bearer(operator_token), json={"points": 100, "reason": "order"})
    again = memberday_client.post(url, headers=headers, json={"points": -10, "reason": "too early"})
    assert again.status_code == 409
    assert again.get_json() == refused.get_json()
    with memberday_app.app_context():
        assert db.session.get(Member, member["id"]).points_balance == 100


def test_keys_are_scoped_to_the_caller(memberday_client, memberday_app, operator_token, member):
    from core.testing import create_operator_token

    other_token = create_operator_token(memberday_app, "operator")
    url = f"/api/v1/members/{member['id']}/points"
    body = {"points": 5, "reason": "same key, two callers"}
    a = memberday_client.post(url, headers={**bearer(operator_token), "Idempotency-Key": "k"}, json=body)
    b = memberday_client.post(url, headers={**bearer(other_token), "Idempotency-Key": "k"}, json=body)
    assert a.status_code == b.status_code == 201
    assert a.get_json()["id"] != b.get_json()["id"]


def test_an_unusable_key_is_a_validation_error(memberday_client, operator_token, member):
    response = memberday_client.post(f"/api/v1/members/{member['id']}/points",
                                     headers={**bearer(operator_token), "Idempotency-Key": "x" * 256},
                                     json={"points": 5, "reason": "r"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "validation_error"


def test_a_retried_refund_with_its_key_returns_the_first_answer(memberday_client, operator_token, member):
    headers = bearer(operator_token)
    memberday_client.post("/api/v1/orders", headers=headers,
                          json={"external_id": "R-9", "member_id": member["id"], "amount": "40"})
    keyed = {**headers, "Idempotency-Key": "refund-R-9"}
    first = memberday_client.post("/api/v1/orders/R-9/refund", headers=keyed)
    retry = memberday_client.post("/api/v1/orders/R-9/refund", headers=keyed)
    assert first.status_code == retry.status_code == 200
    assert first.get_json() == retry.get_json()
    unkeyed = memberday_client.post("/api/v1/orders/R-9/refund", headers=headers)
    assert unkeyed.status_code == 409


def test_long_keys_are_exact_under_concurrency(memberday_app, operator_token, member):
    shared = "k" * 240

    def grant(i):
        headers = {**bearer(operator_token), "Idempotency-Key": f"{shared}{i:010d}"}
        response = memberday_app.test_client().post(f"/api/v1/members/{member['id']}/points", headers=headers,
                                                    json={"points": 1, "reason": "long keys"})
        return response.status_code, response.get_json()["id"]

    results = run_concurrently(grant, 100)
    assert [status for status, _ in results] == [201] * 100
    assert len({entry_id for _, entry_id in results}) == 100
    assert _entries(memberday_app) == 100
    with memberday_app.app_context():
        assert db.session.get(Member, member["id"]).points_balance == 100


def test_a_key_of_255_printable_characters_works(memberday_client, operator_token, member):
    headers = {**bearer(operator_token), "Idempotency-Key": "é" + "~" * 254}
    url = f"/api/v1/members/{member['id']}/points"
    first = memberday_client.post(url, headers=headers, json={"points": 3, "reason": "edge"})
    again = memberday_client.post(url, headers=headers, json={"points": 3, "reason": "edge"})
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json() == again.get_json()


def test_a_purged_key_used_for_another_member_books_for_that_member(memberday_client, memberday_app, operator_token,
                                                                    member):
    from datetime import timedelta

    from core.database import utcnow
    from core.idempotency import purge_old_keys

    other = memberday_client.post("/api/v1/members", json={"name": "Other"}).get_json()
    headers = {**bearer(operator_token), "Idempotency-Key": "monthly-goodwill"}
    body = {"points": 7, "reason": "goodwill"}
    first = memberday_client.post(f"/api/v1/members/{member['id']}/points", headers=headers, json=body)
    assert first.status_code == 201
    with memberday_app.app_context():
        assert purge_old_keys(now=utcnow() + timedelta(days=30)) == 1
    second = memberday_client.post(f"/api/v1/members/{other['id']}/points", headers=headers, json=body)
    assert second.status_code == 201
    assert second.get_json()["id"] != first.get_json()["id"]
    with memberday_app.app_context():
        assert db.session.get(Member, other["id"]).points_balance == 7
        assert db.session.get(Member, member["id"]).points_balance == 7


def test_the_same_key_on_another_endpoint_is_its_own(memberday_client, memberday_app, operator_token, member):
    headers = {**bearer(operator_token), "Idempotency-Key": "shared-key"}
    grant = memberday_client.post(f"/api/v1/members/{member['id']}/points", headers=headers,
                                  json={"points": 40, "reason": "one"})
    order = memberday_client.post("/api/v1/orders", headers=headers,
                                  json={"external_id": "EP-1", "member_id": member["id"], "amount": "10"})
    assert grant.status_code == order.status_code == 201
    assert "Idempotent-Replayed" not in order.headers


def test_the_same_json_in_another_key_order_is_the_same_body(memberday_client, operator_token, member):
    headers = {**bearer(operator_token), "Idempotency-Key": "order-of-keys", "Content-Type": "application/json"}
    url = f"/api/v1/members/{member['id']}/points"
    first = memberday_client.post(url, headers=headers, data='{"points": 9, "reason": "same"}')
    again = memberday_client.post(url, headers=headers, data='{ "reason" : "same", "points" : 9 }')
    assert first.status_code == again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.get_json() == again.get_json()
