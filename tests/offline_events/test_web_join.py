"""Joining from an event's page on the web: the phone is verified by a code, then the event's page."""
from urllib.parse import urlsplit

from core.testing import csrf_token, join_browser


def test_joining_from_an_event_page_verifies_the_phone_then_shows_the_event(memberday_app, new_event):
    event = new_event()
    browser = memberday_app.test_client()
    no_phone = browser.post(f"/e/{event['id']}/join", data={"csrf_token": csrf_token(browser), "name": "Lin"})
    assert no_phone.status_code == 400  # a name alone joins nobody
    joined = join_browser(browser, f"/e/{event['id']}/join", name="Lin")
    assert joined.status_code == 303 and urlsplit(joined.headers["Location"]).path == f"/e/{event['id']}"
    page = browser.get(f"/e/{event['id']}")
    assert page.status_code == 200 and event["title"] in page.get_data(as_text=True)
    assert browser.get("/me").status_code == 200  # signed in
