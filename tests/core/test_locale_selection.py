"""Which language a request is answered in: saved preference, Accept-Language, brand default."""
import pytest

from config import defaults
from core.i18n import html_lang, normalise


@pytest.mark.parametrize("tag, locale", [
    ("zh-TW", "zh_Hant"), ("zh-HK", "zh_Hant"), ("zh-Hant", "zh_Hant"), ("zh_Hant_TW", "zh_Hant"),
    ("zh-CN", "zh_Hans"), ("zh-SG", "zh_Hans"), ("zh-Hans", "zh_Hans"), ("zh", "zh_Hant"),
    ("en", "en"), ("en-GB", "en"), ("EN-us", "en"), ("fr", None), ("", None), (None, None),
    ("x" * 40, None), ("-", None),
])
def test_tags_map_to_the_three_locales(tag, locale):
    assert normalise(tag) == locale


def test_the_brand_default_is_traditional_chinese():
    assert normalise(defaults.BRAND_LOCALE) == "zh_Hant"


@pytest.mark.parametrize("header, lang", [
    ("zh-TW,zh;q=0.9,en;q=0.5", "zh-Hant"), ("zh-CN", "zh-Hans"), ("en-US,en;q=0.9", "en"),
    ("fr-FR, de;q=0.8", "en"),  # nothing we have: the brand's (the suite's brand speaks English)
    ("fr, zh-CN;q=0.4", "zh-Hans"),  # the first language we have, in the browser's order
])
def test_html_lang_follows_accept_language(memberday_client, header, lang):
    page = memberday_client.get("/", headers={"Accept-Language": header})
    assert page.status_code == 200
    assert f'<html lang="{lang}">' in page.get_data(as_text=True)


def test_html_lang_names_each_locale():
    assert [html_lang(locale) for locale in ("zh_Hant", "zh_Hans", "en")] == ["zh-Hant", "zh-Hans", "en"]
