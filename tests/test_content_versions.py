"""Content versions in the database (bot/content/versions.py), on SQLite and PostgreSQL:
publish, history, files, rollback, differences; a broken tree and a stale parent refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.content.source import FolderSource
from bot.content.store import ContentError, ContentStore
from bot.content.versions import ContentVersions, StaleParent, UnknownVersion, VersionSource
from bot.db.models import ContentBlob


def _tree(folder: Path) -> dict[str, bytes]:
    return dict(FolderSource(folder).read().files)


async def _blobs(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(ContentBlob))).scalar()
                   or 0)


async def test_publish_history_files_and_rollback(engine: AsyncEngine,
                                                  small_content: Path) -> None:
    versions = ContentVersions(engine)
    assert await versions.published() is None
    assert await versions.history() == []
    files = _tree(small_content)

    first = await versions.publish(files, author_id=None, author_name="seed",
                                   note="imported content/", parent_id=None)
    assert (first.id, first.parent_id, first.author_name) == (1, None, "seed")
    assert first.created_at.tzinfo is not None
    assert await versions.published() == first
    assert await versions.get(1) == first
    read = await versions.files(1)
    assert read.name == "version 1"
    assert dict(read.files) == files
    blobs = await _blobs(engine)

    changed = dict(files)
    name = next(n for n in files if n.endswith(".md") and n.startswith("ru/"))
    changed[name] = files[name] + "\nНовая строка.\n".encode()
    second = await versions.publish(changed, author_id=4242, author_name="Айгуль",
                                    note="a new line", parent_id=1)
    assert (second.id, second.parent_id, second.author_id) == (2, 1, 4242)
    assert await _blobs(engine) == blobs + 1  # one changed file: one new blob
    assert await versions.changed_files(1, 2) == {name: (files[name], changed[name])}

    back = await versions.rollback(1, author_id=4242, author_name="Айгуль", note="undo")
    assert (back.id, back.parent_id) == (3, 2)
    assert dict((await versions.files(3)).files) == files
    assert await _blobs(engine) == blobs + 1  # the old bytes are stored once
    assert [v.id for v in await versions.history()] == [3, 2, 1]
    assert [v.id for v in await versions.history(limit=2)] == [3, 2]
    assert (await versions.published()) == back

    with pytest.raises(UnknownVersion):
        await versions.files(99)
    with pytest.raises(UnknownVersion):
        await versions.get(99)


async def test_a_stale_parent_is_refused(engine: AsyncEngine, small_content: Path) -> None:
    versions = ContentVersions(engine)
    files = _tree(small_content)
    await versions.publish(files, author_id=1, author_name="a", note="one", parent_id=None)
    await versions.publish(files, author_id=2, author_name="b", note="two", parent_id=1)
    with pytest.raises(StaleParent) as refused:
        await versions.publish(files, author_id=1, author_name="a", note="late", parent_id=1)
    assert refused.value.newest == 2
    assert "version 2" in str(refused.value)
    with pytest.raises(StaleParent):  # a first version when one exists
        await versions.publish(files, author_id=1, author_name="a", note="x", parent_id=None)
    assert [v.id for v in await versions.history()] == [2, 1]


async def test_two_editors_at_once_one_wins(engine: AsyncEngine, small_content: Path) -> None:
    versions = ContentVersions(engine)
    files = _tree(small_content)
    versions.check(files)
    results = await asyncio.gather(*(
        versions.publish(files, author_id=i, author_name=f"editor {i}", note="same parent",
                         parent_id=None, checked=True) for i in range(4)),
        return_exceptions=True)
    published = [r for r in results if not isinstance(r, BaseException)]
    assert len(published) == 1, results
    assert all(isinstance(r, StaleParent) for r in results if r not in published)
    assert [v.id for v in await versions.history()] == [1]


async def test_a_broken_tree_is_refused_with_its_problem_lines(
        engine: AsyncEngine, small_content: Path) -> None:
    versions = ContentVersions(engine)
    files = _tree(small_content)
    files["contacts.yaml"] = b"- id: x\n  phone: [not a phone\n"
    with pytest.raises(ContentError) as refused:
        await versions.publish(files, author_id=1, author_name="a", note="broken",
                               parent_id=None)
    lines = [str(p) for p in refused.value.problems if p.severity == "error"]
    assert lines and all(line.startswith("content/contacts.yaml:") for line in lines), lines
    assert await versions.published() is None


async def test_a_store_serves_a_version(engine: AsyncEngine, small_content: Path) -> None:
    versions = ContentVersions(engine)
    await versions.publish(_tree(small_content), author_id=None, author_name="seed",
                           note="seed", parent_id=None)
    source = VersionSource(versions)
    assert await source.fetch() == 1
    store = await ContentStore.open(source)
    assert store.snapshot.topics == ContentStore(small_content).snapshot.topics
