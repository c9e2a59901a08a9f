"""Property test: whatever bytes or YAML an editor (or an attacker) saves, the loader answers
with located problems and never raises."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.content.loader import load_content
from bot.content.model import Problem

TODAY = date(2026, 11, 29)
# About 20 s in all on a CI machine: each example loads a whole small content folder.
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

YAML_PIECES = st.sampled_from([
    "title: ", "parent: ", "main", "danger", "order: ", "keywords: ", "reviewed: ",
    "2026-02-30", "2026-11-01", "sources:", "contacts: ", "related: ", "actions: ", "- ", "  ",
    "\t", "\n", ": ", "[", "]", "{", "}", "\"", "'", "&a ", "*a", "!!python/object ", "? ",
    "---", "...", "|", ">", "#", "%YAML 1.1", "~", "null", "yes", "1e9999", "9" * 5000,
    "\ufeff", "\u200b", "\x85", "\u2028", "\r", "ё", "<b>", "**", "_", "[x](http://a)",
])
FRONT_MATTER = st.lists(st.one_of(YAML_PIECES, st.text(max_size=8)), max_size=40).map("".join)


@pytest.fixture
def content(small_content: Path) -> Iterator[Path]:
    yield small_content
    shutil.rmtree(small_content, ignore_errors=True)


def assert_located(problems: list[Problem]) -> None:
    for problem in problems:
        assert problem.line >= 1 and problem.path.startswith("content/"), problem
        assert "internal error" not in problem.message, problem
        problem.show("ru")
        problem.show("en")


@FUZZ
@given(front=FRONT_MATTER, body=st.text(max_size=200))
def test_any_front_matter_gives_located_problems(content: Path, front: str, body: str) -> None:
    (content / "ru" / "danger.md").write_text(f"---\n{front}\n---\n{body}", encoding="utf-8",
                                               errors="surrogatepass")
    _, problems = load_content(content, today=TODAY)
    assert_located(problems)


@FUZZ
@given(data=st.binary(max_size=300))
def test_any_bytes_give_located_problems(content: Path, data: bytes) -> None:
    (content / "ky" / "help.md").write_bytes(data)
    _, problems = load_content(content, today=TODAY)
    assert_located(problems)
    assert any(p.path == "content/ky/help.md" for p in problems)


@FUZZ
@given(entry=FRONT_MATTER)
def test_any_contact_entry_gives_located_problems(content: Path, entry: str) -> None:
    path = content / "contacts.yaml"
    original = path.read_text(encoding="utf-8")
    path.write_text(original + "  - " + entry.replace("\n", "\n    ") + "\n", encoding="utf-8",
                    errors="surrogatepass")
    try:
        _, problems = load_content(content, today=TODAY)
    finally:
        path.write_text(original, encoding="utf-8")
    assert_located(problems)
