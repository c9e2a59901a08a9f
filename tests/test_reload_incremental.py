"""A /reload after an edit reuses what was parsed from unchanged files (caches keyed by the
files' text); the snapshot must be exactly the one a load from nothing gives."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bot import i18n
from bot.content import loader, search, yamlfile
from bot.content.model import ContentSnapshot
from bot.content.source import CatalogSource, ContentFiles, FolderSource
from bot.content.store import ContentStore
from tests.helpers import REAL_CONTENT, real_snapshot

QUERIES = ["забрали паспорт", "паспортумду алып коюшту", "работа в корее", "pasport",
           "айлык бербей жатат", "регистрацыя в маскве", "Правка"]


def _clear_caches() -> None:
    for cached in (loader._parse_topic_text, yamlfile.read_yaml, i18n._read_catalog,
                   search._topic_weights):
        cached.cache_clear()
    loader._rendered.clear()


def _same(a: ContentSnapshot, b: ContentSnapshot) -> None:
    assert a.topics == b.topics
    assert [t.pages for t in a.topics.values()] == [t.pages for t in b.topics.values()]
    assert a.children == b.children and a.contacts == b.contacts
    assert a.countries == b.countries and a.selfcheck == b.selfcheck
    assert a.version == b.version and a.warnings == b.warnings
    assert a.campaigns == b.campaigns and a.languages == b.languages
    assert a.search._postings == b.search._postings and a.search._editor == b.search._editor
    for lang in ("ru", "ky"):
        for query in QUERIES:
            assert a.search.search(query, lang) == b.search.search(query, lang), query


async def test_an_edit_reloads_to_the_snapshot_a_full_load_gives(tmp_path: Path) -> None:
    content = tmp_path / "content"
    shutil.copytree(REAL_CONTENT, content)
    store = ContentStore(content)  # warms the caches with every file
    topic = content / "ru" / "russia.md"
    topic.write_text(topic.read_text("utf-8").rstrip() + "\n\nПравка редактора.\n", "utf-8")
    applied, _ = await store.reload()
    assert applied and store.snapshot.version != real_snapshot().version
    _clear_caches()
    _same(store.snapshot, ContentStore(content).snapshot)


async def test_an_edit_to_contacts_or_a_catalog_renders_again_the_pages_that_show_it(
        tmp_path: Path) -> None:
    """A topic's pages are memoised by its text, contacts.yaml's and the catalogs': a new
    checked-on date in contacts.yaml, or a new wording of the line it is shown in, must reach
    every page that shows it, and no page that does not."""
    content, locales = tmp_path / "content", tmp_path / "locales"
    shutil.copytree(REAL_CONTENT, content)
    shutil.copytree(i18n.LOCALES_DIR, locales, ignore=shutil.ignore_patterns("*.mo", "*.pot"))
    store = ContentStore(content, catalogs=CatalogSource(locales))
    before = store.snapshot

    contacts = content / "contacts.yaml"
    contacts.write_text(contacts.read_text("utf-8").replace("2026-11-29", "2026-11-30"), "utf-8")
    catalog = locales / "ru" / "LC_MESSAGES" / "messages.po"
    text = catalog.read_text("utf-8")
    start = text.index('msgid "Numbers checked against their published sources on {date}"')
    msgstr = text.index("msgstr ", start)
    catalog.write_text(text[:msgstr] + 'msgstr "Сверено с источниками {date}"'
                       + text[text.index("\n", msgstr):], "utf-8")
    applied, problems = await store.reload()
    assert applied, problems
    after = store.snapshot
    sos = "".join(after.topics[("ru", "sos")].pages)
    assert "30 ноября 2026" in sos and "Сверено с источниками" in sos
    assert "Сверено с источниками" not in "".join(after.topics[("ky", "sos")].pages)
    unchanged = [key for key, topic in before.topics.items() if not topic.contacts]
    assert unchanged and all(after.topics[key].pages == before.topics[key].pages
                             for key in unchanged)
    _clear_caches()
    _same(after, ContentStore(content, catalogs=CatalogSource(locales)).snapshot)


def test_a_paced_reload_rests_after_each_burst_of_its_own_cpu() -> None:
    """The reload thread hands the GIL back to the event loop: it sleeps `rest` once it has
    used `burst` of CPU since its last rest, and not before (its clock is the thread's own),
    and never more than `most` in all."""
    from bot.content import store

    clock, slept = [10.0], []
    pace = store.Pacer(burst=0.001, rest=0.003, most=0.006, clock=lambda: clock[0],
                       sleep=slept.append)
    for step in (0.0, 0.0004, 0.0004, 0.0004, 0.0002, 0.0009, 0.0002):
        clock[0] += step
        pace()
    assert slept == [0.003, 0.003]  # after 1.2 ms, then after 1.1 ms more
    for _ in range(5):  # a reload that parses everything: no rest beyond `most` in all
        clock[0] += 0.002
        pace()
    assert slept == [0.003, 0.003]

    # The loader calls it between the topics it parses and renders and while it indexes.
    calls: list[None] = []
    read = FolderSource(REAL_CONTENT).read()
    snapshot, problems = loader.load(read.files, name=read.name,
                                     catalogs=CatalogSource(i18n.LOCALES_DIR).read(),
                                     pace=lambda: calls.append(None))
    assert snapshot is not None, problems
    assert len(calls) > 3 * len(snapshot.topics)


async def test_a_reload_asks_for_short_gil_turns_while_it_runs_and_restores_them() -> None:
    """While the reload's thread runs, the loop waiting for the GIL gets it back within
    RELOAD_SWITCH_INTERVAL, not Python's 5 ms; afterwards, even after a load that raised, the
    process's own interval is back."""
    import sys

    from bot.content.store import RELOAD_SWITCH_INTERVAL

    seen: list[float] = []

    class Watched(FolderSource):
        def read(self) -> ContentFiles:
            seen.append(sys.getswitchinterval())
            return super().read()

    class Broken(FolderSource):
        def read(self) -> ContentFiles:
            raise OSError("a bug in a source")

    before = sys.getswitchinterval()
    assert before > RELOAD_SWITCH_INTERVAL
    applied, _ = await ContentStore(Watched(REAL_CONTENT), snapshot=real_snapshot()).reload()
    assert applied and seen == [RELOAD_SWITCH_INTERVAL]
    assert sys.getswitchinterval() == before
    with pytest.raises(OSError, match="a bug in a source"):
        await ContentStore(Broken(REAL_CONTENT), snapshot=real_snapshot()).reload()
    assert sys.getswitchinterval() == before
    # Two stores reloading at once: the second starts while the first holds the short turns.
    stores = [ContentStore(Watched(REAL_CONTENT), snapshot=real_snapshot()) for _ in range(2)]
    seen.clear()
    await asyncio.gather(*(store.reload() for store in stores))
    assert seen == [RELOAD_SWITCH_INTERVAL] * 2
    assert sys.getswitchinterval() == before
