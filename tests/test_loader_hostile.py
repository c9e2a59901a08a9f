"""Hostile and broken content: every attack ends as located problem lines, never a freeze,
a traceback or a file served from outside the folder."""

from __future__ import annotations

import os
import threading
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.content import loader
from bot.content import store as store_module
from bot.content.loader import load_content
from bot.content.model import Problem
from bot.content.store import ContentStore

TODAY = date(2026, 11, 29)
ALIAS_BOMB = "\n".join(
    ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 10)]
)


def errors(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems if p.severity == "error"]


def set_field(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_a_fifo_is_refused_not_waited_for(small_content: Path) -> None:
    os.mkfifo(small_content / "ru" / "pipe.md")
    os.unlink(small_content / "selfcheck.yaml")
    os.mkfifo(small_content / "selfcheck.yaml")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    found = errors(problems)
    assert "content/ru/pipe.md:1: error: not a regular file (a pipe or a device): remove it" \
        in found
    assert "content/selfcheck.yaml:1: error: not a regular file (a pipe or a device): " \
           "remove it" in found


def test_a_folder_named_like_a_topic_is_located(small_content: Path) -> None:
    (small_content / "ky" / "x.md").mkdir()
    (small_content / "ru" / "x.md").mkdir()
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    assert "content/ky/x.md:1: error: this is a folder, not a file: rename or remove it" in errors(
        problems)


def test_symlinks_are_never_followed(small_content: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.md"
    secret.write_text((small_content / "ru" / "danger.md").read_text(encoding="utf-8")
                      .replace("Как узнать обман.", "SECRET OUTSIDE"), encoding="utf-8")
    for lang in ("ru", "ky"):
        (small_content / lang / "danger.md").unlink()
        (small_content / lang / "danger.md").symlink_to(secret)
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    assert "content/ru/danger.md:1: error: a symbolic link is not read: put the file itself in " \
           "the content folder" in errors(problems)
    assert all("SECRET" not in str(p) for p in problems)


def test_a_50_mb_topic_is_refused_without_reading_it(small_content: Path) -> None:
    path = small_content / "ru" / "danger.md"
    with path.open("ab") as file:
        file.truncate(50 * 1024 * 1024)
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    assert "content/ru/danger.md:1: error: the file is 51200 KB; at most 256 KB is read: " \
           "split it" in errors(problems)


def test_a_yaml_alias_bomb_is_refused_at_its_line(small_content: Path) -> None:
    path = small_content / "ru" / "danger.md"
    set_field(path, "order: 10\n", "order: 10\n" + ALIAS_BOMB + "\n")
    contacts = small_content / "contacts.yaml"
    contacts.write_text(ALIAS_BOMB + "\n" + contacts.read_text(encoding="utf-8"),
                        encoding="utf-8")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    message = ("error: YAML anchors and aliases (& and *) are not allowed in content: write "
               "each value out in full")
    assert f"content/ru/danger.md:5: {message}" in errors(problems)
    assert f"content/contacts.yaml:1: {message}" in errors(problems)


def test_deep_nesting_is_located(small_content: Path) -> None:
    set_field(small_content / "ru" / "danger.md", "keywords: [",
              "deep: " + "[" * 100_000 + "]" * 100_000 + "\nkeywords: [")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    assert "content/ru/danger.md:5: error: nested more than 20 levels deep" in errors(problems)


def test_impossible_dates_and_wrong_types_are_located(small_content: Path) -> None:
    set_field(small_content / "ru" / "danger.md", "reviewed: 2026-11-01", "reviewed: 2026-02-30")
    set_field(small_content / "ky" / "danger.md", "order: 10", "order: " + "9" * 5000)
    contacts = small_content / "contacts.yaml"
    set_field(contacts, "country: KG", "country: [KG]")
    set_field(contacts, "verified_on: 2026-11-01\n    source: \"IOM",
              "verified_on: 2026-13-01\n    source: \"IOM")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    found = errors(problems)
    assert "content/ru/danger.md:6: error: 2026-02-30 is not a real date: write an existing day " \
           "as YYYY-MM-DD" in found
    assert any(p.startswith("content/ky/danger.md:4: error: 9999") and
               p.endswith("cannot be read as a value: put it in quotes") for p in found)
    assert "content/contacts.yaml:16: error: 2026-13-01 is not a real date: write an existing " \
           "day as YYYY-MM-DD" in found
    # contacts.yaml stops at its first unreadable value; fix it and the list is checked.
    set_field(contacts, "2026-13-01", "2026-11-01")
    _, problems = load_content(small_content, today=TODAY)
    assert "content/contacts.yaml:6: error: contact 'kg-112': country ['KG'] is not listed " \
           "under 'countries:'" in errors(problems)


def test_plain_words_for_common_yaml_mistakes(small_content: Path) -> None:
    ru, ky = small_content / "ru", small_content / "ky"
    set_field(ru / "danger.md", "title: Опасные признаки", "title: SOS: опасные признаки")
    set_field(ky / "danger.md", "title: Коркунучтуу белгилер", "title: \"Коркунучтуу белгилер")
    set_field(ky / "hotlines.md", "keywords: [телефон", "keywords: [\"телефон")
    set_field(ru / "help.md", "order: 20", "order: 20\n\tkeywords: x")
    set_field(ky / "help.md", '  - "Test source, 2026"', '  - "Test source, 2026"\n  -second')
    set_field(ru / "hotlines.md", "order: 10", "order: 10\norder: 11")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    found = errors(problems)
    assert "content/ru/danger.md:2: error: a colon inside a value: put the value in quotes, " \
           "e.g. title: \"SOS: help\"; or this line is indented more than the one above" in found
    assert "content/ky/danger.md:2: error: a quote opened here is never closed: add the " \
           "closing quote" in found
    assert "content/ky/hotlines.md:5: error: a list opened with '[' here is not closed with " \
           "']', or a quote inside it is not closed" in found
    assert "content/ru/help.md:5: error: a tab character: indent with spaces only" in found
    assert "content/ky/help.md:9: error: this line is not 'name: value': add ': ', or a space " \
           "after '-' in a list" in found
    assert "content/ru/hotlines.md:5: error: 'order' is written twice: keep one" in found
    assert not any("mapping values" in p or "could not find" in p for p in found)


def test_a_byte_order_mark_is_accepted(small_content: Path) -> None:
    for path in (small_content / "ru" / "danger.md", small_content / "contacts.yaml"):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is not None, errors(problems)
    assert snapshot.topic("ru", "danger").title == "Опасные признаки"  # type: ignore[union-attr]


def test_bad_bytes_are_located_at_their_line(small_content: Path) -> None:
    path = small_content / "ru" / "danger.md"
    path.write_bytes(path.read_bytes() + "\nОбман\n".encode("cp1251"))
    _, problems = load_content(small_content, today=TODAY)
    assert "content/ru/danger.md:12: error: not UTF-8 text: save the file as UTF-8" in errors(
        problems)


def test_a_section_says_it_belongs_in_the_main_menu(small_content: Path) -> None:
    set_field(small_content / "ru" / "danger.md", "parent: main\n", "")
    (small_content / "ky" / "main.md").write_text("x", encoding="utf-8")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    found = errors(problems)
    assert "content/ru/danger.md:1: error: parent is missing: write the id of its section, or " \
           "'parent: main' for a section of the main menu" in found
    assert "content/ky/main.md:1: error: 'main' is reserved for 'parent: main'; choose another " \
           "file name" in found


def test_an_unexpected_failure_is_one_located_line(small_content: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*args: object) -> None:
        raise KeyError("boom")

    monkeypatch.setattr(loader, "parse_selfcheck", broken)
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    assert errors(problems) == ["content/selfcheck.yaml:1: error: internal error while reading "
                                "selfcheck.yaml: KeyError"]
    assert main(["content", "check", str(small_content)]) == 1
    out = capsys.readouterr().out
    assert "content/selfcheck.yaml:1: error: внутренняя ошибка при чтении selfcheck.yaml: " \
           "KeyError" in out
    assert "Traceback" not in out


async def test_reload_keeps_the_last_good_snapshot_on_errors_and_on_timeout(
        small_content: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = ContentStore(small_content)
    good = store.snapshot
    set_field(small_content / "ru" / "danger.md", "title: Опасные признаки", "title: a: b")
    applied, problems = await store.reload()
    assert not applied and store.snapshot is good
    assert [p.line for p in problems if p.severity == "error"] == [2]

    release = threading.Event()
    slow_load = store_module._read_and_load

    def stuck(*args: Any) -> Any:
        release.wait()  # a load that cannot finish before reload gives up
        return slow_load(*args)

    monkeypatch.setattr(store_module, "_read_and_load", stuck)
    store.timeout = 0.01
    try:
        applied, problems = await store.reload()
    finally:
        release.set()
    assert not applied and store.snapshot is good
    assert [p.message for p in problems] == ["loading took more than 0.01 s; nothing was changed"]
    assert problems[0].show("ru").endswith("загрузка заняла больше 0.01 с; ничего не изменилось")


def test_pathological_markup_is_read_in_one_pass(small_content: Path) -> None:
    # Each of these made the inline patterns rescan the rest of the line from every bracket:
    # a 250 KB topic took minutes. Now it is one located error like any long paragraph.
    for lang, markup in (("ru", "[x](" * 60_000), ("ky", "[a<b" * 60_000)):
        path = small_content / lang / "danger.md"
        path.write_text(path.read_text(encoding="utf-8") + "\n" + markup, encoding="utf-8")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    found = errors(problems)
    assert any(p.startswith("content/ru/danger.md:12: error: this paragraph makes a page of "
                            "240") for p in found), found
    assert any(p.startswith("content/ky/danger.md:12: error: this paragraph makes a page of ")
               for p in found), found


def test_a_quote_is_blamed_only_when_closing_it_fixes_the_file() -> None:
    from bot.content.yamlfile import Located, read_yaml

    broken = read_yaml('title: "SOS\nsources:\n  - "x"\norder: 1\n', first_line=2)
    assert broken == Located(2, "a quote opened here is never closed: add the closing quote")
    # A quoted value may rightly span two lines: the error below it is its own.
    other = read_yaml('source: "one\n  two"\norder: [1\n')
    assert isinstance(other, Located)
    assert (other.line, other.message) == (3, "a list opened with '[' here is not closed with "
                                              "']', or a quote inside it is not closed")


@pytest.mark.parametrize(("text", "line", "message"), [
    ('a: 1\nb: "C:\\q"\n', 2, "a backslash (\\) inside double quotes: use single quotes around "
                             "this value"),
    ("a: 1\nb: x\x07y\n", 2, "an invisible control character (code 0x0007): delete it and "
                             "retype this line"),
    ("a: 1\nb: !!python/object x\n", 2, "a value starts with '!': put the value in quotes"),
])
def test_rarer_yaml_mistakes_in_plain_words(text: str, line: int, message: str) -> None:
    from bot.content.yamlfile import Located, read_yaml

    problem = read_yaml(text)
    assert isinstance(problem, Located)
    assert (problem.line, problem.message.format_map(problem.values)) == (line, message)
