"""`jol run` at the edges (issue 10, items 10 and 12): Telegram unreachable at start is retried
in one line a try; a rejected token is one line and exit 2; SIGTERM while Telegram keeps
answering 429 ends within 10 s, with the counters written."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
from pathlib import Path

import aiohttp

from bot.standin import STANDIN, start_standin
from tests.serving_helpers import TOKEN, free_port, jol_run, log_text, wait_for_log


def start_lines(tmp_path: Path) -> list[str]:
    """The log after the first line, which says the empty database was seeded with content/."""
    seeding, *lines = log_text(tmp_path).splitlines()
    assert seeding.endswith("content is version 1"), seeding
    return lines


async def test_unreachable_telegram_is_retried_in_one_line_a_try(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/bot"  # nothing listens there
    async with jol_run(closed, tmp_path, free_port()) as process:
        await wait_for_log(tmp_path, "retrying in 4 s")
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
    lines = start_lines(tmp_path)
    assert lines[0].endswith(f"Telegram not reachable at {closed}<token>/ "
                             "(ClientConnectorError); retrying in 2 s")
    assert all("Telegram not reachable" in line for line in lines[:2])
    assert len(lines) <= 4, lines
    assert TOKEN.split(":")[1] not in log_text(tmp_path)


async def test_a_rejected_token_is_one_line_and_exit_2(tmp_path: Path) -> None:
    runner, base_url = await start_standin("127.0.0.1", 0)
    try:
        runner.app[STANDIN].revoked.add(TOKEN)
        async with jol_run(base_url, tmp_path, free_port()) as process:
            assert await asyncio.wait_for(process.wait(), 30) == 2
    finally:
        await runner.cleanup()
    lines = start_lines(tmp_path)
    assert len(lines) == 1 and "Telegram rejected TELEGRAM_BOT_TOKEN" in lines[0], lines


async def test_sigterm_under_repeated_429s_ends_quickly_and_writes_the_counts(
        tmp_path: Path) -> None:
    runner, base_url = await start_standin("127.0.0.1", 0)
    standin = runner.app[STANDIN].bot(TOKEN)
    try:
        async with jol_run(base_url, tmp_path, free_port(),
                           JOL_STATS_FLUSH_SECONDS="3600") as process:
            await wait_for_log(tmp_path, "serving by long polling")
            standin.telegram.hold_chat(6301, 120)
            standin.message(6301, "/start")
            async with asyncio.timeout(10):
                while standin.telegram.rate_limited < 1:
                    await asyncio.sleep(0.05)
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        await runner.cleanup()
    assert "stopped; statistics written" in log_text(tmp_path)
    with sqlite3.connect(tmp_path / "jol.sqlite3") as db:
        counted = db.execute("SELECT SUM(count) FROM counters WHERE event = 'start'").fetchone()
    assert counted == (1,)


async def test_a_deleted_database_is_reported_not_claimed_written(tmp_path: Path) -> None:
    runner, base_url = await start_standin("127.0.0.1", 0)
    standin = runner.app[STANDIN].bot(TOKEN)
    port = free_port()
    try:
        async with jol_run(base_url, tmp_path, port) as process:
            await wait_for_log(tmp_path, "serving by long polling")
            for suffix in ("", "-wal", "-shm"):
                (tmp_path / f"jol.sqlite3{suffix}").unlink(missing_ok=True)
            standin.message(6401, "/start")
            assert await standin.wait_for_chat(6401, 1, timeout=20)  # users still answered
            async with aiohttp.ClientSession() as http, http.get(
                    f"http://127.0.0.1:{port}/healthz") as health:
                assert health.status == 503
                reason = (await health.json())["reason"]
                assert reason == "database file missing, replaced or not writable"
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        await runner.cleanup()
    log = log_text(tmp_path)
    assert "statistics written" not in log
    assert "jol.sqlite3 is gone: counts written since it was deleted are lost" in log
