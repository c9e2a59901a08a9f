"""An Uzbek speaker (Telegram set to uz) gets the UI and the core topics in Uzbek, and every
other topic in Russian under a one-line note in Uzbek (content/languages.yaml: uz is partial)."""

from __future__ import annotations

import re
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.content.loader import load_content
from bot.content.search import small_talk, words
from bot.handoff.hours import DAYS, now_utc
from tests.conftest import REAL_CONTENT
from tests.helpers import running_bot
from tests.test_talk import case_rows, casework, group, topic_texts

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



# ---- Talk to a person, in Uzbek (the caseworkers' side stays Russian: CASEWORK_LANG)
UZ_DAYS = ("Du", "Se", "Ch", "Pa", "Ju", "Sh", "Ya")
CYRILLIC = re.compile("[а-яё]", re.IGNORECASE)


async def test_an_uzbek_speaker_reads_the_consent_screen_in_uzbek(tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        screen = await bot.user("uz").send("/talk")
        assert screen.text.startswith("💬 Odam bilan gaplashish")
        assert ("Xabarlaringizni Тестовая НКО «Путь» tashkiloti xodimlari oʻqiydi. Ular javob "
                "beradigan vaqt: Du–Ya 00:00–24:00 (Asia/Bishkek).") in screen.text
        for said in ("Bu favqulodda yordam xizmati emas", "uchdan-uchgacha shifrlamaydi",
                     "faqat murojaat kodini koʻradi", "30 kun xabar boʻlmasa",
                     "«Suhbatni tugatish» tugmasi yoki /talk"):
            assert said in screen.text, said
        assert "Hozir ish vaqti emas" not in screen.text
        # Nothing fell back to Russian: the NGO's own name is the only Cyrillic on the screen.
        assert not CYRILLIC.search(screen.text.replace("Тестовая НКО «Путь»", ""))
        assert screen.button_labels == ["✅ Roziman, boshlash", "🏠 Menyu", "🆘 SOS"]
        assert group(bot).topics == {}  # nothing opens before consent


async def test_outside_working_hours_the_uzbek_consent_screen_names_the_days_in_uzbek(
        tmp_path: Path) -> None:
    tomorrow = (now_utc().astimezone(ZoneInfo("Asia/Bishkek")).weekday() + 1) % 7
    hours = f"{DAYS[tomorrow]} 09:00-18:00 Asia/Bishkek"
    async with casework(tmp_path, JOL_CASEWORK_HOURS=hours) as bot:
        screen = await bot.user("uz").send("/talk")
        assert f"Ular javob beradigan vaqt: {UZ_DAYS[tomorrow]} 09:00–18:00" in screen.text
        assert "Hozir ish vaqti emas: sizga keyinroq javob berishadi." in screen.text
        assert "🆘 SOS" in screen.button_labels


async def test_an_uzbek_conversation_opens_and_ends_in_uzbek_with_russian_notes_for_caseworkers(
        tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("uz")
        await user.send("/talk")
        opened = await user.press("✅ Roziman, boshlash")
        (row,) = await case_rows(bot)
        code = row["code"]
        assert opened.text.startswith(f"{code} suhbati ochildi.")
        assert opened.button_labels == ["✋ Suhbatni tugatish", "🆘 SOS"]
        (thread,) = group(bot).topics
        assert topic_texts(bot, thread)[0].startswith(f"Обращение {code} · uz.")
        screen = await user.send("/talk")
        assert screen.text.startswith(f"Sizda {code} suhbati ochiq.")
        ended = await user.press("✋ Suhbatni tugatish")
        assert ended.text.startswith("Suhbat tugadi.") and ended.text.endswith("/talk.")
        assert topic_texts(bot, thread)[-1].startswith("Человек завершил разговор.")
