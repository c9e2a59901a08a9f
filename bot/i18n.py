"""UI strings from Babel/gettext catalogs, one per language in bot/locales/<xx>/ (content text
lives in content/).

The catalogs are the `.po` files, read with Babel, so there is no compile step to forget. They
are loaded with the content (bot/content/loader.py checks their placeholders) and swapped with
it on /reload: `activate` makes a loaded set the one `texts()` answers from. Message ids are
English; a missing translation falls back along the language's chain (itself, its fallback,
Russian), then to the id. bot/locales/messages.pot is the template, extracted from the code
(`python -m bot.i18n extract`); the README describes the translators' workflow.

Dates are catalog strings too (the long-date pattern and the month names), so a new language
needs no code and no CLDR data in memory: babel.dates would load ~5 MB of locale data (13 MB
resident, measured) for twelve month names. A test compares every month with babel.dates.
"""

from __future__ import annotations

import ast
import string
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

from bot.content.source import CatalogSource, catalog_name
from bot.content.yamlfile import Located, decode
from bot.languages import DEFAULT_LANGUAGE

LOCALES_DIR = Path(__file__).resolve().parent / "locales"
TEMPLATE = LOCALES_DIR / "messages.pot"


def N_(msgid: str) -> str:  # gettext's name for "mark for extraction"
    """Marks a message id kept in a table, so the extractor finds it; translates nothing."""
    return msgid


LONG_DATE = N_("{month} {day}, {year}")
MONTHS = (N_("January"), N_("February"), N_("March"), N_("April"), N_("May"), N_("June"),
          N_("July"), N_("August"), N_("September"), N_("October"), N_("November"),
          N_("December"))


def catalog_path(locales_dir: Path, lang: str) -> Path:
    return locales_dir / catalog_name(lang)


def placeholders(text: str) -> set[str] | None:
    """The `{name}` fields of a message, or None when its braces are broken."""
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return None


def read_catalog(text: str) -> tuple[Catalog | None, list[Located]]:
    """Parse one .po file; every translation must use exactly its message id's placeholders,
    or the bot would raise on a translator's typo the first time it shows that message.
    Cached by the text (a /reload re-reads only a changed catalog); the catalog is read-only."""
    catalog, problems = _read_catalog(text)
    return catalog, list(problems)


@lru_cache(maxsize=32)
def _read_catalog(text: str) -> tuple[Catalog | None, tuple[Located, ...]]:
    problems: list[Located] = []
    try:
        catalog = read_po(text.splitlines(keepends=True), locale=None, abort_invalid=True)
    except Exception as error:  # any parse failure is the file's problem
        line = getattr(error, "lineno", 1) or 1
        return None, (Located(int(line), "the catalog cannot be read ({kind})",
                              {"kind": type(error).__name__}),)
    catalog.locale = None  # the code may be a scratch one that CLDR does not know
    for message in catalog:
        if not message.id or not isinstance(message.id, str) or not isinstance(
                message.string, str) or not message.string:
            continue
        wanted = placeholders(message.id)
        got = placeholders(message.string)
        if got != wanted:
            problems.append(Located(
                message.lineno or 1, "the translation of \"{msgid}\" must use the placeholders "
                "{wanted} exactly as the message id does, got {got}",
                {"msgid": message.id[:60],
                 "wanted": " ".join(f"{{{n}}}" for n in sorted(wanted or ())) or "(none)",
                 "got": "broken braces" if got is None else
                 " ".join(f"{{{n}}}" for n in sorted(got)) or "(none)"}))
    return catalog, tuple(problems)


@dataclass(frozen=True)
class Catalogs:
    """The catalogs of the configured languages and where each looks for a missing string."""

    catalogs: Mapping[str, Catalog]
    chains: Mapping[str, tuple[str, ...]]  # lang -> itself, its fallback, Russian
    _texts: dict[str, Texts] = field(default_factory=dict, compare=False, repr=False)

    def texts(self, lang: str) -> Texts:
        """The strings of `lang`; an unknown language gets Russian."""
        found = self._texts.get(lang)
        if found is None:
            code = lang if lang in self.chains else DEFAULT_LANGUAGE
            found = self._texts[lang] = Texts(code, tuple(
                self.catalogs[c] for c in self.chains.get(code, (code,)) if c in self.catalogs))
        return found


