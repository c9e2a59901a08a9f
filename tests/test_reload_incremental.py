"""A /reload after an edit reuses what was parsed from unchanged files (caches keyed by the
files' text); the snapshot must be exactly the one a load from nothing gives."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot import i18n
from bot.content import loader, search, yamlfile
from bot.content.model import ContentSnapshot
from bot.content.store import ContentStore
from tests.helpers import REAL_CONTENT, real_snapshot

QUERIES = ["забрали паспорт", "паспортумду алып коюшту", "работа в корее", "pasport",
           "айлык бербей жатат", "регистрацыя в маскве", "Правка"]


def _clear_caches() -> None:
    for cached in (loader._parse_topic_text, yamlfile.read_yaml, i18n._read_catalog,
                   search._topic_terms):
        cached.cache_clear()


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
