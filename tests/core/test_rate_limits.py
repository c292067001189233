"""Named rate limits: share-link guessing, joins, sign-in, messages and token writes are slowed down."""
from __future__ import annotations

import secrets

import pytest

from core import ratelimit
from core.testing import bearer, create_operator_token, csrf_token


@pytest.fixture
def limited(memberday_app):
    """The app with rate limits on, as in production (the suite runs with them off)."""
    memberday_app.config["RATE_LIMITS_ENABLED"] = True
    ratelimit.limiter.reset()
    yield memberday_app
    ratelimit.limiter.reset()


def _from(address: str) -> dict:
    return {"REMOTE_ADDR": address}


def test_share_link_guessing_is_refused_long_before_four_hundred_guesses(limited):
    client = limited.test_client()
    statuses = []
    for _ in range(400):
        response = client.get(f"/r/{secrets.token_urlsafe(6)}", environ_base=_from("203.0.113.7"))
        statuses.append(response.status_code)
        if response.status_code == 429:
            refused = response
    first = statuses.index(429)
    assert first <= 30  # the default share_link limit is 30 a minute
    assert statuses[first:].count(429) == len(statuses) - first
    assert int(refused.headers["Retry-After"]) > 0
    assert refused.get_json()["error"]["code"] == "rate_limited"
    # Another visitor is not held up by the guesser.
    assert client.get(f"/r/{secrets.token_urlsafe(6)}", environ_base=_from("198.51.100.2")).status_code == 404


def test_limits_are_settings_by_name(limited):
    limited.config["RATE_LIMITS"] = {"join": "2/minute"}
    client = limited.test_client()
    statuses = [client.post("/api/v1/members", json={"name": f"J{i}"}, environ_base=_from("203.0.113.8")).status_code
                for i in range(3)]
    assert statuses == [201, 201, 429]


def test_switched_off_nothing_is_limited(memberday_app):
    memberday_app.config.update(RATE_LIMITS_ENABLED=False, RATE_LIMITS={"join": "1/minute"})
    client = memberday_app.test_client()
    assert [client.post("/api/v1/members", json={"name": f"K{i}"}).status_code for i in range(3)] == [201] * 3


def test_sign_in_attempts_are_limited_per_address(limited, member, one_time_code):
    limited.config["RATE_LIMITS"] = {"sign_in": "3/minute"}
    client = limited.test_client()
    token = csrf_token(client, "/me/login")
    assert client.post("/me/login", data={"csrf_token": token, "phone": member["phone"]},
                       environ_base=_from("203.0.113.9")).status_code == 303
    wrong = f"{(int(one_time_code(member['phone'])) + 1) % 1_000_000:06d}"
    statuses = [client.post("/me/login/code", data={"csrf_token": token, "code": wrong},
                            environ_base=_from("203.0.113.9")).status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_token_writes_are_counted_per_token_not_per_address(limited, member):
    limited.config["RATE_LIMITS"] = {"api_write": "2/minute"}
    first, second = create_operator_token(limited, "admin"), create_operator_token(limited, "admin")
    client = limited.test_client()

    def adjust(token):
        return client.post(f"/api/v1/members/{member['id']}/points", headers=bearer(token),
                           json={"points": 1, "reason": "limit test"}, environ_base=_from("203.0.113.10")).status_code

    assert [adjust(first), adjust(first), adjust(first)] == [201, 201, 429]
    assert adjust(second) == 201  # same address, another operator: a budget of its own
    # An unknown token does not buy a fresh budget: it is simply not let in.
    assert adjust("op_" + secrets.token_urlsafe(32)) == 401
    # Reads are not writes.
    assert client.get(f"/api/v1/members/{member['id']}", headers=bearer(first)).status_code == 200


def test_messages_and_qr_images_have_limits_of_their_own(limited, operator_token):
    limited.config["RATE_LIMITS"] = {"messages": "1/minute", "qr": "1/minute"}
    client = limited.test_client()
    body = {"channel": "sms", "from": "+886912345678", "text": "hi"}
    assert client.post("/api/v1/messages", headers=bearer(operator_token),
                       json=dict(body, message_id="a")).status_code == 200
    assert client.post("/api/v1/messages", headers=bearer(operator_token),
                       json=dict(body, message_id="b")).status_code == 429
    assert client.get("/r/nope/qr.png").status_code == 404
    assert client.get("/r/nope/qr.png").status_code == 429


def test_an_unknown_limit_name_is_refused():
    with pytest.raises(ValueError):
        ratelimit.limit("everything")


def test_counters_live_in_redis_when_redis_is_configured(memberday_database_url):
    from core.testing import TEST_REDIS, make_app

    app = make_app(memberday_database_url, REDIS_URL=TEST_REDIS)
    assert type(ratelimit.limiter.storage).__name__.lower().startswith("redis")
    assert app.config["RATELIMIT_STORAGE_URI"] == TEST_REDIS
