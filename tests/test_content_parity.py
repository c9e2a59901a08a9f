"""Every real content file, in both languages: same structure, valid Telegram HTML, in limits."""

from __future__ import annotations

import re

import pytest

from bot.content.loader import load_content
from bot.fake_telegram import MESSAGE_LIMIT, visible_text
from tests.conftest import FULL_LANGUAGES, REAL_CONTENT

SNAPSHOT, PROBLEMS = load_content(REAL_CONTENT)
assert SNAPSHOT is not None, [str(p) for p in PROBLEMS]
REQUIRED_IDS = [
    "before-you-go", "check-agency", "job-offer-red-flags", "online-recruitment",
    "trafficking-signs", "contract", "documents", "russia", "kazakhstan", "turkey", "korea",
    "uk", "uae", "entry-ban", "unpaid-wages", "passport-taken", "detained",
    "family-lost-contact", "family-check-offer", "hotlines", "sos", "phone-safety",
]


CYRILLIC = re.compile("[\u0400-\u04ff]")
UZ_TOPICS = {"sos", "trafficking-signs", "passport-taken", "hotlines", "foreigner-in-kyrgyzstan",
             "danger", "trouble", "help"}


def test_real_content_is_clean_even_strictly() -> None:
    # The one line left is a note (never an error, not even with --strict): Uzbek is partial.
    assert [p for p in PROBLEMS if p.severity != "note"] == []
    notes = [p for p in PROBLEMS if p.severity == "note"]
    assert [(p.path, p.key) for p in notes] == [
        ("content/uz", "'{lang}' is partial: {count} topics are shown in '{fallback}' with a "
                       "note: {ids}")]
    assert SNAPSHOT is not None
    assert dict(notes[0].values)["count"] == str(len(SNAPSHOT.topic_ids()) - len(UZ_TOPICS))


def test_uzbek_has_the_core_topics_in_the_same_place_as_russian() -> None:
    assert SNAPSHOT is not None
    assert {i for lang, i in SNAPSHOT.topics if lang == "uz"} == UZ_TOPICS
    for topic_id in sorted(UZ_TOPICS):
        uz, ru = SNAPSHOT.topic("uz", topic_id), SNAPSHOT.topic("ru", topic_id)
        assert uz is not None and ru is not None
        assert (uz.parent, uz.order, uz.contacts, uz.related, uz.actions) == (
            ru.parent, ru.order, ru.contacts, ru.related, ru.actions), topic_id
        assert uz.sources and uz.keywords
        for page in uz.pages:
            assert len(visible_text(page, "HTML")) + 40 <= MESSAGE_LIMIT


def test_every_contact_and_country_an_uzbek_topic_shows_is_named_in_uzbek() -> None:
    # A missing uz value would quietly show the Russian one: each must be there, in Latin script.
    assert SNAPSHOT is not None
    for topic_id in sorted(UZ_TOPICS):
        topic = SNAPSHOT.topic("uz", topic_id)
        assert topic is not None
        for contact_id in topic.contacts:
            contact = SNAPSHOT.contacts[contact_id]
            for field in (contact.name, contact.note, contact.hours,
                          SNAPSHOT.countries[contact.country]):
                if field:
                    assert field.get("uz") and not CYRILLIC.search(field["uz"]), contact_id


def test_every_required_topic_exists_in_both_languages() -> None:
    assert SNAPSHOT is not None
    for topic_id in REQUIRED_IDS:
        for lang in FULL_LANGUAGES:
            assert SNAPSHOT.topic(lang, topic_id) is not None, (lang, topic_id)


@pytest.mark.parametrize("topic_id", sorted({i for _, i in SNAPSHOT.topics}))
def test_topic_parity_and_limits(topic_id: str) -> None:
    assert SNAPSHOT is not None
    ky, ru = SNAPSHOT.topic("ky", topic_id), SNAPSHOT.topic("ru", topic_id)
    assert ky is not None and ru is not None
    assert (ky.parent, ky.order, ky.contacts, ky.related, ky.actions) == (
        ru.parent, ru.order, ru.contacts, ru.related, ru.actions)
    assert len(ky.pages) == len(ru.pages) or abs(len(ky.pages) - len(ru.pages)) == 1
    for topic in (ky, ru):
        assert topic.sources and topic.keywords
        for page in topic.pages:
            text = visible_text(page, "HTML")  # raises on HTML Telegram would refuse
            # Room for the page footer ("Страница 1 из 2") that the bot adds.
            assert len(text) + 40 <= MESSAGE_LIMIT


def test_every_phone_number_in_content_has_a_source() -> None:
    assert SNAPSHOT is not None
    for contact in SNAPSHOT.contacts.values():
        assert contact.source and contact.verified_on
        for lang in FULL_LANGUAGES:
            assert contact.name[lang]


def test_self_check_is_complete_in_both_languages() -> None:
    assert SNAPSHOT is not None
    check = SNAPSHOT.selfcheck
    assert len(check.destinations) == 9
    for place in check.destinations:
        assert 8 <= len(place.questions) <= 12
        for question in place.questions:
            for lang in FULL_LANGUAGES:
                assert question.ask[lang] and question.ask_family[lang] and question.why[lang]
        risky = "".join(q.risky for q in place.questions)
        assert check.result(place, risky).level.id == "high"
        safe = "".join(q.safe for q in place.questions)
        assert check.result(place, safe).level.id == "low"
