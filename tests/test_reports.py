"""Reports: only noisy cells of closed, released weeks leave the server; CSV, chart, retention."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import Counter, Release, ReleasedCell
from bot.events import EVENTS
from bot.stats.recorder import StatsRecorder
from bot.stats.release import (
    Noise,
    NoisyCell,
    Period,
    Released,
    key_space,
    load_released,
    period_start,
    release_closed_periods,
)
from bot.stats.reports import (
    CountRow,
    chart_png,
    delete_older_than,
    gap_list,
    load_counts,
    shown,
    summary_table,
    to_csv,
)
from tests.helpers import real_snapshot

TODAY = date(2026, 11, 29)  # a Sunday
MONDAY = date(2026, 11, 23)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CONTENT = real_snapshot()
NOISE = Noise(epsilon=2.0, cap=4, minimum=5)  # sensitivity 8 (4 + reserved), scale 4, threshold 12


async def record(engine: AsyncEngine, day: date, event: str, key: str = "", lang: str = "",
                 source: str = "", times: int = 1) -> None:
    recorder = StatsRecorder(engine, today=lambda: day)
    for _ in range(times):
        recorder.count(EVENTS[event], key, lang, source)
    await recorder.close()


def released(cells: list[tuple[str, str, str, int]], weeks: int = 1) -> Released:
    periods = [Period(MONDAY - timedelta(days=7 * i), MONDAY - timedelta(days=7 * i - 6),
                      1.0, 4.0) for i in reversed(range(weeks))]
    return Released(periods, [NoisyCell(p.start, e, k, lang, n)
                              for p in periods for e, k, lang, n in cells])


def table_line(table: str, first_cell: str) -> list[str]:
    """The cells of the table row that starts with `first_cell`."""
    for line in table.splitlines():
        cells = line.split()
        if cells and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no row {first_cell!r} in:\n{table}")


@pytest.mark.parametrize(("value", "shown_as"),
                         [(-3, "<12"), (0, "<12"), (11, "<12"), (12, "12"), (40, "40")])
def test_shown_hides_noisy_values_below_the_threshold(value: int, shown_as: str) -> None:
    assert shown(value, NOISE.threshold) == shown_as


def test_noise_parameters() -> None:
    assert NOISE.scale == 4.0 and NOISE.threshold == 12
    assert Noise(50.0, 1, 5).threshold == 5  # tiny noise: JOL_MIN_REPORT_COUNT still holds


def test_period_is_the_iso_week() -> None:
    assert period_start(TODAY) == MONDAY
    assert period_start(MONDAY) == MONDAY
    assert period_start(MONDAY - timedelta(days=1)) == MONDAY - timedelta(days=7)


async def test_release_noises_the_whole_key_space_once_and_deletes_raw_counts(
    engine: AsyncEngine,
) -> None:
    await record(engine, MONDAY, "topic", "russia", "ky", times=40)
    await record(engine, TODAY, "topic", "russia", "ky", times=2)
    await record(engine, TODAY + timedelta(days=1), "sos", lang="ru")  # the next, open week

    assert await release_closed_periods(engine, CONTENT, NOISE, today=TODAY) == []  # open
    assert await release_closed_periods(engine, CONTENT, NOISE,
                                        today=TODAY + timedelta(days=1)) == [MONDAY]
    async with engine.connect() as conn:
        stored = {(e, k, lang): n for e, k, lang, n in await conn.execute(
            select(ReleasedCell.event, ReleasedCell.key, ReleasedCell.lang, ReleasedCell.noisy))}
        raw_days = (await conn.scalars(select(Counter.day))).all()
        release = (await conn.execute(select(Release))).one()
    assert set(stored) == set(key_space(CONTENT))  # every cell, zeros included
    assert raw_days == [TODAY + timedelta(days=1)]  # the released week's raw counts are gone
    assert (release.epsilon, release.cap, release.scale) == (2.0, 8, 4.0)
    # Real noise: with 200+ cells of scale 4, some cell moved (P(all zero) < 1e-100).
    assert any(n != 0 for cell, n in stored.items() if cell != ("topic", "russia", "ky"))

    # Asking again draws nothing new and changes nothing.
    assert await release_closed_periods(engine, CONTENT, NOISE,
                                        today=TODAY + timedelta(days=30)) == [
        MONDAY + timedelta(days=7 * i) for i in range(1, 5)]
    again = await load_released(engine, weeks=10)
    assert {(c.event, c.key, c.lang): c.noisy for c in again.cells
            if c.period == MONDAY} == stored
    async with engine.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(Counter)) == 0


def test_summary_table_sections_threshold_and_noise_note() -> None:
    report = released([
        ("topic", "russia", "ky", 40), ("topic", "russia", "ru", 13),
        ("topic", "korea", "ru", 3), ("topic", "korea", "ky", 12),
        ("topic", "trafficking", "ky", 2),
        ("start", "", "ru", 30), ("start", "osh_bus_2026", "ky", 14), ("start", "other", "ru", 2),
        ("search_found", "", "ky", 25), ("search_not_found", "", "ru", -4),
        ("sos", "", "ru", 19), ("language", "ky", "ky", 11), ("language", "ru", "ru", 17),
        ("check", "high", "ky", 16), ("gap", "виза", "", 50),
    ])
    table = summary_table(report, NOISE, lang="en")
    for heading in ("Topics viewed", "Starts by campaign source", "Actions",
                    "Languages chosen", "Job-offer check results by risk level",
                    "Job-offer checks by where the job is"):
        assert heading in table
    assert "ε=1 per person-day" in table and "scale 4" in table
    assert "2026-11-23 — 2026-11-29" in table
    assert table_line(table, "russia") == ["russia", "40", "13", "53"]
    # A total is a sum of noisy cells: 12 + 3 = 15 is safe to print (no raw count inside).
    assert table_line(table, "korea") == ["korea", "12", "<12", "15"]
    assert "trafficking" not in table  # a row entirely below the threshold is summarised
    assert "and 1 more rows, all below 12" in table
    assert table_line(table, "osh_bus_2026") == ["osh_bus_2026", "14"]
    # Events without a key share one section, a row each, labelled as declared.
    actions = table.split("Actions\n")[1].split("\n\n")[0].splitlines()
    assert [line.split()[-3:] for line in actions] == [
        ["ky", "ru", "total"], ["25", "<12", "25"], ["<12", "19", "19"], ["all", "below", "12"]]
    assert actions[1].startswith("Searches that found a topic")
    assert actions[2].startswith("SOS opened")
    assert "виза" not in table  # search words appear only in the gap list


def test_summary_table_in_russian_and_kyrgyz_and_empty() -> None:
    report = released([("topic", "russia", "ky", 70)])
    assert "Просмотры тем" in summary_table(report, NOISE)
    assert "Темаларды көрүү" in summary_table(report, NOISE, lang="ky")
    assert summary_table(Released([], []), NOISE).startswith("Ни одна неделя ещё не закрыта")


def test_csv_lists_released_cells_with_noise_and_never_a_rare_word() -> None:
    report = released([("topic", "russia", "ky", 12), ("topic", "korea", "ru", 3),
                       ("start", "-A1", "ru", 70), ("gap", "виза", "", 30),
                       ("gap", "айгерим", "", 6)])
    text = to_csv(report, NOISE)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed == [
        ["period_start", "period_end", "event", "key", "lang", "value", "epsilon", "scale"],
        ["2026-11-23", "2026-11-29", "topic", "russia", "ky", "12", "1", "4"],
        ["2026-11-23", "2026-11-29", "topic", "korea", "ru", "<12", "1", "4"],
        ["2026-11-23", "2026-11-29", "start", "'-A1", "ru", "70", "1", "4"],
        ["2026-11-23", "2026-11-29", "gap", "виза", "", "30", "1", "4"],
    ]
    assert "айгерим" not in text


def test_gap_list_sums_weeks_and_keeps_only_words_at_the_threshold() -> None:
    report = released([("gap", "виза", "", 9), ("gap", "патент", "", 20),
                       ("gap", "редкое", "", 6)], weeks=2)
    # Two weeks of noise: the threshold grows by √2, to 17.
    assert NOISE.threshold_for(2) == 17 and NOISE.threshold_for(5) == 27
    assert gap_list(report, NOISE) == [("патент", 40), ("виза", 18)]


def test_chart_is_a_png_with_and_without_data(tmp_path: Path) -> None:
    report = released([(("topic", f"topic{t}", ("ky", "ru")[t % 2], 15 + t)) for t in range(10)],
                      weeks=6)
    with_data = tmp_path / "chart.png"
    chart_png(report, with_data, NOISE)
    empty = tmp_path / "empty.png"
    chart_png(Released([], []), empty, NOISE, lang="ky")
    buffer = io.BytesIO()
    chart_png(released([("topic", "one", "ru", 30)]), buffer, NOISE, lang="en")

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
