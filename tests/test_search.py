"""Search over the real content: realistic queries, typed as people type on a phone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot import REPO_ROOT
from bot.cli import main
from bot.content.loader import load_content
from bot.content.search import skeleton, words
from tests.conftest import REAL_CONTENT

QUERY_FILES = [Path(__file__).with_name("search_queries.tsv"),
               REPO_ROOT.parent / "shared" / "eval" / "search-dev.tsv"]


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
    snapshot, _ = load_content(REAL_CONTENT)
    assert snapshot is not None
    queries = load_queries()
    assert len(queries) >= 40
    misses = []
    for lang, query, expected in queries:
        top3 = [hit.topic for hit in snapshot.search.search(query, lang)[:3]]
        if not set(top3) & set(expected):
            misses.append(f"{lang} {query!r}: got {top3}, want one of {expected}")
    # A few misses are tolerated, so that the content can grow without re-tuning search.
    assert len(misses) <= len(queries) // 20, "\n".join(misses)


def test_nonsense_finds_nothing() -> None:
    snapshot, _ = load_content(REAL_CONTENT)
    assert snapshot is not None
    for query in ("ъъъ", "фывапролджэ", "qwertyuiop", "12345", "", "🙂🙂", "<script>"):
        assert snapshot.search.search(query, "ru") == [], query


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
