from core.testing import bearer


def test_member_joins_and_reads_own_profile(memberday_client, member):
    response = memberday_client.get(f"/api/v1/members/{member['id']}", headers=bearer(member["token"]))
    assert response.status_code == 200
    assert response.get_json()["stage"] == "prospect"


def test_sqlite_default_runs_the_same_api(memberday_sqlite_app):
    client = memberday_sqlite_app.test_client()
    response = client.post("/api/v1/members", json={"name": "Lin"})
    assert response.status_code == 201
