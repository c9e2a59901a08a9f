"""Database plumbing: engines with safe SQLite settings, Alembic upgrades, the HMAC secret."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot import REPO_ROOT

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (with Mako and Pygments under it) costs ~12 MB of resident memory for the life of
# the process. It is imported only where a migration runs, and `jol run` migrates in a short
# child process, so the long-running bot never loads it.

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = REPO_ROOT / "migrations"
SECRET_FILE_NAME = "jol.secret"
SQLITE_BUSY_TIMEOUT_MS = 5000
# The newest migration in migrations/versions; a test keeps the two equal.
SCHEMA_HEAD = "0001"
MIGRATION_LOCK_ID = 0x4A4F4C  # "JOL": the PostgreSQL advisory lock held while migrating


def _sqlite_file(url: URL) -> Path | None:
    """The database file of a SQLite URL, or None for in-memory databases and other backends."""
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    if url.query.get("mode") == "memory":
        return None
    return Path(database)


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


def create_engine(url: str) -> AsyncEngine:
    """An async engine; SQLite gets WAL, busy_timeout and foreign keys on every connection."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(parsed, hide_parameters=True)  # no SQL parameters in logs
        event.listen(engine.sync_engine, "connect", _set_sqlite_pragmas)
        return engine
    # A server database may restart under us; pre-ping replaces dead pooled connections.
    return create_async_engine(parsed, pool_pre_ping=True, hide_parameters=True)


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at migrations/, optionally bound to an open connection."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def lock_for_migrations(connection: Connection) -> None:
    """Let one process migrate at a time, so replicas starting together don't collide.

    The whole run is one transaction: on PostgreSQL under an advisory lock; on SQLite under
    BEGIN IMMEDIATE (the write lock; DDL is transactional there too, so a failed step leaves
    nothing half done).
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_ID})")
    elif connection.dialect.name == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")


async def _run_alembic(url: str, action: str, revision: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:

            def run(sync_conn: Connection) -> None:
                from alembic import command

                lock_for_migrations(sync_conn)
                config = alembic_config(sync_conn)
                if action == "upgrade":
                    command.upgrade(config, revision)
                else:
                    command.downgrade(config, revision)

            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def upgrade(url: str) -> None:
    """Bring the database schema to the newest migration; safe to run at every start."""
    await _run_alembic(url, "upgrade", "head")


async def schema_is_current(url: str) -> bool:
    """Whether the database already stands at SCHEMA_HEAD (one SELECT, no Alembic)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            versions = (await conn.scalars(text("SELECT version_num FROM alembic_version"))).all()
    except Exception:  # no version table yet, or a database we cannot read: let Alembic decide
        return False
    finally:
        await engine.dispose()
    return versions == [SCHEMA_HEAD]


async def upgrade_in_child(url: str) -> None:
    """`jol db upgrade` in a child process when the schema is behind (see the note at the top)."""
    if await schema_is_current(url):
        return
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "db", "upgrade",
        env={**os.environ, "JOL_DATABASE_URL": url}, stdout=asyncio.subprocess.DEVNULL)
    if await child.wait() != 0:
        raise RuntimeError(f"`jol db upgrade` failed (exit code {child.returncode})")


async def downgrade(url: str, revision: str = "base") -> None:
    """Step the schema back (to empty by default); used by tests to prove migrations reverse."""
    await _run_alembic(url, "downgrade", revision)


def secret_path(database_url: str) -> Path:
    """Where a generated secret lives: beside a SQLite file, else in the working directory."""
    path = _sqlite_file(make_url(database_url))
    folder = path.parent if path is not None else Path.cwd()
    return folder / SECRET_FILE_NAME


def _write_new_secret(path: Path) -> bool:
    """Create the secret file atomically with 0600; False if another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # exactly 0600 whatever the umask
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        # A hard link never replaces an existing file, so two starting processes agree.
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _read_secret(path: Path) -> bytes:
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise ValueError(f"{path} is empty; delete it to generate a new secret, or set JOL_SECRET")
    if path.stat().st_mode & 0o077:
        logger.warning("%s is readable by other users; run: chmod 600 %s", path, path)
    return value.encode("utf-8")


def load_or_create_secret(secret: str | None, database_url: str) -> tuple[bytes, str | None]:
    """The HMAC key for chat languages, and a message for the log when one was just generated.

    JOL_SECRET wins. Otherwise a `jol.secret` file (32 random bytes as hex) is read, or
    created once beside the SQLite database (the working directory for other databases).
    The key is the UTF-8 text itself, so copying the file's content into JOL_SECRET keeps
    every stored language.
    """
    if secret:
        return secret.strip().encode("utf-8"), None
    path = secret_path(database_url)
    created = False
    if not path.exists():
        created = _write_new_secret(path)
    key = _read_secret(path)
    if not created:
        return key, None
    message = (
        f"Generated a new secret for chat-language keys in {path.resolve()} (permissions 0600). "
        "Keep it with the database or set JOL_SECRET; if it is lost, the bot only forgets "
        "which language each chat chose — no statistics are lost."
    )
    return key, message
