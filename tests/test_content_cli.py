"""`jol content import / export / history / check --version` on SQLite and PostgreSQL: the
round trip is byte-identical, a broken folder is refused with its problem lines; and a bot
starting on a database seeds it once, then names a folder that differs without publishing it."""

from __future__ import annotations

import asyncio
import filecmp
import logging
import shutil
from pathlib import Path

import pytest

from bot import db
from bot.cli import main
from bot.content.published import open_published
from bot.content.source import FolderSource
from bot.content.versions import ContentVersions
from tests.helpers import REAL_CONTENT


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, database_url: str) -> str:
    monkeypatch.setenv("JOL_DATABASE_URL", database_url)
    monkeypatch.setenv("JOL_CONTENT_DIR", str(REAL_CONTENT))
    return database_url


def _same_tree(a: Path, b: Path) -> bool:
    left, right = FolderSource(a).read().files, FolderSource(b).read().files
    return left.keys() == right.keys() and all(left[n] == right[n] for n in left)


def test_import_export_round_trip_is_byte_identical(
        env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "history"]) == 2  # not migrated yet: says to upgrade
    assert "jol db upgrade" in capsys.readouterr().err
    assert main(["content", "import", "--note", "first import"]) == 0
    files = len(FolderSource(REAL_CONTENT).read().files)
    assert f"published version 1 ({files} files): first import" in capsys.readouterr().out
    assert main(["content", "import"]) == 0
    assert "already version 1: nothing to publish" in capsys.readouterr().out

    exported = tmp_path / "exported"
    (exported / "ru").mkdir(parents=True)
    (exported / "ru" / "stale.md").write_text("a file the version does not have")
    (exported / ".git").mkdir()  # hidden entries are left alone
    assert main(["content", "export", str(exported)]) == 0
    assert "removed 1 not in it (ru/stale.md)" in capsys.readouterr().out
    assert _same_tree(exported, REAL_CONTENT)
    assert (exported / ".git").is_dir()
    assert filecmp.cmp(exported / "contacts.yaml", REAL_CONTENT / "contacts.yaml",
                       shallow=False)

    edited = tmp_path / "edited"
    shutil.copytree(exported, edited)
    contract = edited / "ru" / "contract.md"
    contract.write_bytes(contract.read_bytes() + "\nЕщё одна строка.\n".encode())
    assert main(["content", "import", str(edited), "--note", "one more line"]) == 0
    assert "published version 2 (1 changed file): one more line" in capsys.readouterr().out

    assert main(["content", "history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[0] == "2" and lines[0].endswith("one more line  ← published")
    assert lines[1].split()[0] == "1" and "first import" in lines[1]

    again = tmp_path / "again"
    assert main(["content", "export", str(again), "--version", "1"]) == 0
    assert _same_tree(again, REAL_CONTENT)
    assert main(["content", "export", str(tmp_path / "two")]) == 0
    assert _same_tree(tmp_path / "two", edited)

    assert main(["content", "check", "--version", "2"]) == 0
    assert main(["content", "check", "--version", "9"]) == 2
    assert "there is no content version 9" in capsys.readouterr().err


def test_a_broken_folder_is_refused_with_its_problem_lines(
        env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(REAL_CONTENT, broken)
    with (broken / "contacts.yaml").open("a") as file:
        file.write("- id: x\n")
    assert main(["content", "import", str(broken), "--lang", "en"]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("broken/contacts.yaml:"), out
    assert ": error: " in out
    assert "NOT imported" in err
    assert main(["content", "history"]) == 0
    assert "no content version yet" in capsys.readouterr().out


async def test_the_first_start_seeds_and_a_later_one_names_a_differing_folder(
        database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    await db.upgrade(database_url)
    engine = db.create_engine(database_url)
    folder = tmp_path / "content"
    shutil.copytree(REAL_CONTENT, folder)
    caplog.set_level(logging.INFO, "bot.content.published")
    try:
        store, versions = await open_published(engine, folder, 180)
        [seed] = await versions.history()
        assert (seed.id, seed.author_name, seed.author_id) == (1, "seed", None)
        assert str(folder) in seed.note
        assert store.snapshot.topic_ids() and "is version 1" in caplog.text

        contract = folder / "ru" / "contract.md"
        contract.write_bytes(contract.read_bytes() + b"\nlocal edit\n")
        caplog.clear()
        store, versions = await open_published(engine, folder, 180)
        assert [v.id for v in await versions.history()] == [1]  # never published silently
        assert caplog.messages == [
            f"content: {folder} differs from the published version 1; run `jol content "
            "import` to publish it"]
        assert b"local edit" not in store.source.read().files["ru/contract.md"]

        # /reload re-reads the published version: a publish elsewhere is picked up.
        tree = dict(FolderSource(folder).read().files)
        await ContentVersions(engine).publish(tree, author_id=5, author_name="editor",
                                              note="local edit", parent_id=1)
        applied, _ = await store.reload()
        assert applied and b"local edit" in store.source.read().files["ru/contract.md"]
        assert store.source.name == "version 2"
    finally:
        await engine.dispose()


def test_two_replicas_seeding_at_once_make_one_version(postgres_url: str) -> None:
    async def start_two() -> list[int]:
        await db.upgrade(postgres_url)
        engines = [db.create_engine(postgres_url) for _ in range(2)]
        try:
            await asyncio.gather(*(open_published(e, REAL_CONTENT, 180) for e in engines))
            return [v.id for v in await ContentVersions(engines[0]).history()]
        finally:
            for engine in engines:
                await engine.dispose()

    assert asyncio.run(start_two()) == [1]
