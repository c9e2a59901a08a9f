"""Languages are data: a catalog, a content folder and one line in languages.yaml add one, with
no code change; a partial language is served in its fallback with a note, never a crash."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from babel.dates import format_date

from bot import i18n
from bot.cli import main
from bot.content.loader import load_content
from bot.content.store import ContentStore
from bot.i18n import LOCALES_DIR
from tests.helpers import running_bot

SCRATCH_CATALOG = """\
msgid ""
msgstr ""
"Content-Type: text/plain; charset=utf-8\\n"

msgid "Main menu"
msgstr "XX main"

msgid "Choose your language"
msgstr "XX choose"

msgid "This page is not yet translated into your language; here it is in {language}."
msgstr "XX: not translated yet, shown in {language}."
"""
NOTE = "XX: not translated yet, shown in Русский."
UZ_MONTHS = ("yanvar", "fevral", "mart", "aprel", "may", "iyun", "iyul", "avgust", "sentabr",
             "oktabr", "noyabr", "dekabr")
UZ_LINE = 'uz: {name: "Oʻzbekcha", state: partial, fallback: ru}\n'


@pytest.fixture
def locales(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A writable copy of bot/locales that the loader, the store and the CLI read."""
    target = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, target)
    monkeypatch.setattr(i18n, "LOCALES_DIR", target)
    yield target
    i18n.activate(i18n.discover(LOCALES_DIR))  # the real catalogs again, for other tests


def add_catalog(locales: Path, lang: str, text: str) -> Path:
    path = locales / lang / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True)
    path.write_text(text, encoding="utf-8")
    return path


def without_real_uzbek(content: Path, locales: Path) -> Path:
    """Copies without the real, partial Uzbek, so that a test adds a language of its own."""
    shutil.rmtree(content / "uz")
    shutil.rmtree(locales / "uz")
    listed = (content / "languages.yaml").read_text(encoding="utf-8").splitlines(keepends=True)
    (content / "languages.yaml").write_text(
        "".join(line for line in listed if not line.startswith("uz:")), encoding="utf-8")
    return content


def add_language_line(content: Path, line: str) -> None:
    with (content / "languages.yaml").open("a", encoding="utf-8") as file:
        file.write(line)


@pytest.fixture
def scratch(content_copy: Path, locales: Path) -> Path:
    """The real content with a partial scratch language 'xx': two topics of its own."""
    without_real_uzbek(content_copy, locales)
    add_catalog(locales, "xx", SCRATCH_CATALOG)
    (content_copy / "xx").mkdir()
    for topic_id, title in (("sos", "XX SOS"), ("passport-taken", "XX passport")):
        text = (content_copy / "ru" / f"{topic_id}.md").read_text(encoding="utf-8")
        head, _, rest = text.partition("\ntitle: ")
        rest = rest.split("\n", 1)[1]
        (content_copy / "xx" / f"{topic_id}.md").write_text(
            f"{head}\ntitle: {title}\n{rest}", encoding="utf-8")
    add_language_line(content_copy, 'xx: {name: "Scratch", state: partial, fallback: ru}\n')
    return content_copy


def test_a_scratch_language_loads_with_one_note_listing_its_gaps(scratch: Path) -> None:
    snapshot, problems = load_content(scratch)
    assert snapshot is not None, [str(p) for p in problems]
    missing = sorted(set(snapshot.topic_ids()) - {"sos", "passport-taken"})
    assert [str(p) for p in problems] == [
        f"real-content/xx:1: note: 'xx' is partial: {len(missing)} topics are shown in 'ru' "
        f"with a note: {', '.join(missing)}"]
    assert snapshot.topic("xx", "sos").title == "XX SOS"  # type: ignore[union-attr]
    assert snapshot.topic("xx", "turkey").lang == "ru"  # type: ignore[union-attr]
    # Its menus list every topic: its own titles, the fallback's for the rest.
    assert [t.title for t in snapshot.menu("xx", "trouble")] == [
        "XX passport" if t.id == "passport-taken" else t.title
        for t in snapshot.menu("ru", "trouble")]
    assert len(snapshot.menu("xx")) == len(snapshot.menu("ru"))


