"""The schema: Alembic upgrades from migrations/, and the head read from the migration files.

Alembic (with Mako and Pygments under it) costs ~12 MB of resident memory for the life of the
process. It is imported only where a migration runs, and `jol run` migrates in a short child
process, so the long-running bot never loads it.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from bot import REPO_ROOT
from bot.db.engine import DatabaseUnusable, create_engine, database_problem
from bot.settings import CONFIGURATION_ERROR

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATION_LOCK_ID = 0x4A4F4C  # "JOL": the PostgreSQL advisory lock held while migrating


def migrations_dir() -> Path:
    """migrations/ as shipped inside the installed package (bot/migrations, see setup.py), or
    the checkout's top-level folder when running from source or an editable install."""
    packaged = Path(__file__).resolve().parent.parent / "migrations"
    return packaged if packaged.is_dir() else REPO_ROOT / "migrations"


_REVISION_RE = re.compile(r"^(down_)?revision\b[^=]*=\s*(?:\"([^\"]*)\"|None)", re.MULTILINE)


@cache
def schema_head() -> str:
    """The newest migration: the revision no other migration names as its parent. Read from
    the files with a regular expression, so the running bot never imports Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (migrations_dir() / "versions").glob("*.py"):
        for down, value in _REVISION_RE.findall(path.read_text(encoding="utf-8")):
            if value:
                (parents if down else revisions).add(value)
    heads = sorted(revisions - parents)
    if len(heads) != 1:
        raise RuntimeError(f"migrations/versions must have exactly one head, found {heads}")
    return heads[0]


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config pointing at migrations/, optionally bound to an open connection."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
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


@asynccontextmanager
async def _engine(url: str) -> AsyncIterator[AsyncEngine]:
    """A short-lived engine for one job; a database that cannot be used is one line naming
    JOL_DATABASE_URL (DatabaseUnusable), anything else propagates as it is."""
    engine = create_engine(url)
    try:
        yield engine
    except Exception as error:
        problem = database_problem(error, url)
        if problem is None:
            raise
        raise DatabaseUnusable(problem) from None
    finally:
        await engine.dispose()


async def _run_alembic(url: str, action: str, revision: str) -> tuple[str | None, str | None]:
    async with _engine(url) as engine, engine.begin() as conn:

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


async def upgrade(url: str) -> tuple[str | None, str | None]:
    """Bring the schema to the newest migration; safe to run at every start.

    Returns the revision before and after (None: an empty database), for `jol db upgrade`.
    """
    return await _run_alembic(url, "upgrade", "head")


async def schema_version(url: str) -> str | None:
    """The database's schema revision (None: never migrated), without Alembic; raises
    DatabaseUnusable when the database cannot be reached."""
    async with _engine(url) as engine, engine.connect() as conn:
        return await conn.run_sync(_schema_version)


async def schema_is_current(url: str) -> bool:
    """Whether the database already stands at the head (one SELECT, no Alembic)."""
    try:
        return await schema_version(url) == schema_head()
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
