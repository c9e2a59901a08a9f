"""Search over the real content: realistic queries, typed as people type on a phone."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from bot import REPO_ROOT
from bot.cli import main
from bot.content.model import Topic
from bot.content.search import SearchIndex, clear_winner, skeleton, words
from tests.helpers import real_snapshot

QUERY_FILES = [Path(__file__).with_name("search_queries.tsv"),
               REPO_ROOT.parent / "shared" / "eval" / "search-dev.tsv"]
OFFTOPIC_FILE = Path(__file__).with_name("search_offtopic.tsv")
REAL = real_snapshot()


def load_queries() -> list[tuple[str, str, list[str]]]:
    rows = []
    for path in QUERY_FILES:
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                lang, query, expected = line.split("\t")
                rows.append((lang, query, expected.split(",")))
    return rows


def test_skeleton_folds_scripts_and_kyrgyz_letters() -> None:
    assert skeleton("Паспорт") == skeleton("pasport") == skeleton("пасспорт")
    assert skeleton("өлкө") == skeleton("олко") == skeleton("olko")
    assert skeleton("Россия") == skeleton("rossiya") == skeleton("rossiia")
    assert skeleton("жумуш") == skeleton("jumush") == skeleton("zhumush")
    assert words("как мне в Москву?") == [skeleton("Москву")]


def test_realistic_queries_find_the_right_topic() -> None:
    queries = load_queries()
    assert len(queries) >= 40
    misses = []
    for lang, query, expected in queries:
        top3 = [hit.topic for hit in REAL.search.search(query, lang)[:3]]
        if not set(top3) & set(expected):
            misses.append(f"{lang} {query!r}: got {top3}, want one of {expected}")
    # A few misses are tolerated, so that the content can grow without re-tuning search.
    assert len(misses) <= len(queries) // 20, "\n".join(misses)


def test_most_queries_find_the_best_topic_first() -> None:
    queries = load_queries()
    first = [REAL.search.search(query, lang)[:1] for lang, query, _ in queries]
    right = sum(bool(hits) and hits[0].topic in expected
                for hits, (_, _, expected) in zip(first, queries, strict=True))
    assert right >= 0.92 * len(queries), f"{right} of {len(queries)} right at the top"


@pytest.mark.parametrize("lang", ["ky", "ru"])
def test_off_topic_messages_find_nothing_in_each_language(lang: str) -> None:
    messages = [line.split("\t")[1] for line in OFFTOPIC_FILE.read_text("utf-8").splitlines()
                if line.startswith(lang + "\t")]
    assert len(messages) >= 40
    found = [m for m in messages if REAL.search.search(m, lang)]
    assert len(found) <= 0.1 * len(messages), found


def _topic(topic_id: str, title: str, keywords: tuple[str, ...], body: str = "") -> Topic:
    return Topic(id=topic_id, lang="ru", title=title, parent=None, order=0, keywords=keywords,
                 reviewed=date(2026, 11, 1), sources=(), contacts=(), related=(), actions=(),
                 body=body, file=f"ru/{topic_id}.md", body_line=1)


def _index(*topics: Topic) -> SearchIndex:
    """An index of these topics among twenty unrelated ones, so rarity works as in real content."""
    filler = [_topic(f"filler-{i}", f"Раздел {i}", (f"слово{i}",), body="обычный текст")
              for i in range(20)]
    return SearchIndex.build([*topics, *filler])


def test_a_multi_word_keyword_counts_as_a_phrase() -> None:
    index = _index(
        _topic("lost", "Пропал человек", ("не выходит на связь",)),
        _topic("phone", "Телефон", ("связь", "выходит")),
    )
    # Both words appear in both topics' keywords; only one has them as a phrase.
    assert index.search("брат не выходит на связь", "ru")[0].topic == "lost"
    assert index.search("плохая связь", "ru")[0].topic == "phone"


def test_a_place_name_does_not_outweigh_the_problem() -> None:
    index = _index(
        _topic("russia", "Россия", ("екатеринбург", "москва")),
        _topic("lost", "Пропал человек", ("пропал", "телефон выключен")),
        _topic("wages", "Зарплата", ("зарплата",)),
    )
    hits = index.search("брат уехал в екатеринбург и пропал, телефон выключен", "ru")
    assert hits[0].topic == "lost"
    assert index.search("работа в екатеринбурге", "ru")[0].topic == "russia"  # alone, it decides


def test_kyrgyz_auxiliary_verbs_do_not_decide_a_match() -> None:
    index = _index(
        _topic("wages", "Айлык", ("айлык",)),
        _topic("stay", "Калуу", ("калды", "жатат")),
    )
    assert [h.topic for h in index.search("айлык бербей жатат, акча калды", "ru")] == ["wages"]
    assert words("жатат жатам калды кетти") == []


def test_a_web_address_is_one_word() -> None:
    assert words("проверьте на migrant.kg или https://mvd.ru/check") == [
        skeleton("проверьте"), "migrant.kg", "mvd.ru/check"]
    index = _index(_topic("ban", "Запрет", ("migrant.kg",)),
                   _topic("other", "Другое", ("мигрант работа",)))
    assert index.search("migrant.kg", "ru")[0].topic == "ban"
    assert all(hit.topic != "ban" for hit in index.search("я мигрант", "ru"))


def test_a_weak_fuzzy_match_alone_finds_nothing() -> None:
    index = _index(_topic("kids", "Дети", ("балам",), body="балам " * 8))
    assert index.search("салам", "ru") == []  # one letter off
    assert index.search("балам", "ru")[0].topic == "kids"


def test_a_rare_word_in_body_text_alone_finds_nothing() -> None:
    # "в этом году" in one topic's text is a detail, not what the topic is about.
    index = _index(_topic("ban", "Запрет на въезд", ("запрет",), body="в этом году " * 3))
    assert index.search("когда рамадан в этом году", "ru") == []
    assert index.search("запрет в этом году", "ru")[0].topic == "ban"


def test_kyrgyz_endings_do_not_hide_a_keyword() -> None:
    index = _index(_topic("wages", "Айлык", ("айлык",)),
                   _topic("women", "Аялдар", ("ала качуу",)))
    assert index.search("айлыгымды бербей жатат", "ky")[0].topic == "wages"  # к → г
    assert index.search("ayligimdy berbey jatat", "ky")[0].topic == "wages"
    assert index.search("кызды ала качып кетишти", "ky")[0].topic == "women"  # -уу ~ -ып


def test_a_place_with_another_ending_is_still_a_place() -> None:
    index = _index(_topic("uae", "Дубай", ("эмираты",)),
                   _topic("wages", "Зарплата", ("не платят",), body="хозяин"))
    assert index.search("в дубае хозяин не платят", "ru")[0].topic == "wages"
    assert index.search("работа в дубае", "ru")[0].topic == "uae"  # alone, it decides


def test_clear_winner_needs_twice_the_second() -> None:
    from bot.content.search import SearchHit

    assert clear_winner([SearchHit("a", 20.0), SearchHit("b", 9.0)])
    assert not clear_winner([SearchHit("a", 20.0), SearchHit("b", 11.0)])
    assert clear_winner([SearchHit("a", 7.0)])
    assert not clear_winner([SearchHit("a", 5.0)])  # alone, but too weak to open blind
    assert not clear_winner([])


def test_nonsense_finds_nothing() -> None:
    for query in ("ъъъ", "фывапролджэ", "qwertyuiop", "12345", "", "🙂🙂", "<script>"):
        assert REAL.search.search(query, "ru") == [], query


def test_cli_search_json_and_stdin(capsys: pytest.CaptureFixture[str],
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    assert main(["search", "забрали паспорт", "--lang", "ru", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["topic"] == "passport-taken"
    assert all(set(hit) == {"topic", "score"} for hit in hits)

    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("Кореяга кантип барам\nфывапролджэ\n"))
    assert main(["search", "-", "--lang", "ky"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert json.loads(lines[0])[0]["topic"] == "korea"
    assert json.loads(lines[1]) == []


def test_small_talk_is_no_question_but_a_cry_for_help_finds_sos() -> None:
    for lang, message in (("ru", "спасибо за помощь"), ("ky", "жардамыңыз үчүн рахмат"),
                          ("ru", "добрый день"), ("ky", "ассалому алейкум"), ("ky", "макул")):
        assert REAL.search.search(message, lang) == [], message
    assert "sos" in [hit.topic for hit in REAL.search.search("помогите", "ru")[:3]]
    assert REAL.search.search("помощь", "ru")  # what one thanks for is still a question


def test_a_place_or_a_thing_with_an_everyday_word_finds_nothing() -> None:
    index = _index(_topic("russia", "Россия", ("москва", "регистрация")),
                   _topic("online", "Работа через интернет", ("интернет", "вакансия")),
                   _topic("detained", "Задержала полиция", ("задержали",)))
    assert index.search("погода в москве", "ru") == []  # a place and a word no topic knows
    assert index.search("интернет медленный", "ru") == []
    assert index.search("задержали в москве", "ru")[0].topic == "detained"
    assert index.search("москва", "ru")[0].topic == "russia"  # alone, it decides
    # Beside a place, working, going or staying asks about that country.
    assert index.search("как долго можно жить в москве", "ru")[0].topic == "russia"
    assert index.search("Москвада иштесе болобу", "ky")[0].topic == "russia"


def test_a_russian_ending_does_not_hide_a_keyword() -> None:
    index = _index(_topic("visa", "Турция", ("виза", "ферма")))
    assert index.search("нужны ли визы", "ru")[0].topic == "visa"
    assert index.search("работа на ферме", "ru")[0].topic == "visa"
