"""The catalogs hold every marked string, translated, and their .mo is what the .po says.

The marked strings are extracted here with Babel (as ``make translations`` does,
following babel.cfg) from the core and each built-in plugin. A string marked in a
template or in Python but missing from a locale's .po, an entry left untranslated
or fuzzy in zh_Hant or zh_Hans, a translation whose placeholders do not match the
source, or a .mo that is not the compiled .po (out of date: ``make translations``)
fails here. The .mo is compared by content, not by file time (a checkout does not
keep file times).
"""
import pytest

from core import catalogs

SOURCES = {source.name: source for source in catalogs.built_in()}


@pytest.fixture(scope="module", params=sorted(SOURCES))
def source(request):
    return SOURCES[request.param]


@pytest.fixture(scope="module")
def marked(source):
    return catalogs.extract(source)


def test_the_built_in_catalogs_are_all_checked():
    assert {"core", "plugins.referral", "plugins.points_mall", "plugins.member_week",
            "plugins.offline_events", "memberday_birthday_gift"} <= set(SOURCES)


def test_the_core_catalog_leaves_the_console_out():
    marked = catalogs.extract(SOURCES["core"])
    assert not [loc for message in marked for loc, _ in message.locations if loc.startswith("console/")]
    assert marked.get("Welcome to %(brand)s") is not None


def missing_from_catalog(source, marked, locale) -> list:
    """The marked strings that ``source``'s catalog for ``locale`` does not hold."""
    catalog = catalogs.read(source.po_path(locale), locale)
    return [message.id for message in marked if message.id and catalog.get(message.id, message.context) is None]


@pytest.mark.parametrize("locale", catalogs.LOCALES)
def test_every_marked_string_is_in_the_catalog(source, marked, locale):
    path = source.po_path(locale)
    assert path.exists(), f"{path} is missing: run make translations"
    missing = missing_from_catalog(source, marked, locale)
    assert not missing, f"{source.name} {locale}: not in the catalog (run make translations): {missing}"


@pytest.mark.parametrize("locale", catalogs.MUST_TRANSLATE)
def test_chinese_catalogs_are_translated(source, marked, locale):
    catalog = catalogs.read(source.po_path(locale), locale)
    untranslated = [message.id for message in catalog
                    if message.id and (message.fuzzy or not all(
                        message.string if isinstance(message.string, (tuple, list)) else (message.string,)))]
    assert not untranslated, f"{source.name} {locale}: untranslated or fuzzy: {untranslated}"


@pytest.mark.parametrize("locale", catalogs.LOCALES)
def test_translations_keep_their_placeholders(source, locale):
    catalog = catalogs.read(source.po_path(locale), locale)
    problems = [(message.id, [str(error) for error in errors]) for message, errors in catalog.check()]
    assert not problems, f"{source.name} {locale}: {problems}"


@pytest.mark.parametrize("locale", catalogs.LOCALES)
def test_the_compiled_catalog_is_the_po(source, locale):
    mo_path = source.mo_path(locale)
    assert mo_path.exists(), f"{mo_path} is missing: run make translations"
    with mo_path.open("rb") as fileobj:
        on_disk = catalogs.mo_messages(fileobj)
    assert on_disk == catalogs.compiled(catalogs.read(source.po_path(locale), locale)), \
        f"{mo_path} is out of date: run make translations"


def test_the_check_notices_a_missing_string(tmp_path):
    """The checks above can fail: a string marked after the catalog was made is reported missing, and
    the catalog's entries, once made, are reported untranslated."""
    folder = tmp_path / "plugin"
    (folder / "templates").mkdir(parents=True)
    (folder / "views.py").write_text('from core.i18n import _\nTEXT = _("Only in the code")\n')
    source = catalogs.Source("plugin", folder)
    catalogs.update(source)  # the catalog of the code as it was
    (folder / "templates" / "page.html").write_text('<p>{{ _("Only in the page") }}</p>')  # marked later
    marked = catalogs.extract(source)
    assert {message.id for message in marked if message.id} == {"Only in the code", "Only in the page"}
    for locale in catalogs.LOCALES:
        assert missing_from_catalog(source, marked, locale) == ["Only in the page"]

    catalogs.update(source)
    assert all(missing_from_catalog(source, marked, locale) == [] for locale in catalogs.LOCALES)
    assert catalogs.untranslated(source) == {"zh_Hant": 2, "zh_Hans": 2}


def test_a_scaffolded_plugin_comes_with_its_catalog(tmp_path):
    """``memberday plugins new`` writes the translations hook and a catalog of the strings it marks."""
    from core.plugins.kit import new_plugin, plugin_names

    folder = new_plugin("lucky_draw", tmp_path)
    package = folder / plugin_names("lucky_draw")["package"]
    assert 'return str(HERE / "translations")' in (package / "__init__.py").read_text()
    source = catalogs.Source("lucky_draw", package)
    marked = {message.id for message in catalogs.extract(source) if message.id}
    assert "Notes so far" in marked
    for locale in catalogs.LOCALES:
        catalog = catalogs.read(source.po_path(locale), locale)
        assert marked <= {message.id for message in catalog if message.id}
        assert source.mo_path(locale).is_file()


def test_a_string_has_one_translation_across_the_catalogs():
    """The app merges every catalog into one (the core's, then each plugin's): the same English in
    two catalogs must not be translated two ways, or the last plugin's wins on every page."""
    seen, clashes = {}, []
    for source in SOURCES.values():
        for locale in catalogs.MUST_TRANSLATE:
            for message in catalogs.read(source.po_path(locale), locale):
                if not message.id:
                    continue
                key = (locale, message.context, str(message.id))
                value = str(message.string)
                if key in seen and seen[key][1] != value:
                    clashes.append((key, seen[key], (source.name, value)))
                seen.setdefault(key, (source.name, value))
    assert not clashes, clashes
