"""Small helpers the plugin host tests share: registering test plugins and reading the API."""
import time

from core.testing import bearer


def register(app, *plugins):
    """Register test plugins on the app's host, as discovery would."""
    from core.plugins.host import current_host

    with app.app_context():
        for plugin in plugins:
            record = current_host().add(plugin)
            assert record.status == "ok", record.error
    return plugins


def plugin(client, token, plugin_id):
    response = client.get(f"/api/v1/plugins/{plugin_id}", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def patch_plugin(client, token, plugin_id, **body):
    return client.patch(f"/api/v1/plugins/{plugin_id}", json=body, headers=bearer(token))


def report_order(client, token, member_id, external_id, amount="100.00"):
    return client.post("/api/v1/orders", headers=bearer(token),
                       json={"external_id": external_id, "member_id": member_id, "amount": amount})


def operator_notes(client, token) -> list[str]:
    response = client.get("/api/v1/notifications?per_page=200", headers=bearer(token))
    assert response.status_code == 200
    return [note["title"] for note in response.get_json()["items"]]


def audit(client, token, plugin_id) -> list[dict]:
    response = client.get(f"/api/v1/plugins/{plugin_id}/audit", headers=bearer(token))
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]



def eventually(check, within: float = 5.0) -> bool:
    """Poll ``check`` until it holds or ``within`` seconds pass; its last answer."""
    deadline = time.monotonic() + within
    while True:
        if check():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)


def send(client, token, text, message_id, sender="+886900000001"):
    """An inbound message through the API; the reply."""
    response = client.post("/api/v1/messages", headers=bearer(token),
                           json={"channel": "sms", "from": sender, "text": text, "message_id": message_id})
    assert response.status_code == 200, response.get_json()
    return response.get_json()["reply"]
