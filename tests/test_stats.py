"""StatsRecorder: counting never touches the database; flushes add up under concurrency."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import events
from bot.db import create_engine, upgrade
from bot.db.models import Counter
from bot.stats.recorder import StatsRecorder
from tests.conftest import run_together
from tests.helpers import metric

DAY = date(2026, 11, 29)


@pytest.fixture
async def sqlite_engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}"
    await upgrade(url)
    engine = create_engine(url)
    yield engine
    await engine.dispose()


async def stored(engine: AsyncEngine) -> dict[tuple[date, str, str, str, str], int]:
    """Every counter row, keyed like the recorder keys its counts."""
    async with engine.connect() as conn:
        result = await conn.execute(
            select(Counter.day, Counter.event, Counter.key, Counter.lang, Counter.source,
                   Counter.count)
        )
        return {(day, event, key, lang, source): count
                for day, event, key, lang, source, count in result}


def test_count_is_in_memory_only(tmp_path: Path) -> None:
    db_file = tmp_path / "never.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{db_file}")
    recorder = StatsRecorder(engine, today=lambda: DAY)  # no event loop running: plain sync

    for _ in range(1000):
        recorder.count(events.TOPIC, "russia", "ky")
    recorder.count(events.TOPIC, "korea", "ru", "tiktok")

    assert recorder.pending == 2
    assert not db_file.exists(), "count() must not open the database"


def test_count_truncates_to_column_sizes(tmp_path: Path) -> None:
    recorder = StatsRecorder(create_engine(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"),
                             today=lambda: DAY)
    recorder.count(events.TOPIC, "k" * 70, "l" * 10, "s" * 70)
    recorder.count(events.TOPIC, "k" * 64, "l" * 8, "s" * 64)  # the same counter once truncated
    assert recorder.pending == 1


async def test_flush_upserts_and_adds_to_stored_counts(engine: AsyncEngine) -> None:
    recorder = StatsRecorder(engine, today=lambda: DAY)
    recorder.count(events.TOPIC, "russia", "ky")
    recorder.count(events.TOPIC, "russia", "ky")
    recorder.count(events.START, "", "", "radio_azattyk")
    recorder.count(events.CHECK, "é" * 70, "ru")

    assert await recorder.flush() == 3
    assert recorder.pending == 0
    recorder.count(events.TOPIC, "russia", "ky")
    assert await recorder.flush() == 1
    assert await recorder.flush() == 0  # nothing pending: no transaction at all

    assert await stored(engine) == {
        (DAY, "topic", "russia", "ky", ""): 3,
        (DAY, "start", "", "", "radio_azattyk"): 1,
        (DAY, "check", "é" * 64, "ru", ""): 1,
    }


async def test_counts_keep_the_day_they_happened(sqlite_engine: AsyncEngine) -> None:
    today = [DAY]
    recorder = StatsRecorder(sqlite_engine, today=lambda: today[0])
    recorder.count(events.SOS, lang="ru")
    today[0] = DAY + timedelta(days=1)  # midnight passes before the flush
    recorder.count(events.SOS, lang="ru")
    recorder.count(events.SOS, lang="ru")
    await recorder.flush()

    assert await stored(sqlite_engine) == {
        (DAY, "sos", "", "ru", ""): 1,
        (DAY + timedelta(days=1), "sos", "", "ru", ""): 2,
    }


async def test_pending_and_flush_lag_report_unwritten_counts(
    sqlite_engine: AsyncEngine,
) -> None:
    recorder = StatsRecorder(sqlite_engine, today=lambda: DAY)
    assert recorder.pending == 0
    assert recorder.last_flush_lag == 0.0

    recorder.count(events.TOPIC, "a")
    await asyncio.sleep(0.05)
    recorder.count(events.TOPIC, "b")
    assert recorder.pending == 2
    assert recorder.last_flush_lag >= 0.05  # measured from the oldest count, not the newest

    await recorder.flush()
    assert recorder.pending == 0
    assert recorder.last_flush_lag == 0.0


async def test_database_error_keeps_counts_for_the_next_flush(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'late.sqlite3'}"
    engine = create_engine(url)  # no tables yet: every flush fails
    try:
        recorder = StatsRecorder(engine, today=lambda: DAY)
        recorder.count(events.TOPIC, "secretword", "ky", "campaign_x")
        caplog.set_level(logging.DEBUG, logger="bot")
        failures = metric("jol_flush_failures_total", store="counters")

        assert await recorder.flush() == 0
        recorder.count(events.TOPIC, "secretword", "ky", "campaign_x")  # counted during the outage
        assert recorder.pending == 1
        assert recorder.last_flush_lag > 0
        assert metric("jol_flush_failures_total", store="counters") == failures + 1
        assert "OperationalError" in caplog.text
        assert "secretword" not in caplog.text and "campaign_x" not in caplog.text

        await upgrade(url)
        assert await recorder.flush() == 1
        assert await stored(engine) == {(DAY, "topic", "secretword", "ky", "campaign_x"): 2}
    finally:
        await engine.dispose()


async def test_background_task_flushes_and_close_writes_the_rest(
    sqlite_engine: AsyncEngine,
) -> None:
    recorder = StatsRecorder(sqlite_engine, flush_seconds=0.05, today=lambda: DAY)
    await recorder.start()
    await recorder.start()  # a second start does not add a second loop
    recorder.count(events.TOPIC, "russia", "ru")
    deadline = time.monotonic() + 5
    # pending drops to 0 when a flush takes the batch, before it commits: wait for the row.
    while not await stored(sqlite_engine) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert recorder.pending == 0
    assert await stored(sqlite_engine) == {(DAY, "topic", "russia", "ru", ""): 1}

    recorder.count(events.TOPIC, "russia", "ru")
    await recorder.close()
    assert recorder.pending == 0
    assert await stored(sqlite_engine) == {(DAY, "topic", "russia", "ru", ""): 2}


async def test_close_without_start_still_flushes(sqlite_engine: AsyncEngine) -> None:
    recorder = StatsRecorder(sqlite_engine, today=lambda: DAY)
    recorder.count(events.FORGET, lang="ky")
    await recorder.close()
    assert await stored(sqlite_engine) == {(DAY, "forget", "", "ky", ""): 1}


def _event_for(task: int, i: int) -> tuple[str, str, str, str]:
    """A spread of counters, so flushes of different tasks touch overlapping rows."""
    return ("topic", f"t{(task + i) % 7}", ("ky", "ru")[i % 2], f"s{task % 3}")


async def test_fifty_tasks_sharing_one_recorder_add_up_exactly(engine: AsyncEngine) -> None:
    recorder = StatsRecorder(engine, today=lambda: DAY)
    expected: Tally[tuple[date, str, str, str, str]] = Tally()

    async def worker(task: int) -> None:
        for i in range(200):
            event = _event_for(task, i)
            recorder.count(events.TOPIC, *event[1:])
            expected[(DAY, *event)] += 1
            if i % 25 == 24:
                await recorder.flush()  # flushes overlap with other tasks' counts
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(task) for task in range(50)))
    await recorder.close()

    rows = await stored(engine)
    assert sum(rows.values()) == 50 * 200
    assert rows == dict(expected)


async def test_fifty_recorders_flushing_at_once_add_up_exactly(engine: AsyncEngine) -> None:
    expected: Tally[tuple[date, str, str, str, str]] = Tally()
    recorders = [StatsRecorder(engine, today=lambda: DAY) for _ in range(50)]
    failures = metric("jol_flush_failures_total", store="counters")

    async def worker(task: int) -> None:
        recorder = recorders[task]
        for i in range(200):
            event = _event_for(task, i)
            recorder.count(events.TOPIC, *event[1:])
            expected[(DAY, *event)] += 1
            if i % 20 == 19:  # ten separate transactions per recorder, racing each other
                await recorder.flush()
        await recorder.close()

    await asyncio.gather(*(worker(task) for task in range(50)))

    rows = await stored(engine)
    assert sum(rows.values()) == 50 * 200
    assert rows == dict(expected)
    assert all(r.pending == 0 for r in recorders)
    assert metric("jol_flush_failures_total", store="counters") == failures


WORKER = """
import asyncio, sys
from datetime import date
from bot import events
from bot.db import create_engine
from bot.stats.recorder import StatsRecorder

async def main(url, n):
    engine = create_engine(url)
    recorder = StatsRecorder(engine, today=lambda: date(2026, 11, 29))
    print("ready", flush=True)
    sys.stdin.readline()  # start together with the other process
    for i in range(n):
        recorder.count(events.TOPIC, f"t{i % 5}", "ky", "proc")
        if i % 10 == 9:
            await recorder.flush()
    await recorder.close()
    await engine.dispose()
    sys.exit(1 if recorder.pending else 0)

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


def _run_workers(url: str, processes: int, per_process: int) -> list[tuple[int, str]]:
    return run_together(WORKER, url, str(per_process), processes=processes)


async def test_two_processes_incrementing_the_same_counters_add_up(engine: AsyncEngine) -> None:
    url = engine.url.render_as_string(hide_password=False)
    results = await asyncio.to_thread(_run_workers, url, 2, 1000)
    for returncode, stderr in results:
        assert returncode == 0, stderr

    rows = await stored(engine)
    assert rows == {(DAY, "topic", f"t{k}", "ky", "proc"): 2 * 1000 // 5 for k in range(5)}
