"""The loader and validator: valid content loads; each kind of breakage is one located error."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.cli import main
from bot.content.loader import load_content
from bot.content.model import Problem
from bot.content.render import visible_length

TODAY = date(2026, 11, 29)


def errors(problems: list[Problem]) -> list[str]:
    return [str(p) for p in problems if p.severity == "error"]


def test_valid_content_loads_with_menu_in_order(small_content: Path) -> None:
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is not None, problems
    assert errors(problems) == []
    assert [t.id for t in snapshot.menu("ru")] == ["danger", "help"]
    assert [t.title for t in snapshot.menu("ky", "danger")] == ["Паспортту алып коюшту"]
    assert snapshot.topic("ru", "passport-taken") is not None


def test_missing_translation_is_located(small_content: Path) -> None:
    (small_content / "ky" / "passport-taken.md").unlink()
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    assert "content/ru/passport-taken.md:1: error: missing translation: " \
           "ky/passport-taken.md does not exist" in errors(problems)


def test_broken_yaml_names_file_and_line(small_content: Path) -> None:
    path = small_content / "ru" / "passport-taken.md"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[3] = "keywords: [паспорт, документы"  # unclosed list on line 4
    path.write_text("\n".join(lines), encoding="utf-8")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    assert errors(problems) == [
        "content/ru/passport-taken.md:4: error: a list opened with '[' here is not closed with "
        "']', or a quote inside it is not closed"]


def test_orphan_and_cycle_are_errors(small_content: Path) -> None:
    for lang in ("ru", "ky"):
        path = small_content / lang / "passport-taken.md"
        path.write_text(path.read_text(encoding="utf-8").replace("parent: danger",
                                                                 "parent: nowhere"))
        danger = small_content / lang / "help.md"
        danger.write_text(danger.read_text(encoding="utf-8").replace(
            "parent: main", "parent: hotlines"))
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    found = "\n".join(errors(problems))
    assert "content/ru/passport-taken.md:3: error: parent 'nowhere' does not exist" in found
    assert "menu cycle" in found


def test_bad_phone_is_an_error_with_its_line(small_content: Path) -> None:
    path = small_content / "contacts.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("8 800 333-00-16", "8 800 333"))
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    assert errors(problems) == [
        "content/contacts.yaml:14: error: contact 'ru-iom': phone '8 800 333' is not a valid "
        "number for RU; write it as +7 … or as dialled inside that country"
    ]


def test_too_long_paragraph_is_an_error(small_content: Path) -> None:
    path = small_content / "ru" / "passport-taken.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + "слово " * 700)
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    (problem,) = errors(problems)
    assert problem.startswith("content/ru/passport-taken.md:16: error: this paragraph makes a "
                              "page of ")
    assert "Telegram does not send more than 4096: split it with a blank line" in problem


def test_long_topic_is_paged_within_limits(small_content: Path) -> None:
    path = small_content / "ru" / "passport-taken.md"
    paragraphs = "\n\n".join(f"Абзац {i}. " + "текст " * 150 for i in range(8))
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + paragraphs)
    snapshot, _ = load_content(small_content, today=TODAY)
    assert snapshot is not None
    pages = snapshot.topic("ru", "passport-taken").pages  # type: ignore[union-attr]
    assert len(pages) >= 2
    assert all(visible_length(page) <= 1500 - 30 for page in pages)
    assert all(page.startswith("<b>Забрали паспорт</b>") for page in pages)
    assert "Абзац 7." in pages[-1]


def test_title_too_long_and_missing_fields(small_content: Path) -> None:
    path = small_content / "ky" / "danger.md"
    text = path.read_text(encoding="utf-8")
    text = text.replace("title: Коркунучтуу белгилер", "title: " + "ө" * 40)
    text = text.replace("reviewed: 2026-11-01\n", "").replace('  - "Test source, 2026"\n', "")
    path.write_text(text, encoding="utf-8")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    found = errors(problems)
    assert "content/ky/danger.md:2: error: title is 40 characters; a button label may have at " \
           "most 32" in found
    assert any("reviewed is required" in p for p in found)
    assert any("sources are required" in p for p in found)


def test_stale_dates_warn_and_strict_fails(small_content: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    snapshot, problems = load_content(small_content, today=date(2027, 12, 1))
    assert snapshot is not None
    stale = [str(p) for p in problems if "days ago" in p.message]
    assert any(p.startswith("content/ru/hotlines.md:6: warning: reviewed") for p in stale)
    assert any(p.startswith("content/contacts.yaml:") and "kg-112" in p for p in stale)

    monkeypatch.setenv("JOL_STALE_AFTER_DAYS", "1")
    assert main(["content", "check", str(small_content)]) == 0
    assert main(["content", "check", str(small_content), "--strict"]) == 1
    out = capsys.readouterr().out
    assert "--strict: предупреждения считаются ошибками" in out


def test_unknown_contact_reference_and_unknown_field(small_content: Path) -> None:
    path = small_content / "ru" / "hotlines.md"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("ru-iom]", "ru-iom, xx-1]\ncolour: red"))
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    assert "content/ru/hotlines.md:9: error: contact 'xx-1' is not in contacts.yaml" in errors(
        problems)
    assert any(p.severity == "warning" and "unknown field 'colour'" in p.message for p in problems)


def test_not_utf8_and_no_front_matter(small_content: Path) -> None:
    (small_content / "ru" / "danger.md").write_bytes("Обман".encode("cp1251"))
    (small_content / "ky" / "danger.md").write_text("just text\n", encoding="utf-8")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    found = errors(problems)
    assert any(p.startswith("content/ru/danger.md:1: error: not UTF-8") for p in found)
    assert "content/ky/danger.md:1: error: the file must start with a '---' line, then the " \
           "fields, then '---'" in found


def test_cli_check_exit_codes(small_content: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "check", str(small_content)]) == 0
    (small_content / "ky" / "help.md").unlink()
    assert main(["content", "check", str(small_content)]) == 1
    out = capsys.readouterr().out
    assert "content/ru/help.md:1: error: нет перевода: файла ky/help.md нет" in out
    assert "Traceback" not in out
    assert main(["content", "check", str(small_content), "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert "content/ru/help.md:1: error: missing translation: ky/help.md does not exist" in out
    assert "4 errors, 0 warnings: content NOT loadable" in out