def test_jol_content_check_lists_what_a_partial_language_misses(
        scratch: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "check", str(scratch), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "real-content/xx:1: note: 'xx' is partial: " in out
    assert "turkey" in out and "Traceback" not in out
    # A declared partial language is not a problem to fix: even --strict (CI) passes.
    assert main(["content", "check", str(scratch), "--strict"]) == 0
    assert "'xx' — неполный язык" in capsys.readouterr().out


async def test_a_scratch_language_user_gets_its_strings_and_the_fallback_note(
        scratch: Path, tmp_path: Path) -> None:
    async with running_bot(tmp_path, scratch) as bot:
        user = bot.user("xx")  # Telegram's language_code picks the configured language
        menu = await user.send("/start")
        assert menu.text.startswith("XX main")
        assert "Турция" not in menu.button_labels  # a section, not a page: ru titles
        screen = await user.press_data("t:turkey")
        assert screen.text.startswith(NOTE + "\n\n")
        own = await user.press_data("t:passport-taken")
        assert own.text.startswith("XX passport") and NOTE not in own.text
        sos = await user.send("/sos")
        assert sos.text.startswith("XX SOS") and NOTE not in sos.text
        found = await user.send("Турция")  # search covers the fallback's topics
        assert "Турция" in found.text or "Турция" in found.button_labels
        picker = await user.send("/language")
        assert picker.text == "Тилди тандаңыз / Выберите язык / XX choose"
        assert picker.button_labels == ["Кыргызча", "Русский", "Scratch"]
        chosen = await user.press("Русский")
        assert chosen.text.startswith(i18n.texts("ru")("Main menu"))
        # Commands are registered for every configured language, untranslated ones in ru.
        commands = bot.telegram.commands
        assert commands["xx"] == [("menu", "XX main") if name == "menu" else (name, text)
                                  for name, text in commands["ru"]]


def test_a_real_uz_line_against_a_minimal_fixture(small_content: Path, locales: Path) -> None:
    uz = "\n".join([
        'msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=utf-8\\n"', "",
        'msgid "{month} {day}, {year}"', 'msgstr "{day}-{month}, {year}"', "",
        *(f'msgid "{en}"\nmsgstr "{month}"\n' for en, month in zip(i18n.MONTHS, UZ_MONTHS,
                                                                 strict=True)),
        'msgid "Main menu"', 'msgstr "Bosh menyu"', ""])
    shutil.rmtree(locales / "uz")  # the real catalog: this test brings a minimal one
    add_catalog(locales, "uz", uz)
    (small_content / "uz").mkdir()
    shutil.copy(small_content / "ru" / "danger.md", small_content / "uz" / "danger.md")
    add_language_line(small_content, UZ_LINE)
    store = ContentStore(small_content)
    snapshot = store.snapshot
    assert [p.message for p in snapshot.warnings] == [
        "'uz' is partial: 5 topics are shown in 'ru' with a note: help, hotlines, "
        "passport-taken, phone-safety, sos"]
    assert snapshot.topic("uz", "help").lang == "ru"  # type: ignore[union-attr]
    # Contacts, countries and self-check texts fall back to Russian, without a gap.
    assert snapshot.contacts["kg-112"].name["uz"] == "Служба спасения"
    assert snapshot.countries["RU"]["uz"] == "Россия"
    assert snapshot.selfcheck.destinations[0].questions[0].ask["uz"] == "Просят деньги вперёд?"
    texts = i18n.texts("uz")
    assert texts("Main menu") == "Bosh menyu"
    assert texts("Back") == "Назад"  # a missing string: the fallback's
    for month in range(1, 13):
        day = date(2026, month, 5)
        assert texts.date(day) == format_date(day, "long", locale="uz")


@pytest.mark.parametrize("case, expected", [
    ("no folder", "languages.yaml:6: error: language 'uz' has no folder uz/ beside this file "
                  "(a link is not followed): add it, or remove this line"),
    ("no catalog", "languages.yaml:6: error: language 'uz' has no catalog "
                   "locales/uz/LC_MESSAGES/messages.po: add it, or remove this line"),
    ("not listed", "uz:1: warning: folder 'uz' is not a language listed in languages.yaml; "
                   "its topics are not served: add a line there"),
    ("bad state", "languages.yaml:6: error: language 'uz': state must be full or partial, "
                  "got 'half'"),
    ("bad fallback", "languages.yaml:6: error: language 'uz': fallback 'tg' must be a full "
                     "language listed here"),
])
def test_a_language_half_added_is_one_located_problem(
        content_copy: Path, locales: Path, case: str, expected: str) -> None:
    without_real_uzbek(content_copy, locales)
    if case != "no catalog":
        add_catalog(locales, "uz", SCRATCH_CATALOG)
    if case != "no folder":
        (content_copy / "uz").mkdir()
        shutil.copy(content_copy / "ru" / "sos.md", content_copy / "uz" / "sos.md")
    line = {"not listed": "", "bad state": "uz: {name: Oʻzbekcha, state: half}\n",
            "bad fallback": "uz: {name: Oʻzbekcha, state: partial, fallback: tg}\n",
            }.get(case, UZ_LINE)
    add_language_line(content_copy, line)
    snapshot, problems = load_content(content_copy)
    shown = [str(p).removeprefix("real-content/") for p in problems]
    assert expected in shown, shown
    if case != "not listed":
        assert snapshot is None
        assert len([p for p in problems if p.severity == "error"]) == 1, shown


def test_without_languages_yaml_the_check_says_so(small_content: Path) -> None:
    (small_content / "languages.yaml").unlink()
    snapshot, problems = load_content(small_content)
    assert snapshot is None
    assert [str(p) for p in problems] == [
        "content/languages.yaml:1: error: languages.yaml is missing: list the bot's languages "
        "in it, one a line"]


def test_cli_lang_takes_the_configured_languages(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "паспорт", "--lang", "tg", "--json"]) == 2
    assert capsys.readouterr().err == (
        "jol: --lang tg: not a configured language (content/languages.yaml: ky, ru, uz)\n")
    assert main(["search", "паспорт", "--lang", "ky", "--json"]) == 0
    assert '"topic": "passport-taken"' in capsys.readouterr().out


def test_a_partial_topic_under_another_parent_is_one_error_at_its_file(
        small_content: Path, locales: Path) -> None:
    shutil.rmtree(locales / "uz")  # the real catalog: this test brings a minimal one
    add_catalog(locales, "uz", SCRATCH_CATALOG)
    (small_content / "uz").mkdir()
    text = (small_content / "ru" / "passport-taken.md").read_text(encoding="utf-8")
    (small_content / "uz" / "passport-taken.md").write_text(
        text.replace("parent: danger", "parent: help"), encoding="utf-8")
    add_language_line(small_content, UZ_LINE)
    snapshot, problems = load_content(small_content)
    assert snapshot is None
    assert [str(p) for p in problems if p.severity == "error"] == [
        "content/uz/passport-taken.md:3: error: parent 'help' differs from ru/passport-taken.md "
        "('danger')"]
