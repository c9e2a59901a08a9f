"""A foreigner (Uzbek, Tajik, Turkmen national) exploited in Kyrgyzstan finds one topic under
"trouble" that says plainly what was not found: no helpline for Uzbek nationals, no sign that the
emergency lines answer in Uzbek. It points to SOS and never shows an unconfirmed number plainly."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content.loader import load_content
from tests.conftest import REAL_CONTENT
from tests.helpers import running_bot

REAL = load_content(REAL_CONTENT)[0]
assert REAL is not None
TOPIC = "foreigner-in-kyrgyzstan"
NEXT = {"ru": "Дальше ▶️", "ky": "Кийинки ▶️"}
# What the first page must say, in the words a reader sees (uz-tg-audience.md §1 and summary).
NOT_FOUND = {
    "ru": ("112 (служба спасения)", "Ни один источник не говорит, что операторы 112 и 102",
           "Телефона доверия для граждан Узбекистана в Кыргызстане мы не нашли"),
    "ky": ("112 (куткаруу кызматы)", "112 жана 102 операторлору өзбекче",
           "Өзбекстандын жарандары үчүн ишеним телефонун таба алган жокпуз"),
}
CAUTION = {"ru": "⚠️ Не подтверждён", "ky": "⚠️"}


def title(lang: str, topic_id: str) -> str:
    topic = REAL.topic(lang, topic_id)
    assert topic is not None
    return topic.title


@pytest.mark.parametrize("lang", ["ru", "ky"])
async def test_a_foreigner_finds_the_topic_under_trouble_and_reads_what_was_not_found(
        tmp_path: Path, lang: str) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user(lang)
        await user.send("/menu")
        section = await user.press(title(lang, "trouble"))
        assert title(lang, TOPIC) in section.button_labels
        first = await user.press(title(lang, TOPIC))
        assert first.text.startswith(title(lang, TOPIC))
        for words in NOT_FOUND[lang]:
            assert words in first.text, words
        assert "SOS" in first.text and any("SOS" in label for label in first.button_labels)

        screen = first
        while NEXT[lang] in screen.button_labels:
            screen = await user.press(NEXT[lang])
        # The numbers come on the last page: Kyrgyzstan's emergency lines, and the one number
        # for Uzbek citizens going on to Russia, which only one news item gives: cautioned.
        assert "☎️ 112 " in screen.text and "☎️ 102 " in screen.text
        moscow = screen.text[screen.text.index("☎️ +7 925 045-47-44"):]
        assert CAUTION[lang] in moscow


def test_the_only_number_for_uzbek_citizens_is_unverified_and_traced_to_its_source() -> None:
    contact = REAL.contacts["ru-uz-migration-agency"]
    assert not contact.verified
    assert "yuz.uz" in contact.source and "UNCONFIRMED" in contact.source
    assert contact.name["uz"].startswith("Oʻzbekiston Migratsiya agentligi")


@pytest.mark.parametrize(("lang", "query"), [
    ("ru", "я гражданка узбекистана, в оше меня не отпускают"),
    ("ru", "посольство узбекистана"),
    ("ky", "Өзбекстандын элчилиги"),
    ("ky", "тажик Кыргызстанда мажбурлап иштетип жатышат"),
])
def test_search_finds_the_topic_for_a_foreigner(lang: str, query: str) -> None:
    # Among the first three: forced labour alone may rank trafficking-signs first (it helps too).
    assert TOPIC in [hit.topic for hit in REAL.search.search(query, lang)][:3]


@pytest.mark.parametrize(("lang", "russian"), [("uz", "ruscha"), ("ru", "по-русски"),
                                               ("ky", "орусча")])
def test_the_page_names_the_talk_button_as_the_bot_labels_it_and_warns_of_russian(
        lang: str, russian: str) -> None:
    # The button shows only when an NGO is configured; caseworkers may not know Uzbek.
    label = "💬 " + REAL.catalogs.texts(lang)("Talk to a person")
    topic = REAL.topic(lang, TOPIC)
    assert topic is not None
    text = "\n".join(topic.pages)
    (sentence,) = [line for line in text.splitlines() if f"«{label}»" in line]
    assert russian in sentence
