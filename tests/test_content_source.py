"""Content from any source: the folder is read once into (name, bytes) pairs, the loader only
parses them, and the store loads in a worker thread while the chats are served."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import os
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.content import loader as content_loader
from bot.content import yamlfile
from bot.content.loader import load, load_content
from bot.content.model import ContentSnapshot, Problem
from bot.content.source import CatalogSource, ContentFiles, FolderSource
from bot.content.store import ContentError, ContentStore
from bot.i18n import LOCALES_DIR

TODAY = date(2026, 11, 29)
CATALOGS = CatalogSource(LOCALES_DIR).read()


def errors(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems if p.severity == "error"]


class MemorySource:
    """What a database version will be: all files of the tree, held in memory."""

    def __init__(self, name: str, files: dict[str, bytes]) -> None:
        self.name = name
        self.files = files

    def read(self) -> ContentFiles:
        return ContentFiles(self.name, dict(self.files))


def test_the_folder_is_read_as_names_and_bytes(small_content: Path) -> None:
    (small_content / "ru" / "notes.txt").write_text("draft", encoding="utf-8")
    (small_content / ".git").mkdir()
    read = FolderSource(small_content).read()
    assert read.name == "content"
    assert read.files["ru/danger.md"] == (small_content / "ru" / "danger.md").read_bytes()
    assert read.files["contacts.yaml"].startswith(b"countries:")
    assert "ru/notes.txt" in read.files and not any(n.startswith(".git") for n in read.files)
    assert all("\\" not in name and not name.startswith("/") for name in read.files)


def test_the_loader_parses_without_opening_a_file(small_content: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    read = FolderSource(small_content).read()

    def no_files(*args: object, **kwargs: object) -> Any:
        raise AssertionError("the loader opened a file")

    monkeypatch.setattr(builtins, "open", no_files)
    monkeypatch.setattr(os, "open", no_files)
    monkeypatch.setattr(os, "lstat", no_files)
    snapshot, problems = load(read.files, TODAY, name=read.name, catalogs=CATALOGS)
    assert snapshot is not None, problems
    assert snapshot.catalogs.texts("ky")("Back") != "Back"  # the catalogs came as bytes too
    assert snapshot.topic("ru", "danger").title == "Опасные признаки"  # type: ignore[union-attr]


def test_another_source_gives_the_same_snapshot_and_names_its_files(
        small_content: Path) -> None:
    folder, _ = load_content(small_content, today=TODAY)
    files = dict(FolderSource(small_content).read().files)
    same, _ = load(files, TODAY, name="version 7", catalogs=CATALOGS)
    assert folder is not None and same is not None
    assert same.version == folder.version and same.topics.keys() == folder.topics.keys()
    assert same.topic("ky", "help").pages == folder.topic("ky", "help").pages  # type: ignore[union-attr]
    # The model keeps the file's name in the tree, never a path on this machine.
    topic = same.topic("ru", "danger")
    assert topic is not None and topic.file == "ru/danger.md"
    assert not any(isinstance(getattr(topic, f.name), Path) for f in dataclasses.fields(topic))

    files["ru/danger.md"] = files["ru/danger.md"].replace("title: Опасные признаки".encode(),
                                                          b"title: a: b")
    files["ky/help.md"] = b"---\n" + b"x" * (300 * 1024)
    del files["selfcheck.yaml"]
    broken, problems = load(files, TODAY, name="version 8", catalogs=CATALOGS)
    assert broken is None
    found = errors(problems)
    assert "version 8/ru/danger.md:2: error: a colon inside a value: put the value in quotes, " \
           "e.g. title: \"SOS: help\"; or this line is indented more than the one above" in found
    assert "version 8/ky/help.md:1: error: the file is 300 KB; at most 256 KB is read: " \
           "split it" in found
    assert "version 8/selfcheck.yaml:1: error: selfcheck.yaml is missing: the job-offer check " \
           "needs it" in found


def test_the_catalogs_come_as_bytes_too_and_are_checked_with_the_content(
        small_content: Path) -> None:
    files = FolderSource(small_content).read().files
    catalogs = dict(CATALOGS.files)
    ru = "ru/LC_MESSAGES/messages.po"
    lines = catalogs[ru].decode().split("\n")
    at = lines.index('msgid "Page {n} of {total}"')
    lines[at + 1] = 'msgstr "Страница {n} из {totl}"'
    catalogs[ru] = "\n".join(lines).encode()
    del catalogs["ky/LC_MESSAGES/messages.po"]
    snapshot, problems = load(files, TODAY, catalogs=ContentFiles("ui", catalogs))
    assert snapshot is None
    assert errors(problems) == [
        "content/languages.yaml:1: error: language 'ky' has no catalog "
        "locales/ky/LC_MESSAGES/messages.po: add it, or remove this line"]
    catalogs["ky/LC_MESSAGES/messages.po"] = CATALOGS.files["ky/LC_MESSAGES/messages.po"]
    snapshot, problems = load(files, TODAY, catalogs=ContentFiles("ui", catalogs))
    assert snapshot is None
    assert errors(problems) == [
        f"ui/ru/LC_MESSAGES/messages.po:{at + 1}: error: the translation of \"Page {{n}} of "
        "{total}\" must use the placeholders {n} {total} exactly as the message id does, got "
        "{n} {totl}"]


def test_a_missing_folder_and_a_linked_language_folder_are_one_line_each(
        small_content: Path, tmp_path: Path) -> None:
    _, problems = load_content(tmp_path / "nowhere")
    assert errors(problems) == ["nowhere:1: error: content folder does not exist"]
    (small_content / "ky").rename(tmp_path / "ky-elsewhere")
    (small_content / "ky").symlink_to(tmp_path / "ky-elsewhere")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    # The link is no folder of the tree, so the language's line says it has none.
    assert errors(problems) == [
        "content/languages.yaml:1: error: language 'ky' has no folder ky/ beside this file (a "
        "link is not followed): add it, or remove this line"]


def test_yaml_is_parsed_in_one_pass_of_the_libyaml_parser(
        small_content: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if yaml.__with_libyaml__:
        from yaml._yaml import CParser

        assert issubclass(yamlfile._Loader, CParser)
    passes = 0
    loader = yamlfile._Loader

    class Counting(loader):  # type: ignore[misc, valid-type]
        def __init__(self, text: str) -> None:
            nonlocal passes
            passes += 1
            super().__init__(text)

    def no_second_pass(*args: object, **kwargs: object) -> Any:
        raise AssertionError("a second pass over the events")

    monkeypatch.setattr(yamlfile, "_Loader", Counting)
    monkeypatch.setattr(yaml, "parse", no_second_pass)
    yamlfile.read_yaml.cache_clear()  # parses are cached by text: start from none
    content_loader._parse_topic_text.cache_clear()
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is not None, problems
    topics = len(snapshot.topics)
    # At most one pass per topic's fields, languages, contacts and selfcheck.yaml (the same
    # text twice, SOS's fields in two languages, is parsed once).
    first = passes
    assert 0 < first <= topics + 3
    load_content(small_content, today=TODAY)
    assert passes == first  # unchanged files are not parsed again


async def test_reload_reads_the_source_in_a_thread_while_the_loop_serves() -> None:
    content = FolderSource(Path(__file__).resolve().parent.parent / "content").read()
    source = MemorySource("memory", dict(content.files))
    store = ContentStore(source)
    first = store.snapshot
    loop_ran = threading.Event()
    threads: list[int] = []
    read = source.read

    def slow_read() -> ContentFiles:
        threads.append(threading.get_ident())
        # Only a loop that keeps running while this waits can set the event.
        assert loop_ran.wait(10), "the event loop was blocked by the load"
        return read()

    source.read = slow_read  # type: ignore[method-assign]

    async def chat() -> None:
        await asyncio.sleep(0.05)
        loop_ran.set()

    source.files["ru/sos.md"] = source.files["ru/sos.md"] + "\nНовая строка.".encode()
    (applied, problems), _ = await asyncio.gather(store.reload(), chat())
    assert applied, problems
    assert threads and threads[0] != threading.get_ident()
    assert store.snapshot is not first and store.snapshot.version != first.version
    assert any("Новая строка." in page
               for page in store.snapshot.topic("ru", "sos").pages)  # type: ignore[union-attr]

    source.files["ru/sos.md"] = b"broken"
    loop_ran.set()
    applied, problems = await store.reload()
    good = store.snapshot
    assert not applied and store.snapshot is good
    assert "memory/ru/sos.md:1: error: the file must start with a '---' line, then the " \
           "fields, then '---'" in errors(problems)


async def test_start_up_loads_off_the_event_loop(small_content: Path) -> None:
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    try:
        store = await ContentStore.open(small_content)
    finally:
        task.cancel()
    assert isinstance(store.snapshot, ContentSnapshot)
    assert ticks > 1  # the loop went on while the content loaded
    (small_content / "contacts.yaml").unlink()
    with pytest.raises(ContentError) as raised:
        await ContentStore.open(small_content)
    assert "content/contacts.yaml:1: error: contacts.yaml is missing" in str(raised.value)



async def test_a_reload_of_unchanged_files_is_not_parsed_again(
        small_content: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import bot.content.store as store_module

    parsed: list[str] = []
    real_load = store_module.load

    def counting_load(files: Any, *args: Any, **kwargs: Any) -> Any:
        parsed.append("parse")
        return real_load(files, *args, **kwargs)

    monkeypatch.setattr(store_module, "load", counting_load)
    for store in (ContentStore(small_content), await ContentStore.open(small_content)):
        parsed.clear()
        served = store.snapshot
        applied, problems = await store.reload()
        assert applied and store.snapshot is served and parsed == []  # same bytes: no parse
        assert problems == list(served.warnings)
    topic = next((small_content / "ru").glob("*.md"))
    topic.write_text(topic.read_text(encoding="utf-8") + "\nЕщё одна строка.\n", "utf-8")
    assert (await store.reload())[0] and len(parsed) == 1  # one byte more: parsed again
    assert store.snapshot is not served and store.snapshot.version != served.version
