"""Every console page renders in each of the three languages, with nothing left in English."""
from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from core.testing import bearer

ROOT = Path(__file__).resolve().parents[2]
CATALOGS = [ROOT / "core" / "translations", ROOT / "plugins" / "referral" / "translations",
            ROOT / "plugins" / "points_mall" / "translations"]
HEADERS = {"zh_Hant": "zh-TW,zh;q=0.9", "zh_Hans": "zh-CN,zh;q=0.9", "en": "en-GB,en;q=0.8"}
LANG = {"zh_Hant": "zh-Hant", "zh_Hans": "zh-Hans", "en": "en"}


def english_phrases() -> set[str]:
    """The console's own English sentences and phrases (two words or more), as the catalogs list them."""
    phrases = set()
    for root in CATALOGS:
        with open(root / "zh_Hant" / "LC_MESSAGES" / "messages.po", "rb") as handle:
            for message in read_po(handle):
                text = message.id if isinstance(message.id, str) else message.id[0]
                if text and "%(" not in text and len(re.findall(r"[A-Za-z]{2,}", text)) >= 2:
                    phrases.add(text)
    return phrases


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<[^>]+>", " ", page)
    return re.sub(r"\s+", " ", html.unescape(page))


@pytest.fixture
def shop(console):
    """A little of everything, so that every page has rows to show."""
    admin = bearer(console.operator["token"])
    http = console.http
    member = http.post("/api/v1/members", json={"name": "王小明", "phone": "+886955000111"}).get_json()
    http.post("/api/v1/orders", headers=admin, json={"external_id": "L-1", "member_id": member["id"], "amount": "99"})
    template = http.post("/api/v1/coupon-templates", headers=admin, json={"title": "拿鐵", "valid_days": 5}).get_json()
    http.post(f"/api/v1/members/{member['id']}/coupons", headers=admin, json={"template_id": template["id"]})
    http.post("/api/v1/mall/items", headers=admin, json={"name": "咖啡券", "points_cost": 10, "stock": 3})
    return member


@pytest.mark.parametrize("locale", sorted(HEADERS))
def test_every_console_page_renders_in_each_language(console, shop, locale):
    from test_gate import console_rules

    phrases = english_phrases() if locale != "en" else set()
    pages = [url for endpoint, method, url in console_rules(console.app)
             if method == "GET" and endpoint not in {"console.static", "console.scan_lookup"}
             and "export" not in endpoint]
    pages.append(f"/console/members/{shop['id']}")
    for url in pages:
        response = console.get(url, headers={"Accept-Language": HEADERS[locale]})
        if response.status_code == 404:  # a page of a row the fixture did not make (e.g. order 1's refund)
            continue
        assert response.status_code == 200, (url, response.status_code)
        page = response.get_data(as_text=True)
        assert f'<html lang="{LANG[locale]}"' in page, url
        text = visible_text(page)
        left = sorted(phrase for phrase in phrases if phrase in text)
        assert not left, (locale, url, left)
