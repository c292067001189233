"""Without a pre-ping per request, a connection PostgreSQL closed fails one request cleanly (503 with
Retry-After, nothing written) and the pool replaces its connections: the retry is served."""
from sqlalchemy import text

from core.testing import bearer


def test_a_dead_connection_fails_one_request_cleanly_and_the_retry_is_served(memberday_app, memberday_client,
                                                                              member):
    from core.extensions import db

    url, headers = f"/api/v1/members/{member['id']}/points", bearer(member["token"])
    assert memberday_client.get(url, headers=headers).status_code == 200
    with memberday_app.app_context():
        assert not db.engine.pool._pre_ping
        db.session.remove()
    import psycopg

    with psycopg.connect(memberday_app.config["DATABASE_URL"], autocommit=True) as admin:
        # What a restart does to the pool's idle connections (the plugin listener reconnects on its own).
        killed = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND application_name <> 'memberday-plugin-listener'").fetchone()[0]
    assert killed >= 1

    answers = [memberday_client.get(url, headers=headers) for _ in range(3)]
    statuses = [answer.status_code for answer in answers]
    assert statuses[0] == 503 and statuses[1:] == [200, 200]
    for answer in answers:
        if answer.status_code == 503:
            assert answer.headers["Retry-After"] and answer.get_json()["error"]["code"] == "unavailable"