def discover(locales_dir: Path | None = None) -> Catalogs:
    """Every readable catalog in the folder, each falling back to Russian: what `texts()` uses
    before any content is loaded (the CLI, tests). The loader checks them; this only reads."""
    catalogs: dict[str, Catalog] = {}
    for name, data in CatalogSource(locales_dir or LOCALES_DIR).read().files.items():
        text = decode(data)
        catalog = read_catalog(text)[0] if isinstance(text, str) else None
        if catalog is not None:
            catalogs[name.split("/", 1)[0]] = catalog
    return Catalogs(catalogs, {c: tuple(dict.fromkeys((c, DEFAULT_LANGUAGE)))
                               for c in sorted(catalogs)})


class Texts:
    """The UI strings of one language: `texts("Main menu")`, `texts("Page {n}", n=2)`."""

    def __init__(self, lang: str, catalogs: tuple[Catalog, ...]) -> None:
        self.lang = lang
        self.catalogs = catalogs  # the language's own first, then its fallbacks'

    def __call__(self, msgid: str, /, **values: object) -> str:
        text = self._lookup(msgid)
        return text.format(**values) if values else text

    def _lookup(self, msgid: str) -> str:
        for catalog in self.catalogs:
            message = catalog.get(msgid)
            if message is not None and message.string and isinstance(message.string, str):
                return message.string
        return msgid

    def date(self, value: date) -> str:
        return self(LONG_DATE, day=value.day, month=self(MONTHS[value.month - 1]),
                    year=value.year)


_active: Catalogs | None = None


def activate(catalogs: Catalogs) -> None:
    """Serve `catalogs` from now on (start-up and a good /reload)."""
    global _active
    _active = catalogs


def texts(lang: str) -> Texts:
    """The strings of `lang` from the catalogs served now (handlers use `context.texts`, which
    are the ones loaded with the snapshot they serve)."""
    global _active
    if _active is None:
        _active = discover()
    return _active.texts(lang)


# --- the template: message ids extracted from the code

def _is_texts_call(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in ("texts", "texts_", "N_")
    if isinstance(func, ast.Attribute):
        return func.attr == "texts"
    if isinstance(func, ast.Call):  # texts(lang)("…")
        return _is_texts_call(func)
    return False


def extract(paths: Iterable[Path]) -> dict[str, list[tuple[str, int]]]:
    """Literal message ids passed to a Texts object or marked with N_, with where they are."""
    found: dict[str, list[tuple[str, int]]] = {}
    root = LOCALES_DIR.parent.parent
    for path in sorted(paths):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # texts(lang)("…"): the inner call picks the language, its argument is no message id.
        selectors = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or id(node) in selectors or not node.args:
                continue
            first = node.args[0]
            if _is_texts_call(node) and isinstance(first, ast.Constant) and isinstance(
                    first.value, str):
                shown = path.relative_to(root) if path.is_relative_to(root) else path
                found.setdefault(first.value, []).append((shown.as_posix(), node.lineno))
    return found


def template(paths: Iterable[Path] | None = None) -> Catalog:
    """The .pot catalog of the code's message ids (the real bot/ when `paths` is None)."""
    if paths is None:
        paths = (LOCALES_DIR.parent).rglob("*.py")
    catalog = Catalog(project="jol", fuzzy=False)
    for msgid, places in sorted(extract(paths).items(), key=lambda item: item[1][0]):
        catalog.add(msgid, locations=sorted(places))
    return catalog


def write_template(path: Path = TEMPLATE) -> None:
    with path.open("wb") as file:
        # No header and no line numbers: it would change at every extraction and make every
        # branch that adds a string conflict with every other.
        write_po(file, template(), width=99, omit_header=True, sort_output=False,
                 include_lineno=False)


if __name__ == "__main__":
    if sys.argv[1:] != ["extract"]:
        sys.exit("usage: python -m bot.i18n extract   (writes bot/locales/messages.pot)")
    write_template()
    print(f"wrote {TEMPLATE}")
