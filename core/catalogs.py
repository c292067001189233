"""The message catalogs: extract, update and compile them (``make translations``).

Each catalog is a source folder and its ``translations/`` folder: the core's
(``core/``, leaving out ``core/console/``, which keeps its own), each built-in
plugin's (``plugins/<id>/``) and the example plugin's. For each one this
extracts the marked strings with Babel into ``translations/messages.pot``
(following ``babel.cfg``), updates ``<locale>/LC_MESSAGES/messages.po`` for
``zh_Hant``, ``zh_Hans`` and ``en``, and compiles the ``.mo`` beside it.

``python -m core.catalogs`` does all of them; ``python -m core.catalogs DIR
[DIR…]`` does the source folders given (a third-party plugin's package: its
catalog goes to ``DIR/translations``). The suite's catalog check
(``tests/core/test_catalogs.py``) calls :func:`extract` and :func:`compiled`
to find strings missing from a catalog, untranslated, or not compiled.
"""
from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
MAPPING = ROOT / "babel.cfg"
LOCALES = ("zh_Hant", "zh_Hans", "en")
# Chinese must be complete; English is the source language, so an empty msgstr means the msgid.
MUST_TRANSLATE = ("zh_Hant", "zh_Hans")
KEYWORDS = {**DEFAULT_KEYWORDS, "lazy_": None, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}
# Folders never read for strings (besides hidden ones): caches, migrations, the plugin scaffold.
SKIPPED_DIRECTORIES = {"__pycache__", "migrations", "translations", "plugin_template", "static", "tests"}
PROJECT = "Memberday"
HEADER = ("# Memberday's messages. Made by `make translations` (core/catalogs.py):\n"
          "# write translations in the .po files; the .pot and .mo are generated.")


@dataclass(frozen=True)
class Source:
    """A folder whose marked strings make one catalog in ``translations``."""

    name: str
    folder: Path
    skip: tuple[str, ...] = ()

    @property
    def translations(self) -> Path:
        return self.folder / "translations"

    def po_path(self, locale: str) -> Path:
        return self.translations / locale / "LC_MESSAGES" / "messages.po"

    def mo_path(self, locale: str) -> Path:
        return self.translations / locale / "LC_MESSAGES" / "messages.mo"


def built_in() -> list[Source]:
    """The core's catalog, each built-in plugin's, and the example plugin's."""
    sources = [Source("core", ROOT / "core", skip=("console",))]
    plugins = ROOT / "plugins"
    for folder in sorted(p for p in plugins.iterdir() if (p / "__init__.py").is_file()):
        sources.append(Source(f"plugins.{folder.name}", folder))
    example = ROOT / "examples" / "birthday_gift" / "memberday_birthday_gift"
    if example.is_dir():
        sources.append(Source("memberday_birthday_gift", example))
    return sources


# babel.cfg's rules, for an installed Memberday (which ships no babel.cfg): Python and Jinja templates.
METHOD_MAP = [("**.py", "python"), ("**/templates/**.html", "jinja2")]


def _method_map():
    if MAPPING.is_file():
        with MAPPING.open(encoding="utf-8") as fileobj:
            return parse_mapping_cfg(fileobj, filename=str(MAPPING))
    return METHOD_MAP, {}


def extract(source: Source) -> Catalog:
    """The strings ``source`` marks, as a template catalog (what ``messages.pot`` holds)."""
    method_map, options_map = _method_map()
    skipped = SKIPPED_DIRECTORIES | set(source.skip)

    def keep(path: str) -> bool:
        name = Path(path).name
        return not (name.startswith((".", "_")) or name in skipped)

    catalog = Catalog(project=PROJECT, charset="utf-8", fuzzy=False, header_comment=HEADER)
    found = extract_from_dir(str(source.folder), method_map, options_map, keywords=KEYWORDS,
                             comment_tags=("Translators:",), strip_comment_tags=True, directory_filter=keep)
    for filename, lineno, message, comments, context in found:
        path = Path(source.folder, filename).relative_to(source.folder).as_posix()
        catalog.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    return catalog


def _ids(catalog: Catalog) -> set:
    return {(message.context, message.id) for message in catalog if message.id}


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as fileobj:
        return read_po(fileobj, locale=locale)


def compiled(catalog: Catalog) -> dict:
    """What a ``.mo`` of ``catalog`` holds: ``{msgid: msgstr}`` (tuples for plural forms)."""
    out = io.BytesIO()
    write_mo(out, catalog, use_fuzzy=False)
    out.seek(0)
    return mo_messages(out)


def mo_messages(fileobj) -> dict:
    catalog = read_mo(fileobj)
    def frozen(value):
        return tuple(value) if isinstance(value, (list, tuple)) else value

    return {(message.context, frozen(message.id)): frozen(message.string) for message in catalog if message.id}


def _write_po(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fileobj:
        # No line numbers: a string moving inside its file is not a change to the catalog.
        write_po(fileobj, catalog, width=100, include_lineno=False, ignore_obsolete=True)


def update(source: Source) -> list[str]:
    """Extract, update each locale's ``.po`` and compile its ``.mo``; returns what it wrote."""
    template = extract(source)
    written = []
    pot = source.translations / "messages.pot"
    if pot.exists():
        previous = read(pot)
        if _ids(previous) == _ids(template):  # nothing changed: keep the date, so the file does not change
            template.creation_date = previous.creation_date
    _write_po(pot, template)
    written.append(str(pot))
    for locale in LOCALES:
        po_path = source.po_path(locale)
        if po_path.exists():
            catalog = read(po_path, locale)
            catalog.update(template, no_fuzzy_matching=True, update_header_comment=False)
        else:
            catalog = Catalog(locale=locale, project=PROJECT, charset="utf-8", fuzzy=False,
                              header_comment=HEADER, creation_date=template.creation_date,
                              revision_date=template.creation_date)
            catalog.update(template, no_fuzzy_matching=True)
        catalog.fuzzy = False
        _write_po(po_path, catalog)
        with source.mo_path(locale).open("wb") as fileobj:
            write_mo(fileobj, catalog, use_fuzzy=False)
        written += [str(po_path), str(source.mo_path(locale))]
    return written


def main(argv: list[str]) -> int:
    known = {source.folder: source for source in built_in()}
    sources = [known.get(Path(arg).resolve()) or Source(Path(arg).name, Path(arg).resolve()) for arg in argv]
    sources = sources or list(known.values())
    for source in sources:
        update(source)
        missing = untranslated(source)
        print(f"{source.name}: {len(extract(source))} strings"
              + (f", untranslated: {', '.join(f'{loc} {n}' for loc, n in missing.items())}" if missing else ""))
    return 0


def untranslated(source: Source) -> dict[str, int]:
    counts = {}
    for locale in MUST_TRANSLATE:
        catalog = read(source.po_path(locale), locale)
        count = sum(1 for message in catalog if message.id and not _complete(message))
        if count:
            counts[locale] = count
    return counts


def _complete(message) -> bool:
    strings = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
    return not message.fuzzy and all(strings)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
