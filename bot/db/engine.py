"""Engines: which database URLs work, SQLite's per-connection settings, one-line problems."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.settings import SettingsError

# aiosqlite logs every statement with its values at DEBUG: chat keys, counted words. Keep that
# out of the log whatever level the operator sets (JOL_LOG_LEVEL=DEBUG included).
logging.getLogger("aiosqlite").setLevel(logging.INFO)

SQLITE_BUSY_TIMEOUT_MS = 5000


def sqlite_path(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory databases and other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    if url.query.get("mode") == "memory":
        return None
    return Path(database)


def sqlite_file(database_url: str) -> Path | None:
    """The SQLite file a JOL_DATABASE_URL names, or None (another database, or not a URL)."""
    try:
        return sqlite_path(make_url(database_url))
    except ArgumentError:
        return None


def _set_sqlite_pragmas(dbapi_connection: Any, _connection_record: Any) -> None:
    """Per-connection settings SQLite forgets: wait for locks, WAL for concurrent readers, FKs."""
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first, so switching to WAL waits for another process instead of failing.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # Safe with WAL (the database never corrupts); a power cut may lose the last commits,
        # which the counters tolerate. Without it every write waits for an fsync.
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


class DatabaseUnusable(SettingsError):
    """JOL_DATABASE_URL cannot be used (unsupported, unreachable, not writable); one line."""


# The async driver each supported database needs; anything else is a configuration mistake.
ASYNC_DRIVERS = {"sqlite": "aiosqlite", "postgresql": "asyncpg"}
SUPPORTED_URLS = "sqlite+aiosqlite:///path/jol.sqlite3 or postgresql+asyncpg://user@host/db"


def shown_url(url: str | URL) -> str:
    """The URL for messages and logs, with any password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def parse_database_url(url: str) -> URL:
    """JOL_DATABASE_URL parsed, or DatabaseUnusable saying which URLs work."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUnusable(
            f"JOL_DATABASE_URL is not a database URL; use {SUPPORTED_URLS}") from None
    if ASYNC_DRIVERS.get(parsed.get_backend_name()) != parsed.get_driver_name():
        raise DatabaseUnusable(
            f"JOL_DATABASE_URL {shown_url(parsed)} is not supported; use {SUPPORTED_URLS}")
    return parsed


def database_problem(error: BaseException, url: str) -> str | None:
    """One line naming JOL_DATABASE_URL for an error that means the database is unusable, or
    None for anything else (a bug, a file elsewhere: it keeps its own report). Only the error's
    own short text is shown: statements and their values never are."""
    if isinstance(error, DatabaseUnusable):
        return str(error)
    if isinstance(error, DBAPIError):  # the driver's error, wrapped by SQLAlchemy
        reason = str(error.orig) if error.orig is not None else ""
    elif isinstance(error, ConnectionError | socket.gaierror | TimeoutError) or (
            type(error).__module__.startswith("asyncpg")):  # raised while connecting
        reason = str(error)
    else:
        return None
    lines = reason.strip().splitlines()
    reason = lines[0][:200] if lines else type(error).__name__
    return f"cannot use the database JOL_DATABASE_URL={shown_url(url)}: {reason}"


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, busy_timeout and foreign keys on every connection.

    hide_parameters: a database error's message (and so any traceback in the log) shows the
    statement but never its values, which include chat keys.
    """
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise DatabaseUnusable(
                    f"JOL_DATABASE_URL {shown_url(parsed)}: cannot create the folder "
                    f"{path.parent} ({error.strerror or error})") from None
        engine = create_async_engine(parsed, hide_parameters=True)
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        return engine
    # A server database may restart under us; pre-ping replaces dead pooled connections.
    return create_async_engine(parsed, pool_pre_ping=True, hide_parameters=True)



class HeldConnection:
    """One pooled connection kept for a writer that runs one write at a time (a group commit):
    no pool checkout and pre-ping per write, which cost ~1 ms of CPU each (more than the
    statement). After any error the connection is dropped and the next write opens another,
    so a database restart costs one failed write, as with the pre-ping."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._connection: AsyncConnection | None = None
        self._driver: Any = None  # its driver's connection, once driver() asked for it
        self._lock = asyncio.Lock()  # a connection runs one statement at a time

    @contextlib.asynccontextmanager
    async def _held(self) -> AsyncIterator[AsyncConnection]:
        """The kept connection, opened if need be, for one caller at a time; dropped after
        any error."""
        async with self._lock:
            if self._connection is None or self._connection.closed:
                self._connection, self._driver = await self._engine.connect(), None
            connection = self._connection
            try:
                yield connection
            except BaseException:
                self._connection = self._driver = None
                with contextlib.suppress(Exception):
                    await connection.invalidate()  # its state is unknown (cancelled mid-call)
                    await connection.close()
                raise

    @contextlib.asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """Like `AsyncEngine.begin()`: a transaction, committed at the end (with an
        AUTOCOMMIT engine each statement commits by itself)."""
        async with self._held() as connection, connection.begin():
            yield connection

    @contextlib.asynccontextmanager
    async def driver(self) -> AsyncIterator[Any]:
        """The kept connection's own driver connection (asyncpg's), for statements that each
        commit by themselves: SQLAlchemy's work around a statement (a greenlet, a transaction,
        the result's rows) costs several times the statement's own on the hot path
        (bot/db/claims.py). Looked up once per connection, and no SQLAlchemy transaction
        around it: asyncpg commits each statement run outside one."""
        async with self._held() as connection:
            if self._driver is None:
                self._driver = (await connection.get_raw_connection()).driver_connection
            yield self._driver

    async def close(self) -> None:
        async with self._lock:
            connection, self._connection, self._driver = self._connection, None, None
            if connection is not None:
                await connection.close()
