"""An Uzbek speaker (Telegram set to uz) gets the UI and the core topics in Uzbek, and every
other topic in Russian under a one-line note in Uzbek (content/languages.yaml: uz is partial)."""

from __future__ import annotations

from pathlib import Path

from bot.content.loader import load_content
from bot.content.search import small_talk, words
from tests.conftest import REAL_CONTENT
from tests.helpers import running_bot

REAL = load_content(REAL_CONTENT)[0]
assert REAL is not None
NOTE = "Bu sahifa hali tilingizga tarjima qilinmagan, shuning uchun «Русский» tilida koʻrsatildi."
NO_UZBEK_OPERATORS = "operatorlar oʻzbekcha gapirishini hech bir manba aytmaydi"


def title(lang: str, topic_id: str) -> str:
    topic = REAL.topic(lang, topic_id)
    assert topic is not None
    return topic.title


async def test_the_main_menu_is_in_uzbek_with_russian_sections_where_uzbek_has_none(
        tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        menu = await bot.user("uz").send("/start")
        assert menu.text.startswith("Bosh menyu")
        labels = menu.button_labels
        assert {"Aldov va xavf", "Muammoga duch kelsangiz", "Yordam va telefonlar",
                "🆘 SOS", "🌐 Til", "🛡 Xavfsizlik"} <= set(labels)
        assert title("ru", "leaving") in labels  # no Uzbek section yet: shown in Russian


async def test_sos_in_kyrgyzstan_is_in_uzbek_and_promises_no_uzbek_speaking_operator(
        tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("uz")
        picker = await user.send("/sos")
        assert "Qaysi davlatdasiz?" in picker.text
        screen = await user.press("🇰🇬 Qirgʻiziston")
        assert NO_UZBEK_OPERATORS in screen.text
        assert "☎️ 112 — Qutqaruv xizmati" in screen.text and "☎️ 102 — Militsiya" in screen.text
        assert "⚠️ Tasdiqlanmagan" in screen.text  # the consular number is a crisis-time one
        assert "☎️ Ishonch telefonlari" in screen.button_labels


async def test_a_foreigner_in_kyrgyzstan_reads_in_uzbek_that_no_helpline_was_found(
        tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("uz")
        await user.send("/menu")
        section = await user.press("Muammoga duch kelsangiz")
        assert NOTE not in section.text
        topic = await user.press("Qirgʻizistonda chet ellik")
        for said in ("Qirgʻizistonda Oʻzbekiston fuqarolari uchun ishonch telefonini topmadik",
                     "112 va 102 operatorlari oʻzbek tilida javob berishini hech bir manba"):
            assert said in topic.text, said
        assert NOTE not in topic.text


async def test_a_topic_not_yet_in_uzbek_comes_in_russian_under_an_uzbek_note(
        tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("uz")
        await user.send("/menu")
        section = await user.press("Muammoga duch kelsangiz")
        unpaid = title("ru", "unpaid-wages")
        assert unpaid in section.button_labels and title("uz", "passport-taken") in (
            section.button_labels)
        topic = await user.press(unpaid)
        assert topic.text.startswith(NOTE)
        assert unpaid in topic.text
        assert "🏠 Menyu" in topic.button_labels  # the buttons stay in Uzbek


async def test_an_uzbek_search_finds_the_uzbek_topic(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        found = await bot.user("uz").send("Oʻzbekiston elchixonasi")
        assert found.text.startswith(title("uz", "foreigner-in-kyrgyzstan")) or (
            title("uz", "foreigner-in-kyrgyzstan") in found.button_labels[:3])


def test_an_apostrophe_typed_any_way_is_the_same_uzbek_word() -> None:
    # oʻ and gʻ: phones type ' ʻ ‘ ’ or nothing; all must find the same topic words.
    forms = ["qoʻyishdi", "qo'yishdi", "qo‘yishdi", "qo’yishdi", "qo`yishdi", "qoyishdi"]
    assert len({tuple(words(form)) for form in forms}) == 1
    assert small_talk("xo'p") == small_talk("xoʻp") == "ok"


async def test_uzbek_greetings_and_thanks_are_answered_not_searched(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("uz")
        hello = await user.send("Assalomu alaykum")
        assert hello.text.startswith("Assalomu alaykum! Men Jol.")
        thanks = await user.send("Katta rahmat!")
        assert thanks.text.startswith("Arzimaydi!")
        locked = await user.send("meni qamab qo'yishdi")  # typed with a plain apostrophe
        assert locked.text.startswith(title("uz", "trafficking-signs"))
