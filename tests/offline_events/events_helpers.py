"""Plain helpers for the offline events tests (the fixtures live in conftest)."""
from __future__ import annotations

import uuid


def sign_up(client, event_id: int, member: dict, headers: dict | None = None):
    return client.post(f"/api/v1/events/{event_id}/registrations", json={"member_id": member["id"]},
                       headers=headers or member["headers"])


def scan(client, headers: dict, event_id: int, ticket: str, nonce: str | None = None):
    return client.post("/api/v1/checkins", headers=headers,
                       json={"event_id": event_id, "ticket": ticket, "nonce": nonce or uuid.uuid4().hex})


def balance(client, member: dict) -> int:
    response = client.get(f"/api/v1/members/{member['id']}/points", headers=member["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["balance"]


def coupons(client, member: dict) -> list[dict]:
    response = client.get(f"/api/v1/members/{member['id']}/coupons", headers=member["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def inbox(client, member: dict) -> list[dict]:
    response = client.get(f"/api/v1/members/{member['id']}/notifications", headers=member["headers"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def message(client, headers: dict, sender: str, text: str, message_id: str | None = None):
    response = client.post("/api/v1/messages", headers=headers,
                           json={"channel": "wechat", "from": sender, "text": text,
                                 "message_id": message_id or uuid.uuid4().hex})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["reply"]
