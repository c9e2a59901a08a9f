"""The i18n workflow: the template is extracted from the code, every full language translates
every message id, and a translator's placeholder typo is a located problem that /reload refuses."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot import i18n
from bot.cli import main
from bot.content.store import ContentStore
from bot.i18n import LOCALES_DIR, TEMPLATE, catalog_path, template
from tests.conftest import FULL_LANGUAGES

with TEMPLATE.open("rb") as pot:
    TEMPLATE_IDS = {m.id for m in read_po(pot) if m.id}
CATALOGS = {lang: {m.id: m.string for m in read_po(
    catalog_path(LOCALES_DIR, lang).read_text("utf-8").splitlines()) if m.id}
    for lang in FULL_LANGUAGES}


def test_the_template_is_current() -> None:
    """Fails when the code uses a message id that messages.pot lacks, or the reverse:
    run `python -m bot.i18n extract`, then update the catalogs (README, translators)."""
    extracted = {m.id for m in template() if m.id}
    assert sorted(extracted - TEMPLATE_IDS) == [], "new ids: run python -m bot.i18n extract"
    assert sorted(TEMPLATE_IDS - extracted) == [], "ids no longer used: extract again"


def test_the_extractor_finds_every_way_the_code_asks_for_a_string(tmp_path: Path) -> None:
    source = tmp_path / "screen.py"
    source.write_text('texts("A")\ncontext.texts("B", n=1)\ntexts_("C")\nN_("D")\n'
                      'texts("ru")("E")\ntext("SELECT 1")\nprint("F")\n', encoding="utf-8")
    assert {m.id for m in template([source]) if m.id} == {"A", "B", "C", "D", "E"}


@pytest.mark.parametrize("lang", FULL_LANGUAGES)
@pytest.mark.parametrize("msgid", sorted(TEMPLATE_IDS))
def test_every_message_id_is_translated_in_every_full_language(lang: str, msgid: str) -> None:
    assert CATALOGS[lang].get(msgid), f"{lang}: no translation of {msgid!r}"


@pytest.fixture
def locales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    target = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, target)
    monkeypatch.setattr(i18n, "LOCALES_DIR", target)
    yield target
    i18n.activate(i18n.discover(LOCALES_DIR))  # the real catalogs again, for other tests


def edit_translation(locales: Path, lang: str, msgid: str, msgstr: str) -> int:
    """Replace one translation; returns the 1-based line of its msgid."""
    path = catalog_path(locales, lang)
    lines = path.read_text(encoding="utf-8").split("\n")
    at = lines.index(f'msgid "{msgid}"')
    lines[at + 1] = f'msgstr "{msgstr}"'
    path.write_text("\n".join(lines), encoding="utf-8")
    return at + 1


def test_a_placeholder_typo_is_a_located_problem(
        locales: Path, capsys: pytest.CaptureFixture[str]) -> None:
    line = edit_translation(locales, "ru", "Page {n} of {total}", "Страница {n} из {totl}")
    assert main(["content", "check", "--lang", "en"]) == 1
    out = capsys.readouterr().out
    assert (f"locales/ru/LC_MESSAGES/messages.po:{line}: error: the translation of \"Page {{n}} "
            "of {total}\" must use the placeholders {n} {total} exactly as the message id "
            "does, got {n} {totl}") in out
    assert "Traceback" not in out


async def test_reload_applies_a_changed_catalog_and_refuses_a_broken_one(locales: Path) -> None:
    store = ContentStore(LOCALES_DIR.parent.parent / "content")
    assert i18n.texts("ru")("Back") == "Назад"
    edit_translation(locales, "ru", "Back", "Обратно")
    applied, _ = await store.reload()
    assert applied
    assert store.snapshot.catalogs.texts("ru")("Back") == i18n.texts("ru")("Back") == "Обратно"
    edit_translation(locales, "ky", "Page {n} of {total}", "{n} барак {")
    applied, problems = await store.reload()
    assert not applied
    assert [p.message.split(",")[-1] for p in problems] == [" got broken braces"]
    assert i18n.texts("ru")("Back") == "Обратно"  # the last good catalogs stay
