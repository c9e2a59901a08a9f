"""PostgreSQL LISTEN/NOTIFY, in one place: replicas tell each other what changed.

`notify(conn, channel, payload)` runs inside the sender's transaction, so the message goes out
only when (and if) the change commits. A `Listener` holds one dedicated asyncpg connection (a
LISTEN must outlive any pooled connection), made from the engine's URL; it reconnects with
backoff when the server restarts, and then calls each subscriber's `on_reconnect` hook: messages
sent while it was away are lost, so subscribers re-check what they may have missed.

On SQLite both are no-ops (one process, nobody to tell): subscribers rely on polling there.
A payload carries ids and versions only, never anything a user typed (PostgreSQL caps it at
8000 bytes).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.ext.asyncio import AsyncConnection

log = logging.getLogger(__name__)

# A callback gets the payload; a hook nothing. Either may be a coroutine function (its result
# is awaited as a task) or a plain one (its result ignored).
Callback = Callable[[str], object]
Hook = Callable[[], object]

BACKOFF_FIRST = 0.2  # seconds before the first reconnect attempt; doubles up to BACKOFF_MAX
BACKOFF_MAX = 10.0
PING_SECONDS = 5.0  # a dead TCP connection is noticed by a SELECT 1 at most this late
CONNECT_TIMEOUT = 10.0
APPLICATION_NAME = "jol-listener"  # how the connection shows in pg_stat_activity


def is_postgres(url: str | URL) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


async def notify(conn: AsyncConnection, channel: str, payload: str) -> None:
    """Send `payload` on `channel` when `conn`'s transaction commits; nothing on SQLite."""
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text("SELECT pg_notify(:channel, :payload)"),
                           {"channel": channel, "payload": payload})


def asyncpg_dsn(url: str | URL) -> str:
    """The libpq-style address asyncpg connects to, from a postgresql+asyncpg:// URL."""
    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)


@dataclass
class _Subscription:
    channel: str
    callback: Callback
    on_reconnect: Hook | None = None
    handler: Callable[..., None] | None = field(default=None, repr=False)


class Listener:
    """One LISTEN connection for all of a process's channels.

    `subscribe` may be called before or after `start`; a callback runs on the event loop for
    every payload on its channel (a coroutine is run as a task, its errors logged). After a
    reconnect (never after the first connect) every `on_reconnect` hook runs.
    """

    def __init__(self, url: str | URL) -> None:
        self.url = url
        self.enabled = is_postgres(url)
        self._subscriptions: list[_Subscription] = []
        self._conn: Any = None  # asyncpg.Connection while connected
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lost = asyncio.Event()
        self.connected = asyncio.Event()  # set while a connection listens (tests wait on it)
        self.reconnects = 0

    def subscribe(self, channel: str, callback: Callback, *,
                  on_reconnect: Hook | None = None) -> None:
        sub = _Subscription(channel, callback, on_reconnect)
        self._subscriptions.append(sub)
        if self._conn is not None:
            self._spawn(self._listen(self._conn, sub))

    async def start(self) -> None:
        """Connect in the background; returns at once (a database that is down is retried)."""
        if self.enabled and self._task is None:
            self._task = asyncio.create_task(self._run(), name="notify-listener")

    async def wait_connected(self, timeout: float) -> bool:
        """Whether a connection listens within `timeout` seconds (always False on SQLite)."""
        if not self.enabled:
            return False
        try:
            await asyncio.wait_for(self.connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close()

    # --- the connection's life -----------------------------------------------------------

    async def _run(self) -> None:
        import asyncpg

        delay = BACKOFF_FIRST
        first = True
        while True:
            try:
                self._conn = await asyncpg.connect(
                    asyncpg_dsn(self.url), timeout=CONNECT_TIMEOUT,
                    server_settings={"application_name": APPLICATION_NAME})
                self._lost.clear()
                self._conn.add_termination_listener(lambda _conn: self._lost.set())
                for sub in self._subscriptions:
                    await self._listen(self._conn, sub)
            except (OSError, TimeoutError, asyncpg.PostgresError,
                    asyncpg.InterfaceError) as error:
                log.warning("notifications: cannot listen (%s); retrying in %.1f s",
                            type(error).__name__, delay)
                await self._close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, BACKOFF_MAX)
                continue
            delay = BACKOFF_FIRST
            self.connected.set()
            if not first:
                self.reconnects += 1
                log.info("notifications: listening again after a lost connection")
                for sub in self._subscriptions:
                    if sub.on_reconnect is not None:
                        self._call(sub.on_reconnect)
            first = False
            await self._watch()
            self.connected.clear()
            await self._close()

    async def _watch(self) -> None:
        """Until the connection is lost: the server closing it, or a ping that fails."""
        while True:
            try:
                await asyncio.wait_for(self._lost.wait(), PING_SECONDS)
                return
            except TimeoutError:
                pass
            try:
                await asyncio.wait_for(self._conn.execute("SELECT 1"), PING_SECONDS)
            except Exception as error:  # any failure means: connect again
                log.warning("notifications: connection lost (%s)", type(error).__name__)
                return

    async def _listen(self, conn: Any, sub: _Subscription) -> None:
        def handler(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            self._call(sub.callback, payload)

        sub.handler = handler
        await conn.add_listener(sub.channel, handler)

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)
            if not conn.is_closed():
                conn.terminate()

    def _call(self, function: Callable[..., object], *args: str) -> None:
        try:
            result = function(*args)
        except Exception:
            log.exception("notifications: a subscriber failed")
            return
        if inspect.isawaitable(result):
            self._spawn(result)

    def _spawn(self, awaitable: Awaitable[Any]) -> None:
        async def run() -> None:
            try:
                await awaitable
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("notifications: a subscriber failed")

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
