"""LISTEN/NOTIFY (bot/db/notify.py) on PostgreSQL: a notification arrives only on commit, a
listener that lost its connection reconnects and calls the hooks; on SQLite both are no-ops."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from sqlalchemy import text

from bot.db import create_engine
from bot.db.notify import APPLICATION_NAME, Listener, asyncpg_dsn, notify


async def _arrives(queue: asyncio.Queue[str], timeout: float = 5) -> str:
    return await asyncio.wait_for(queue.get(), timeout)


async def test_notify_arrives_on_commit_only_and_after_a_reconnect(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    listener = Listener(postgres_url)
    got: asyncio.Queue[str] = asyncio.Queue()
    reconnected: asyncio.Queue[str] = asyncio.Queue()

    async def on_message(payload: str) -> None:
        await got.put(payload)

    listener.subscribe("jol_test", on_message, on_reconnect=lambda: reconnected.put_nowait("r"))
    try:
        await listener.start()
        assert await listener.wait_connected(10)
        async with engine.connect() as conn, conn.begin() as transaction:
            await notify(conn, "jol_test", "rolled back")
            await transaction.rollback()
        async with engine.begin() as conn:
            await notify(conn, "jol_test", "7")
        assert await _arrives(got) == "7"
        assert got.empty()  # the rolled-back one never came

        late: asyncio.Queue[str] = asyncio.Queue()
        listener.subscribe("jol_other", late.put_nowait)  # after start: listens at once
        await asyncio.sleep(0.2)
        async with engine.begin() as conn:
            await notify(conn, "jol_other", "x")
        assert await _arrives(late) == "x"

        # The server ends the listener's session (as a restart would): it comes back.
        admin = await asyncpg.connect(asyncpg_dsn(postgres_url))
        try:
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND application_name = $1",
                                APPLICATION_NAME)
        finally:
            await admin.close()
        assert await _arrives(reconnected, 15) == "r"
        assert listener.reconnects == 1
        async with engine.begin() as conn:
            await notify(conn, "jol_test", "8")
        assert await _arrives(got) == "8"
    finally:
        await listener.stop()
        await engine.dispose()


async def test_sqlite_has_no_notifications(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}"
    engine = create_engine(url)
    listener = Listener(url)
    listener.subscribe("jol_test", lambda payload: None)
    await listener.start()
    assert not await listener.wait_connected(0.1)
    async with engine.begin() as conn:
        await notify(conn, "jol_test", "7")  # nothing to do, and no error
        assert (await conn.execute(text("SELECT 1"))).scalar() == 1
    await listener.stop()
    await engine.dispose()
