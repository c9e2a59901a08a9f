"""LanguageMemory: a chat's language is kept under an HMAC, never the chat id (the key: see
test_secret_location.py)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import create_engine, upgrade
from bot.db.language_memory import MAX_LOOKUP_BATCH, LanguageMemory
from bot.db.models import ChatLanguage
from tests.helpers import metric

DAY = date(2026, 11, 29)
CHAT = 736251849372  # distinctive digits to look for in the stored bytes
GROUP = -1001987654321
SECRET = b"test secret, not for production"


class SelectLog:
    """Records the reads of chat_languages an engine runs, to see when the cache spares the
    database (a flush's `SELECT pg_notify(…)` is a write's message, not a read)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.selects = 0
        event.listen(engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        upper = statement.lstrip().upper()
        if upper.startswith("SELECT") and "CHAT_LANGUAGES" in upper:
            self.selects += 1


async def rows(engine: AsyncEngine) -> list[tuple[str, str, date]]:
    async with engine.connect() as conn:
        result = await conn.execute(
            select(ChatLanguage.chat_key, ChatLanguage.lang, ChatLanguage.updated_on)
        )
        return [(r.chat_key, r.lang, r.updated_on) for r in result]


async def test_set_get_forget(engine: AsyncEngine) -> None:
    memory = LanguageMemory(engine, SECRET, today=lambda: DAY)
    assert await memory.get(CHAT) is None

    memory.set(CHAT, "ky")
    memory.set(GROUP, "ru")
    assert await memory.get(CHAT) == "ky"
    memory.set(CHAT, "ru")  # a second choice replaces the first
    assert await memory.get(CHAT) == "ru"
    assert await LanguageMemory(engine, SECRET).get(CHAT) is None  # not written yet

    assert await memory.flush() == 2  # both chats in one write
    fresh = LanguageMemory(engine, SECRET)  # no cache: what the database says
    assert await fresh.get(CHAT) == "ru"
    assert await fresh.get(GROUP) == "ru"

    assert await memory.forget(CHAT) is True
    assert await memory.forget(CHAT) is False  # nothing left to forget
    assert await memory.get(CHAT) is None
    assert await LanguageMemory(engine, SECRET).get(CHAT) is None
    assert await memory.get(GROUP) == "ru"  # other chats are untouched
    assert len(await rows(engine)) == 1


async def test_rows_hold_an_hmac_and_a_day_never_the_chat_id(engine: AsyncEngine) -> None:
    memory = LanguageMemory(engine, SECRET, today=lambda: DAY)
    memory.set(CHAT, "ky")
    await memory.flush()

    [(chat_key, lang, updated_on)] = await rows(engine)
    assert chat_key == memory.chat_key(CHAT)
    assert len(chat_key) == 64 and all(c in "0123456789abcdef" for c in chat_key)
    assert str(CHAT) not in chat_key
    assert chat_key != hashlib.sha256(str(CHAT).encode()).hexdigest()  # keyed, not a hash
    assert (lang, updated_on) == ("ky", DAY)
    assert type(updated_on) is date  # a day, not a timestamp


def test_chat_key_depends_on_the_secret() -> None:
    engine = create_engine("sqlite+aiosqlite://")
    one = LanguageMemory(engine, b"one secret")
    other = LanguageMemory(engine, b"another secret")
    assert one.chat_key(CHAT) == one.chat_key(CHAT)
    assert one.chat_key(CHAT) != other.chat_key(CHAT)
    assert one.chat_key(CHAT) != one.chat_key(CHAT + 1)
    with pytest.raises(ValueError):
        LanguageMemory(engine, b"")


async def test_chat_id_digits_appear_nowhere_in_the_sqlite_files(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}"
    await upgrade(url)
    engine = create_engine(url)
    memory = LanguageMemory(engine, SECRET)
    memory.set(CHAT, "ky")
    memory.set(GROUP, "ru")
    await memory.flush()
    await memory.forget(GROUP)

    def all_bytes() -> bytes:  # the database and its WAL/SHM files
        return b"".join(p.read_bytes() for p in tmp_path.glob("jol.sqlite3*"))

    for number in (CHAT, GROUP):
        assert str(number).encode() not in all_bytes()
    await engine.dispose()  # checkpoints the WAL into the main file
    data = all_bytes()
    assert memory.chat_key(CHAT).encode() in data  # the check does look at the right bytes
    for number in (CHAT, GROUP):
        assert str(number).encode() not in data
        assert str(abs(number)).encode() not in data
        assert abs(number).to_bytes(8, "big") not in data
        assert abs(number).to_bytes(8, "little") not in data


async def test_cache_spares_the_database_and_stays_bounded(engine: AsyncEngine) -> None:
    memory = LanguageMemory(engine, SECRET, cache_size=2)
    log = SelectLog(engine)

    memory.set(1, "ky")
    assert await memory.get(1) == "ky"
    assert log.selects == 0  # known from set()

    assert await memory.get(2) is None
    assert await memory.get(2) is None
    assert log.selects == 1  # "not chosen yet" is cached too

    memory.set(3, "ru")  # cache now holds 2 and 3; 1 fell out
    assert await memory.get(3) == "ru"
    assert log.selects == 1
    await memory.flush()
    assert await memory.get(1) == "ky"
    assert log.selects == 2  # evicted, so read again from the database


async def test_forget_clears_the_cache(engine: AsyncEngine) -> None:
    memory = LanguageMemory(engine, SECRET)
    memory.set(CHAT, "ky")
    assert await memory.get(CHAT) == "ky"
    assert await memory.forget(CHAT) is True
    assert await memory.get(CHAT) is None


async def test_forget_before_the_flush_writes_nothing(engine: AsyncEngine) -> None:
    memory = LanguageMemory(engine, SECRET)
    memory.set(CHAT, "ky")
    assert await memory.forget(CHAT) is True  # remembered, though only in memory so far
    assert await memory.flush() == 0
    assert await rows(engine) == []
    assert await memory.get(CHAT) is None


async def test_choices_survive_a_failed_flush_and_close_writes_them(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}"
    engine = create_engine(url)  # no migration yet: the table is missing, every write fails
    memory = LanguageMemory(engine, SECRET, flush_seconds=60)
    await memory.start()
    memory.set(CHAT, "ky")
    failures = metric("jol_flush_failures_total", store="languages")
    assert await memory.flush() == 0
    assert memory.pending == 1
    assert metric("jol_flush_failures_total", store="languages") == failures + 1
    assert await memory.get(CHAT) == "ky"  # the chat is still served in its language

    await upgrade(url)
    memory.set(GROUP, "ru")
    await memory.close()  # the loop stops and the last flush writes both
    assert memory.pending == 0
    assert {lang for _key, lang, _day in await rows(engine)} == {"ky", "ru"}
    await engine.dispose()


async def test_memory_logs_no_chat_ids(
    engine: AsyncEngine, caplog: pytest.LogCaptureFixture
) -> None:
    # Everything at INFO, our own code even at DEBUG. (aiosqlite's DEBUG log echoes SQL
    # parameters, HMACs included: production logging keeps it at INFO or above.)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="bot")
    memory = LanguageMemory(engine, SECRET)
    memory.set(CHAT, "ky")
    await memory.flush()
    await memory.get(CHAT)
    await memory.forget(CHAT)
    assert str(CHAT) not in caplog.text
    assert memory.chat_key(CHAT) not in caplog.text


async def test_chats_that_miss_the_cache_together_are_read_in_one_select(
    engine: AsyncEngine,
) -> None:
    # A restart that meets a backlog: many chats the cache does not know, all at once.
    writer = LanguageMemory(engine, SECRET)
    for chat in range(0, 300, 3):
        writer.set(chat, "ky")
    await writer.flush()
    memory = LanguageMemory(engine, SECRET)
    log = SelectLog(engine)
    chats = range(300)
    found = await asyncio.gather(*(memory.get(chat) for chat in chats))
    assert found == ["ky" if chat % 3 == 0 else None for chat in chats]
    assert log.selects == 1
    assert await memory.get(3) == "ky" and await memory.get(4) is None
    assert log.selects == 1  # both answers are cached now

    # More than a batch: one SELECT per MAX_LOOKUP_BATCH chats, each answered right.
    many = range(1000, 1000 + 2 * MAX_LOOKUP_BATCH + 1)
    assert await asyncio.gather(*(memory.get(chat) for chat in many)) == [None] * len(many)
    assert log.selects == 1 + 3


async def test_a_lookup_cancelled_while_it_waits_leaves_the_others_theirs(
    engine: AsyncEngine,
) -> None:
    writer = LanguageMemory(engine, SECRET)
    writer.set(CHAT, "ky")
    await writer.flush()
    memory = LanguageMemory(engine, SECRET)
    first = asyncio.create_task(memory.get(CHAT))
    second = asyncio.create_task(memory.get(CHAT))  # the same chat, in the same read
    await asyncio.sleep(0)  # both wait for the read now
    first.cancel()
    assert await second == "ky"
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_failed_read_fails_every_lookup_in_it_and_the_next_read_works(
    tmp_path: Path,
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}"
    engine = create_engine(url)  # no migration yet: the table is missing, every read fails
    memory = LanguageMemory(engine, SECRET)
    failed = await asyncio.gather(*(memory.get(chat) for chat in range(5)),
                                  return_exceptions=True)
    assert all(isinstance(error, OperationalError) for error in failed)
    await upgrade(url)
    assert await asyncio.gather(*(memory.get(chat) for chat in range(5))) == [None] * 5
    await engine.dispose()


async def test_start_warms_up_the_lookup_before_any_chat_needs_it(engine: AsyncEngine) -> None:
    memory = LanguageMemory(engine, SECRET, flush_seconds=60)
    log = SelectLog(engine)
    await memory.start()  # open_services calls it before the bot takes updates
    assert log.selects == 1
    assert engine.sync_engine.pool.checkedout() == 1  # a connection is open, kept for lookups
    assert not memory._cache  # chat 0 is no chat: nothing is cached
    await memory.close()


async def test_a_failed_warm_up_does_not_stop_the_start(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}")  # no table
    memory = LanguageMemory(engine, SECRET, flush_seconds=60)
    with caplog.at_level(logging.WARNING):
        await memory.start()
    assert "language memory: the warm-up read failed (OperationalError)" in caplog.text
    await memory.close()
    await engine.dispose()


async def test_a_change_on_one_replica_holds_on_the_others_at_once(postgres_url: str) -> None:
    """Two replicas on one PostgreSQL: each caches what it read; a choice or /forget on one
    reaches the other's cache by NOTIFY as it commits, not when the cache entry ages out."""
    from bot.db.notify import Listener

    await upgrade(postgres_url)
    engines = [create_engine(postgres_url) for _ in range(2)]
    listeners = [Listener(postgres_url) for _ in range(2)]
    here, there = (LanguageMemory(e, SECRET) for e in engines)
    for memory, listener in zip((here, there), listeners, strict=True):
        memory.listen(listener)
        await listener.start()
        assert await listener.wait_connected(10)
    try:
        assert await there.get(CHAT) is None  # cached: "not chosen"
        here.set(CHAT, "ky")
        await here.flush()
        assert await _eventually(lambda: there.get(CHAT), "ky")
        assert await here.forget(CHAT)
        assert await _eventually(lambda: there.get(CHAT), None)
    finally:
        for listener in listeners:
            await listener.stop()
        for engine in engines:
            await engine.dispose()


async def _eventually(read: Any, expected: object, within: float = 1.0) -> bool:
    import asyncio

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        if await read() == expected:
            return True
        await asyncio.sleep(0.02)
    return False


async def test_a_notification_naming_no_key_is_ignored(engine: AsyncEngine) -> None:
    """Anyone who may NOTIFY on the database could send junk: it must not stop the listener."""
    memory = LanguageMemory(engine, SECRET, flush_seconds=60)
    memory.set(CHAT, "ky")
    memory._changed_elsewhere("someone-else not-a-key,,zz")
    assert await memory.get(CHAT) == "ky"
    await memory.close()
