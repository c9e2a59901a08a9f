"""Issue 10.4: a database error must not put chat keys or statement values in the log.

A chat key is HMAC(secret, chat id); with the secret, a key in a log can be reversed to the
chat id by trying every id. So no log line may carry one, nor any statement's parameters.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from bot import events
from bot.db import create_engine
from bot.db.language_memory import LanguageMemory
from bot.stats.flushing import FlushLoop
from bot.stats.recorder import StatsRecorder
from tests.helpers import metric, running_bot

HEX_KEY = re.compile(r"[0-9a-f]{64}")
CHAT = 987654321


def assert_no_secrets(logged: str, *values: str) -> None:
    assert HEX_KEY.search(logged) is None, "a chat key (hex HMAC) reached the log"
    assert "[parameters:" not in logged, "a statement's parameters reached the log"
    for value in values:
        assert value not in logged


async def wait_until(condition: Callable[[], object], seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


async def test_failed_language_and_counter_flushes_log_no_keys_or_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # everything, the database driver's own debug lines too
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'no-tables.sqlite3'}")
    memory = LanguageMemory(engine, b"a secret", flush_seconds=0.02)
    stats = StatsRecorder(engine, flush_seconds=0.02, today=lambda: date(2026, 12, 2))
    failures = {store: metric("jol_flush_failures_total", store=store)
                for store in ("languages", "counters")}

    def both_failed() -> bool:
        return all(metric("jol_flush_failures_total", store=store) > before
                   for store, before in failures.items())

    try:
        memory.set(CHAT, "ky")
        stats.count(events.TOPIC, "secretword", "ky", "campaign_x")
        await memory.start()
        await stats.start()
        await wait_until(both_failed)
        await memory.close()  # the last flush at shutdown fails the same way
        await stats.close()
    finally:
        await engine.dispose()
    assert both_failed()
    assert "language flush failed (OperationalError)" in caplog.text
    assert "stats flush failed (OperationalError)" in caplog.text
    assert_no_secrets(caplog.text, memory.chat_key(CHAT), str(CHAT), "secretword", "campaign_x")


async def test_the_flush_loop_logs_no_values_even_from_an_engine_that_shows_them(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A flush that lets a database error escape reaches the loop's own last resort."""
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot")
    key = LanguageMemory(create_engine("sqlite+aiosqlite://"), b"s").chat_key(CHAT)
    # Deliberately without hide_parameters: the loop must not rely on the engine for privacy.
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'plain.sqlite3'}")
    failures = 0

    async def flush() -> None:
        nonlocal failures
        failures += 1
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO missing (chat_key) VALUES (:k)"), {"k": key})

    loop = FlushLoop(flush, 0.02, "jol-test-flush")
    try:
        await loop.start()
        await wait_until(lambda: failures >= 2)
    finally:
        with pytest.raises(Exception, match="no such table"):
            await loop.close()  # close()'s own flush raises to the caller, who decides
        await engine.dispose()
    assert "jol-test-flush: flush failed (OperationalError)" in caplog.text
    assert "Traceback" not in caplog.text
    assert_no_secrets(caplog.text)


async def test_a_database_error_in_a_conversation_logs_no_chat_key(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot")
    async with running_bot(tmp_path) as bot:
        async with bot.services.engine.begin() as conn:
            await conn.execute(text("DROP TABLE chat_languages"))
        user = bot.user("ru", user_id=CHAT)
        await user.send("/start")
        said = [m.text for m in user.chat.visible]
        # The language memory is down: the user is still served, in Telegram's language.
        assert any(t.startswith("Главное меню") for t in said), said
        key = bot.services.memory.chat_key(CHAT)
    assert "language memory unavailable (OperationalError)" in caplog.text
    assert_no_secrets(caplog.text, key, str(CHAT))
