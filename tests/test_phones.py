"""Phone numbers: only what a keypad can dial passes, and every number is shown one way."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from bot.content.loader import PhoneError, load_content, normal_phone

TODAY = date(2026, 11, 29)


@pytest.mark.parametrize(("written", "country", "shown"), [
    ("+996 705 009 102", "KG", "+996 705 009 102"),
    ("+996705009102", "KG", "+996 705 009 102"),
    ("0705 009 102", "KG", "+996 705 009 102"),
    ("+996 (705) 00-91-02", "KG", "+996 705 009 102"),
    ("8 800 333-00-16", "RU", "+7 800 333-00-16"),
    ("112", "KG", "112"),
    ("1 2 3", "KG", "123"),
    ("(0312) 62-13-00", "KG", "+996 312 621 300"),
])
def test_dialable_numbers_get_one_form(written: str, country: str, shown: str) -> None:
    assert normal_phone(written, country) == shown


@pytest.mark.parametrize("written", [
    "+996 705 OO 91 O2",  # Latin O for zero
    "+996 705 ОО 91 О2",  # Cyrillic О
    "+996\u200b705009102",  # zero-width space
    "+996\u00a0705 009 102",  # no-break space
    "+٩٩٦ ٧٠٥ ٠٠٩ ١٠٢",  # Arabic-Indic digits
    "+996 705 009 102 ext. 5",
    "+996 705 009 102, 103",
    "+996-705-009-102-",
])
def test_what_cannot_be_dialled_is_refused_and_shown_escaped(written: str) -> None:
    result = normal_phone(written, "KG")
    assert isinstance(result, PhoneError)
    assert result.message.startswith("contact '{contact}': phone {phone} cannot be dialled")
    assert result.values["phone"] == repr(written)


@pytest.mark.parametrize(("country", "code"), [("RU", "+7"), ("TR", "+90"), ("KG", "+996")])
def test_the_hint_names_the_countrys_calling_code(country: str, code: str) -> None:
    result = normal_phone("+1 23", country)
    assert isinstance(result, PhoneError)
    text = result.message.format_map({"contact": "x", **result.values})
    assert f"; write it as {code} … or as dialled inside that country" in text


def test_contacts_are_checked_at_their_line_and_shown_normalised(small_content: Path) -> None:
    contacts = small_content / "contacts.yaml"
    snapshot, _ = load_content(small_content, today=TODAY)
    assert snapshot is not None
    hotlines = snapshot.topic("ru", "hotlines")
    assert hotlines is not None
    assert "☎️ <b>+7 800 333-00-16</b> — Горячая линия МОМ" in "".join(hotlines.pages)

    text = contacts.read_text(encoding="utf-8")
    contacts.write_text(text.replace('"8 800 333-00-16"', '"8 800 333-OO-16"'), encoding="utf-8")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    assert [p.show("ru") for p in problems if p.severity == "error"] == [
        "content/contacts.yaml:14: error: номер 'ru-iom': '8 800 333-OO-16' нельзя набрать так, "
        "как написано: только цифры, пробелы, '-', скобки и '+' в начале (без букв и без "
        "добавочного)"]


def test_an_unquoted_phone_is_refused(small_content: Path) -> None:
    contacts = small_content / "contacts.yaml"
    text = contacts.read_text(encoding="utf-8")
    contacts.write_text(text.replace('phone: "112"', "phone: 0112"), encoding="utf-8")
    _, problems = load_content(small_content, today=TODAY)
    assert [str(p) for p in problems if p.severity == "error"] == [
        "content/contacts.yaml:7: error: contact 'kg-112': phone must be written in quotes, "
        "e.g. phone: \"+996 705 009 102\""]
