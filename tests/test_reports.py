"""Reports: small counts never leave the server exactly; CSV, chart, gaps and retention work."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.stats.models import Counter
from bot.stats.recorder import StatsRecorder
from bot.stats.reports import (
    CountRow,
    chart_png,
    delete_older_than,
    gap_words,
    load_counts,
    summary_table,
    suppress,
    to_csv,
)

TODAY = date(2026, 11, 29)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def record(engine: AsyncEngine, day: date, event: str, key: str = "", lang: str = "",
                 source: str = "", times: int = 1) -> None:
    recorder = StatsRecorder(engine, today=lambda: day)
    for _ in range(times):
        recorder.count(event, key, lang, source)
    await recorder.close()


def row(event: str, key: str = "", lang: str = "", source: str = "", count: int = 1,
        day: date = TODAY) -> CountRow:
    return CountRow(day, event, key, lang, source, count)


def table_line(table: str, first_cell: str) -> list[str]:
    """The cells of the table row that starts with `first_cell`."""
    for line in table.splitlines():
        cells = line.split()
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{table}")


@pytest.mark.parametrize(
    ("count", "minimum", "shown"),
    [(0, 5, "<5"), (1, 5, "<5"), (4, 5, "<5"), (5, 5, "5"), (123, 5, "123"),
     (1, 2, "<2"), (1, 1, "1"), (3, 0, "3"), (0, 0, "0")],
)
def test_suppress(count: int, minimum: int, shown: str) -> None:
    assert suppress(count, minimum) == shown


def test_csv_has_the_header_and_hides_small_counts() -> None:
    rows = [
        row("topic", "russia", "ky", count=12),
        row("topic", "korea", "ru", count=3, day=TODAY - timedelta(days=1)),
        row("start", "", "", "-A1", count=7),  # a source a spreadsheet would run as a formula
    ]
    text = to_csv(rows, minimum=5)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed == [
        ["day", "event", "key", "lang", "source", "count"],
        ["2026-11-29", "topic", "russia", "ky", "", "12"],
        ["2026-11-28", "topic", "korea", "ru", "", "<5"],
        ["2026-11-29", "start", "", "", "'-A1", "7"],
    ]
    assert text.startswith("day,event,key,lang,source,count\r\n")


def test_csv_without_minimum_shows_exact_counts() -> None:
    parsed = list(csv.reader(io.StringIO(to_csv([row("sos", lang="ru", count=2)], minimum=0))))
    assert parsed[1][-1] == "2"


def test_summary_table_sections_and_suppression() -> None:
    rows = [
        row("topic", "russia", "ky", count=40), row("topic", "russia", "ru", count=12),
        row("topic", "korea", "ru", count=3), row("topic", "korea", "ky", count=12),
        row("topic", "trafficking", "ky", count=2),
        row("start", "", "", "", count=30), row("start", "russia", "", "tiktok_may", count=6),
        row("start", "", "", "radio", count=2),
        row("search_found", "russia", "ky", count=25), row("search_not_found", "", "ru", count=4),
        row("sos", "", "ru", count=9),
        row("language", "ky", "", count=11), row("language", "ru", "", count=7),
        row("check", "high", "ky", count=6), row("check", "low", "ru", count=1),
        row("gap", "виза", "ru", count=50),
    ]
    table = summary_table(rows, minimum=5, lang="en")

    for heading in ("Topics viewed", "Starts by campaign source", "Searches", "SOS opened",
                    "Languages chosen", "Job-offer check results by risk level"):
        assert heading in table
    assert table_line(table, "russia") == ["russia", "40", "12", "52"]
    # ky 12 + ru "<5": an exact total of 15 would give the 3 away, so it is rounded.
    assert table_line(table, "korea") == ["korea", "12", "<5", "~15"]
    assert table_line(table, "trafficking") == ["trafficking", "<5", "–", "<5"]
    assert table_line(table, "tiktok_may") == ["tiktok_may", "6"]
    assert table_line(table, "radio") == ["radio", "<5"]
    assert table_line(table, "found") == ["found", "25", "–", "25"]
    assert table_line(table, "opened") == ["opened", "–", "9", "9"]
    assert table_line(table, "high") == ["high", "6", "–", "6"]
    assert table_line(table, "low") == ["low", "–", "<5", "<5"]
    assert "виза" not in table  # search words appear only in gap_words()
    # No exact small count, and no total that gives one away (korea 15, all starts 38).
    for small in ("1", "2", "3", "4", "15", "38"):
        assert all(small not in line.split() for line in table.splitlines())


def test_summary_table_in_russian_and_kyrgyz_and_empty() -> None:
    rows = [row("topic", "russia", "ky", count=7)]
    assert "Просмотры тем" in summary_table(rows, 5)
    assert "Темаларды көрүү" in summary_table(rows, 5, lang="ky")
    assert summary_table([], 5, lang="ru") == "За этот период данных нет."
    assert "<5" not in summary_table([row("topic", "x", "ky", count=2)], minimum=0)


def test_gap_words_aggregate_and_keep_only_frequent_words() -> None:
    rows = [
        row("gap", "виза", "ru", count=3), row("gap", "виза", "ky", count=3,
                                                 day=TODAY - timedelta(days=2)),
        row("gap", "патент", "ru", count=9), row("gap", "редкое", "ru", count=4),
        row("gap", "", "ru", count=50),  # no word: nothing to show
        row("topic", "виза", "ru", count=100),  # not a gap
        row("gap", "ажа", "ky", count=6),
    ]
    assert gap_words(rows) == [("патент", 9), ("ажа", 6), ("виза", 6)]
    assert gap_words(rows, minimum=1)[-1] == ("редкое", 4)


def test_chart_is_a_png_with_and_without_data(tmp_path: Path) -> None:
    rows = [
        row("topic", f"topic{t}", ("ky", "ru")[d % 2], count=5 + t + d % 4,
            day=TODAY - timedelta(days=d))
        for t in range(10) for d in range(30)
    ] + [row("topic", "rare", "ky", count=1)]
    with_data = tmp_path / "chart.png"
    chart_png(rows, with_data)
    empty = tmp_path / "empty.png"
    chart_png([], empty, lang="ky")
    buffer = io.BytesIO()
    chart_png([row("topic", "one_day", "ru", count=9)], buffer, lang="en")

    for data in (with_data.read_bytes(), empty.read_bytes(), buffer.getvalue()):
        assert data.startswith(PNG_MAGIC)
        assert len(data) > 5000  # a real picture, not a stub
    assert with_data.read_bytes() != empty.read_bytes()


async def test_load_counts_returns_the_last_n_days(engine: AsyncEngine) -> None:
    for age in (0, 6, 7, 30):
        await record(engine, TODAY - timedelta(days=age), "topic", "russia", "ky", times=age + 1)
    await record(engine, TODAY + timedelta(days=1), "topic", "russia", "ky")  # clock skew

    rows = await load_counts(engine, days=7, today=TODAY)
    assert rows == [
        CountRow(TODAY - timedelta(days=6), "topic", "russia", "ky", "", 7),
        CountRow(TODAY, "topic", "russia", "ky", "", 1),
    ]
    assert len(await load_counts(engine, days=31, today=TODAY)) == 4
    with pytest.raises(ValueError):
        await load_counts(engine, days=0)


async def test_retention_deletes_only_old_rows(engine: AsyncEngine) -> None:
    for age in (0, 29, 30, 31, 400):
        await record(engine, TODAY - timedelta(days=age), "sos", lang="ru")
    await record(engine, TODAY - timedelta(days=400), "topic", "korea", "ky")

    assert await delete_older_than(engine, days=30, today=TODAY) == 3
    async with engine.connect() as conn:
        days = sorted((await conn.execute(select(Counter.day))).scalars())
    assert days == [TODAY - timedelta(days=age) for age in (30, 29, 0)]
    assert await delete_older_than(engine, days=30, today=TODAY) == 0
    with pytest.raises(ValueError):
        await delete_older_than(engine, days=0, today=TODAY)
