"""Statistics events and topic actions are declared once; the code may use nothing else."""

from __future__ import annotations

import ast
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot import REPO_ROOT, events
from bot.content.loader import load_content
from bot.content.model import TopicAction
from bot.db import create_engine
from bot.db.models import EVENT_LEN
from bot.events import EVENTS, Event, Key
from bot.i18n import discover
from bot.stats.cap import RESERVED_CELLS, DailyCap
from bot.stats.recorder import StatsRecorder
from bot.stats.release import Noise, NoisyCell, Period, Released, key_space
from bot.stats.reports import event_label, recheck_section, summary_table
from tests.conftest import REAL_CONTENT, write_topic
from tests.helpers import running_bot

CONTENT = load_content(REAL_CONTENT)[0]
assert CONTENT is not None
NOISE = Noise(epsilon=1.0, cap=4, minimum=5)
MONDAY = date(2026, 11, 23)
# The receivers of a statistics count in bot/: context.count, context.stats.count, …
COUNTERS = ("context", "stats", "recorder")


def _stats_counts() -> list[tuple[str, int, ast.expr, set[str]]]:
    """(file, line, first argument, the enclosing function's parameters typed Event) of every
    statistics count(...) call in bot/."""
    found = []
    for path in sorted((REPO_ROOT / "bot").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            typed = {a.arg for a in function.args.args + function.args.kwonlyargs
                     if a.annotation is not None and ast.unparse(a.annotation) == "Event"}
            for node in ast.walk(function):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "count"
                        and ast.unparse(node.func.value).endswith(COUNTERS)):
                    found.append((str(path.relative_to(REPO_ROOT)), node.lineno, node.args[0],
                                  typed))
    return found


def _named_events(argument: ast.expr) -> list[str] | None:
    """The events.X names an argument picks (`events.A if … else events.B` too), or None."""
    if isinstance(argument, ast.IfExp):
        body, orelse = _named_events(argument.body), _named_events(argument.orelse)
        return None if body is None or orelse is None else body + orelse
    if (isinstance(argument, ast.Attribute) and isinstance(argument.value, ast.Name)
            and argument.value.id == "events"):
        return [argument.attr]
    return None


def test_every_count_in_the_code_names_a_declared_event() -> None:
    calls = _stats_counts()
    assert len(calls) >= 12, calls  # the walk finds the handlers' counts
    counted: set[Event] = set()
    for path, line, argument, forwarded in calls:
        if isinstance(argument, ast.Name) and argument.id in forwarded:
            continue  # passes on its caller's Event (context.count): mypy checks the type
        names = _named_events(argument)
        assert names is not None, f"{path}:{line}: count() takes an event from bot/events.py"
        for name in names:
            event = getattr(events, name, None)
            assert isinstance(event, Event) and EVENTS.get(event.name) is event, (
                f"{path}:{line}: events.{name} is not declared in EVENTS")
            counted.add(event)
    # Nothing declared is dead: gap words are counted by count_gap_words.
    assert counted | {events.GAP} == set(EVENTS.values())


