"""Database plumbing: engines with safe SQLite settings, Alembic upgrades, the HMAC secret."""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.engine.url import URL
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot import REPO_ROOT
from bot.settings import CONFIGURATION_ERROR, SettingsError

if TYPE_CHECKING:
    from alembic.config import Config

# Alembic (with Mako and Pygments under it) costs ~12 MB of resident memory for the life of
# the process. It is imported only where a migration runs, and `jol run` migrates in a short
# child process, so the long-running bot never loads it.

# aiosqlite logs every statement with its values at DEBUG: chat keys, counted words. Keep that
# out of the log whatever level the operator sets (JOL_LOG_LEVEL=DEBUG included).
logging.getLogger("aiosqlite").setLevel(logging.INFO)

MIGRATIONS_DIR = REPO_ROOT / "migrations"
LEGACY_SECRET_FILE_NAME = "jol.secret"
SQLITE_BUSY_TIMEOUT_MS = 5000
# The newest migration in migrations/versions; a test keeps the two equal.
SCHEMA_HEAD = "0003"
MIGRATION_LOCK_ID = 0x4A4F4C  # "JOL": the PostgreSQL advisory lock held while migrating


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


def _schema_version(connection: Connection) -> str | None:
    """The revision the database stands at, or None when it was never migrated."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
    return ", ".join(sorted(versions)) or None


async def _run_alembic(url: str, action: str, revision: str) -> tuple[str | None, str | None]:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:

            def run(sync_conn: Connection) -> tuple[str | None, str | None]:
                from alembic import command

                lock_for_migrations(sync_conn)
                before = _schema_version(sync_conn)
                config = alembic_config(sync_conn)
                if action == "upgrade":
                    command.upgrade(config, revision)
                else:
                    command.downgrade(config, revision)
                return before, _schema_version(sync_conn)

            return await conn.run_sync(run)
    except Exception as error:
        problem = database_problem(error, url)
        if problem is None:
            raise
        raise DatabaseUnusable(problem) from None
    finally:
        await engine.dispose()


async def upgrade(url: str) -> tuple[str | None, str | None]:
    """Bring the schema to the newest migration; safe to run at every start.

    Returns the revision before and after (None: an empty database), for `jol db upgrade`.
    """
    return await _run_alembic(url, "upgrade", "head")


async def schema_version(url: str) -> str | None:
    """The database's schema revision (None: never migrated), without Alembic; raises
    DatabaseUnusable when the database cannot be reached."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_schema_version)
    except Exception as error:
        problem = database_problem(error, url)
        if problem is None:
            raise
        raise DatabaseUnusable(problem) from None
    finally:
        await engine.dispose()


async def schema_is_current(url: str) -> bool:
    """Whether the database already stands at SCHEMA_HEAD (one SELECT, no Alembic)."""
    try:
        return await schema_version(url) == SCHEMA_HEAD
    except DatabaseUnusable:  # let the migration say what is wrong, in its one line
        return False


async def upgrade_in_child(url: str) -> None:
    """`jol db upgrade` in a child process when the schema is behind (see the note at the top)."""
    if await schema_is_current(url):
        return
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "db", "upgrade",
        env={**os.environ, "JOL_DATABASE_URL": url}, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    _, stderr = await child.communicate()
    if child.returncode != 0:
        # The child says what is wrong in one line (see bot.cli); pass that line on.
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        if not lines:
            raise DatabaseUnusable(f"`jol db upgrade` failed (exit code {child.returncode})")
        raise DatabaseUnusable(lines[-1].removeprefix(CONFIGURATION_ERROR))


async def downgrade(url: str, revision: str = "base") -> None:
    """Step the schema back (to empty by default); used by tests to prove migrations reverse."""
    await _run_alembic(url, "downgrade", revision)


class SecretUnusable(SettingsError):
    """The key file cannot be read or created; the message says which file and what to do."""


def legacy_secret_path(database_url: str) -> Path:
    """Where versions before JOL_SECRET_FILE generated the key: beside a SQLite file, else in
    the working directory. Still read (with a warning) so no deployment loses its languages."""
    path = sqlite_file(database_url)
    folder = path.parent if path is not None else Path.cwd()
    return folder / LEGACY_SECRET_FILE_NAME


def secret_location(secret_file: Path, database_url: str) -> Path:
    """The file the key comes from: JOL_SECRET_FILE, or an old `jol.secret` while the
    configured file does not exist yet."""
    if not secret_file.exists():
        legacy = legacy_secret_path(database_url)
        if legacy.exists():
            return legacy
    return secret_file


def secret_beside_database(path: Path, database_url: str) -> bool:
    """Whether the key file shares a folder with the SQLite database (a copy takes both)."""
    database = sqlite_file(database_url)
    return database is not None and path.resolve().parent == database.resolve().parent


def _write_new_secret(path: Path) -> bool:
    """Create the secret file atomically with 0600; False if another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
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
        raise SecretUnusable(
            f"{path} is empty; delete it to generate a new secret, or set JOL_SECRET")
    return value.encode("utf-8")


def load_or_create_secret(secret: str | None, secret_file: Path,
                          database_url: str) -> tuple[bytes, list[str]]:
    """The HMAC key for chat languages, and one-line warnings for the log at start.

    JOL_SECRET wins. Otherwise the key file (32 random bytes as hex) is read, or created
    once with 0600 at `secret_file` (JOL_SECRET_FILE). The key is the UTF-8 text itself, so
    copying the file's content into JOL_SECRET keeps every stored language.
    """
    if secret:
        return secret.strip().encode("utf-8"), []
    path = secret_file
    notices: list[str] = []
    try:
        path = secret_location(secret_file, database_url)
        if not path.exists() and _write_new_secret(path):
            notices.append(
                f"Generated a new secret for chat-language keys in {path.resolve()} "
                "(permissions 0600). Keep it apart from the database, or set JOL_SECRET; if "
                "it is lost, the bot only forgets which language each chat chose.")
        key = _read_secret(path)
        mode = path.stat().st_mode
    except OSError as error:
        raise SecretUnusable(
            f"cannot use the secret file {path} ({error.strerror or error}): set "
            "JOL_SECRET_FILE to a writable place apart from the database, or set JOL_SECRET"
        ) from None
    if path != secret_file:
        notices.append(
            f"Using the old secret {path}; move it out of the database's folder, e.g. "
            f"`mkdir -p {secret_file.parent} && mv {path} {secret_file}` "
            "(or set JOL_SECRET_FILE / JOL_SECRET).")
    elif secret_beside_database(path, database_url):
        notices.append(
            f"The secret {path} is in the same folder as the database: a copy of that folder "
            "can turn stored keys back into chat ids. Move it and set JOL_SECRET_FILE.")
    if mode & 0o077:
        notices.append(f"{path} is readable by other users; run: chmod 600 {path}")
    return key, notices
