"""SOS asks for the country first, then shows that country's emergency numbers and the Kyrgyz
consular contacts on one short screen; the choice is only a counter per country."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.buttons import Button, SosButton, TopicButton
from bot.content.loader import load_content
from bot.stats.reports import load_counts
from tests.helpers import real_snapshot, running_bot

REAL = real_snapshot()
SOS_TOPIC = REAL.topic("ru", "sos")
assert SOS_TOPIC is not None
PICKER = {"ru": "В какой вы стране?", "ky": "Кайсы өлкөдөсүз?"}
DONT_KNOW = {"ru": "🌍 Другая страна / не знаю", "ky": "🌍 Башка өлкө / билбейм"}
CHECKED = {"ru": "сверены с источниками", "ky": "булактары менен салыштырылды"}


def phones(country: str, kind: str) -> list[str]:
    return [REAL.contacts[c].phone for c in SOS_TOPIC.contacts
            if REAL.contacts[c].country == country and REAL.contacts[c].kind == kind]


@pytest.mark.parametrize("lang", ["ru", "ky"])
async def test_sos_asks_for_the_country_then_shows_its_numbers_first(tmp_path: Path,
                                                                     lang: str) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user(lang)
        picker = await user.send("/sos")
        assert PICKER[lang] in picker.text
        russia = "🇷🇺 " + REAL.countries["RU"][lang]
        assert {"🇰🇬 " + REAL.countries["KG"][lang], russia, DONT_KNOW[lang]} <= set(
            picker.button_labels)
        assert len(picker.buttons[0]) == 2  # two countries a row: short on a small phone
        # Before the choice, no number is shown: the person is asked first.
        assert "☎️" not in picker.text

        screen = await user.press(russia)
        assert screen.message_id == picker.message_id  # edited in place
        text = screen.text
        local = phones("RU", "emergency")
        consular = phones("KG", "consular")
        assert local == ["112", "102", "103", "101"] and consular
        positions = [text.index(f"☎️ {phone} ") for phone in local + consular]
        assert positions == sorted(positions)  # Russia's numbers first, then the consulate
        assert "☎️ 119 " not in text and "☎️ 999 " not in text  # not other countries'
        assert text.count(CHECKED[lang]) == 1  # the date once for the screen
        assert text.count("⚠️") == len(consular)  # the unverified consular number is cautioned
        assert len(screen.text) < 1500
        hotlines = REAL.topic(lang, "hotlines")
        assert hotlines is not None
        assert "☎️ " + hotlines.title in screen.button_labels
        assert any(label.startswith("🏠") for label in screen.button_labels)

        again = await user.press(screen.button_labels[1])  # "other country": the picker
        assert PICKER[lang] in again.text


async def test_an_embassy_is_shown_in_its_own_country_only(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/sos")
        uae = await user.press("🇦🇪 ОАЭ")
        for phone in phones("AE", "consular") + phones("KG", "consular"):
            assert phone in uae.text
        await user.press("🌍 Другая страна")
        turkey = await user.press("🇹🇷 Турция")
        assert not any(phone in turkey.text for phone in phones("AE", "consular"))


async def test_dont_know_advises_the_local_number_without_promising_112(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/sos")
        screen = await user.press(DONT_KNOW["ru"])
        assert "Звоните на экстренный номер страны, где вы сейчас." in screen.text
        assert "Номер 112 работает во многих странах, например: Кыргызстан, Россия, " \
               "Казахстан, Турция" in screen.text
        for phone in phones("KG", "consular"):
            assert phone in screen.text
        assert "☎️ 102 " not in screen.text  # no country's police number is guessed


async def test_every_way_into_sos_asks_for_the_country(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ky")
        await user.send("/start")
        assert PICKER["ky"] in (await user.press("🆘 SOS")).text
        assert PICKER["ky"] in (await user.send("/start sos")).text
        assert PICKER["ky"] in (await user.press_data(TopicButton("sos").pack())).text


@pytest.mark.parametrize("data", ["sos:XX", "sos:ru", "sos:RUS", "sos:", "sos:--"])
async def test_a_forged_country_gets_the_picker_or_out_of_date(tmp_path: Path,
                                                               data: str) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/start")
        screen = await user.press_data(data)
        assert user.chat.callback_answers[-1] == "Эта кнопка устарела."
        assert PICKER["ru"] in screen.text or screen.text.startswith("Главное меню")


async def test_the_choice_is_only_a_counter_per_country(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        for country in ("RU", "RU", "KZ", "-"):
            user = bot.user("ru")
            await user.send("/sos")
            await user.press_data(SosButton(country).pack())
        await bot.services.stats.flush()
        rows = await load_counts(bot.services.engine, days=1)
    sos = {(r.key, r.lang, r.source): r.count for r in rows if r.event == "sos"}
    assert sos == {("", "ru", ""): 4, ("RU", "ru", ""): 2, ("KZ", "ru", ""): 1,
                   ("-", "ru", ""): 1}
    assert {r.event for r in rows} <= {"sos", "start"}  # nothing else was counted


def test_callback_grammar_for_sos() -> None:
    assert Button.parse("sos") == SosButton()
    assert Button.parse("sos:KG") == SosButton("KG")
    assert Button.parse("sos:-") == SosButton("-")
    for bad in ("sos:kg", "sos:K", "sos:KGZ", "sos:", "sos:K1", "sos:--", "sos:КГ", "sos:KG:1"):
        assert Button.parse(bad) is None, bad


def test_a_wrong_contact_kind_is_a_located_error(content_copy: Path) -> None:
    path = content_copy / "contacts.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    kind: consular", "    kind: embassy", 1), encoding="utf-8")
    line = next(n for n, row in enumerate(path.read_text("utf-8").splitlines(), 1)
                if row == "    kind: embassy")
    snapshot, problems = load_content(content_copy)
    assert snapshot is None
    assert any(p.path.endswith("contacts.yaml") and p.line == line
               and "kind must be one of: emergency, consular, hotline" in p.message
               for p in problems), [str(p) for p in problems]