def test_an_undeclared_event_is_refused(tmp_path: Path) -> None:
    recorder = StatsRecorder(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"))
    with pytest.raises(LookupError, match=r"'new_event' is not declared in bot/events\.py"):
        recorder.count(Event("new_event", "New event"), "key", "ru")
    # A look-alike of a declared event is refused too: only the declaration itself counts.
    with pytest.raises(LookupError, match="'topic' is not declared"):
        recorder.count(Event("topic", "Topics viewed", Key.TOPIC), "russia", "ru")
    assert recorder.pending == 0
    recorder.count(events.TOPIC, "russia", "ru")
    assert recorder.pending == 1


@pytest.mark.parametrize("event", EVENTS.values(), ids=EVENTS)
def test_each_event_fits_the_counters_table_and_has_its_label_in_every_catalog(
        event: Event) -> None:
    assert event.name.isidentifier() and len(event.name) <= EVENT_LEN
    for lang in ("ky", "ru"):
        message = discover().catalogs[lang].get(event.label)
        assert message is not None and message.string, f"{lang}: {event.label!r}"
        assert event_label(event, lang) == message.string
    assert event_label(event, "en") == event.label


@pytest.mark.parametrize("event", [e for e in EVENTS.values() if e.key is not Key.WORD],
                         ids=lambda e: e.name)
def test_each_event_has_cells_in_every_release(event: Event) -> None:
    cells = [cell for cell in key_space(CONTENT) if cell[0] == event.name]
    assert cells, f"{event.name} would be counted but never released"
    assert {lang for _, _, lang in cells} == (set(CONTENT.languages.codes) if event.per_language
                                              else {""})
    if event.released_key is Key.NONE:
        assert {key for _, key, _ in cells} == {""}


def test_reserved_cells_come_from_the_declarations() -> None:
    assert RESERVED_CELLS == {"sos": 2, "contact_failed": 2}
    cap = DailyCap(1)
    cap.new_day(MONDAY)
    assert cap.admit(1, ("topic", "russia", "ru"))
    assert not cap.admit(1, ("topic", "korea", "ru"))  # the cap of 1 is used up
    assert cap.admit(1, ("sos", "", "ru")) and cap.admit(1, ("sos", "KG", "ru"))
    assert not cap.admit(1, ("sos", "RU", "ru"))  # SOS's own allowance of 2 is used up


@pytest.mark.parametrize("lang", ["ru", "ky"])
def test_every_declared_event_has_its_labelled_place_in_the_reports(lang: str) -> None:
    """A new event shows under its own label, never lost or lumped with others."""
    period = Period(MONDAY, MONDAY + timedelta(days=6), 1.0, 8.0)
    cells = [NoisyCell(MONDAY, event, key, cell_lang, 500 + i)
             for i, (event, key, cell_lang) in enumerate(key_space(CONTENT))]
    cells.append(NoisyCell(MONDAY, "gap", "виза", "", 90))
    report = Released([period], cells)
    table = summary_table(report, NOISE, lang)
    table += "\n".join(recheck_section(report, NOISE, {}, lang))
    for event in EVENTS.values():
        if event.key is not Key.WORD:  # gap words are their own list (gap_list)
            assert event_label(event, lang) in table, event.name
    assert "виза" not in table


def test_every_topic_action_is_accepted_named_for_editors_and_gets_its_button() -> None:
    guide = (REPO_ROOT / "content" / "README.md").read_text(encoding="utf-8")
    for action in TopicAction:
        assert f"`{action}`" in guide, action


async def test_a_topic_shows_a_button_for_each_action(small_content: Path,
                                                      tmp_path: Path) -> None:
    for lang in ("ru", "ky"):
        write_topic(small_content, lang, "tools", title="Инструменты", body="Всё вместе.",
                    extra="actions: [" + ", ".join(TopicAction) + "]\n")
    async with running_bot(tmp_path, small_content) as bot:
        screen = await bot.user("ru").send("/start tools")
    assert screen.button_labels[:3] == ["✅ Проверить предложение о работе",
                                        "✅ Проверить предложение родственнику",
                                        "🧹 Очистить этот чат"]


def test_an_unknown_action_is_a_located_problem_naming_the_known_ones(
        small_content: Path) -> None:
    path = write_topic(small_content, "ru", "tools", title="Инструменты", body="Всё.",
                       extra="actions: [check, dance]\n")
    write_topic(small_content, "ky", "tools", title="Инструменттер", body="Баары.",
                extra="actions: [check]\n")
    snapshot, problems = load_content(small_content)
    assert snapshot is None
    line = path.read_text(encoding="utf-8").splitlines().index("actions: [check, dance]") + 1
    assert [(p.line, p.message) for p in problems if p.severity == "error"] == [
        (line, "unknown action 'dance' (known: check, family-check, clear-chat)")]
