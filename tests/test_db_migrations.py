"""Migrations go up and down from empty on SQLite and PostgreSQL, and match the models."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from bot import REPO_ROOT
from bot.db import create_engine, downgrade, upgrade
from bot.db.models import Base
from bot.db.schema import schema_head
from tests.conftest import run_together


async def _inspect(url: str, look: Callable[[Connection], Any]) -> Any:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(look)
    finally:
        await engine.dispose()


ALL_TABLES = {"alembic_version", "counters", "chat_languages", "releases", "released_cells",
              "cases", "case_blocks", "content_blobs", "content_versions",
              "content_version_files", "workspace_nonces", "workspace_sessions",
              "workspace_drafts", "workspace_audit", "update_claims"}


def _tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


async def test_upgrade_creates_the_schema_and_downgrade_removes_it(database_url: str) -> None:
    assert await _inspect(database_url, _tables) == set()

    await upgrade(database_url)
    assert await _inspect(database_url, _tables) == ALL_TABLES

    def keys(conn: Connection) -> dict[str, Any]:
        found = inspect(conn)
        return {name: found.get_pk_constraint(name) for name in ("counters", "chat_languages")}

    pks = await _inspect(database_url, keys)
    assert pks["counters"]["name"] == "pk_counters"
    assert pks["counters"]["constrained_columns"] == ["day", "event", "key", "lang", "source"]
    assert pks["chat_languages"]["name"] == "pk_chat_languages"
    assert pks["chat_languages"]["constrained_columns"] == ["chat_key"]

    await downgrade(database_url)
    assert await _inspect(database_url, _tables) == {"alembic_version"}

    def version_rows(conn: Connection) -> list[Any]:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")))

    assert await _inspect(database_url, version_rows) == []

    await upgrade(database_url)  # and back up again: the steps really reverse
    assert await _inspect(database_url, version_rows) == [(schema_head(),)]


async def test_upgrade_twice_changes_nothing(database_url: str) -> None:
    await upgrade(database_url)
    await upgrade(database_url)
    assert "counters" in await _inspect(database_url, _tables)


async def test_migrations_match_the_models(database_url: str) -> None:
    await upgrade(database_url)

    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    assert await _inspect(database_url, diff) == []


async def test_schema_holds_no_personal_data_and_no_time_finer_than_a_day(
    database_url: str,
) -> None:
    await upgrade(database_url)

    def columns(conn: Connection) -> dict[str, dict[str, str]]:
        found = inspect(conn)
        return {
            table: {c["name"]: str(c["type"]).upper() for c in found.get_columns(table)}
            for table in ("counters", "chat_languages", "releases", "released_cells", "cases",
                          "case_blocks")
        }

    schema = await _inspect(database_url, columns)
    assert set(schema["counters"]) == {"day", "event", "key", "lang", "source", "count"}
    assert set(schema["chat_languages"]) == {"chat_key", "lang", "updated_on"}
    assert set(schema["released_cells"]) == {"period_start", "event", "key", "lang", "noisy"}
    # A case keeps its chat only sealed (Fernet) and as a keyed HMAC; days, never times.
    assert set(schema["cases"]) == {"code", "topic_id", "lang", "status", "opened_on",
                                    "active_on", "chat_lookup", "chat_sealed"}
    assert set(schema["case_blocks"]) == {"chat_block", "until"}
    for table in schema.values():
        for name, type_name in table.items():
            assert "TIME" not in type_name, f"{name} is {type_name}: days only"
    assert schema["counters"]["day"] == "DATE"
    assert schema["chat_languages"]["updated_on"] == "DATE"


async def test_sqlite_connections_get_wal_busy_timeout_and_foreign_keys(tmp_path: Path) -> None:
    db_file = tmp_path / "nested" / "folder" / "jol.sqlite3"
    engine = create_engine(f"sqlite+aiosqlite:///{db_file}")
    try:
        assert db_file.parent.is_dir()  # created before the first connection
        async with engine.connect() as first, engine.connect() as second:
            for conn in (first, second):  # every pooled connection, not just the first
                assert (await conn.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
                assert (await conn.execute(text("PRAGMA busy_timeout"))).scalar() == 5000
                assert (await conn.execute(text("PRAGMA foreign_keys"))).scalar() == 1
    finally:
        await engine.dispose()


async def test_alembic_command_line_uses_alembic_ini(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.sqlite3'}"

    def alembic(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "alembic", "-c", str(REPO_ROOT / "alembic.ini"),
             "-x", f"url={url}", *args],
            cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, check=False,
        )

    done = await asyncio.to_thread(alembic, "upgrade", "head")
    assert done.returncode == 0, done.stderr
    assert await _inspect(url, _tables) == ALL_TABLES
    done = await asyncio.to_thread(alembic, "downgrade", "base")
    assert done.returncode == 0, done.stderr
    assert await _inspect(url, _tables) == {"alembic_version"}


UPGRADER = """
import asyncio, sys, time
from alembic.runtime.migration import MigrationContext
from bot.db import upgrade

original = MigrationContext.run_migrations

def run_slowly(self, **kw):
    original(self, **kw)
    time.sleep(0.5)  # hold the migration open: another process must wait, not collide

MigrationContext.run_migrations = run_slowly
print("ready", flush=True)
sys.stdin.readline()  # start together with the other process
asyncio.run(upgrade(sys.argv[1]))
"""


def _upgrade_in_processes(url: str, processes: int) -> list[tuple[int, str]]:
    return run_together(UPGRADER, url, processes=processes)


async def test_replicas_starting_together_migrate_once(database_url: str) -> None:
    results = await asyncio.to_thread(_upgrade_in_processes, database_url, 3)
    for returncode, stderr in results:
        assert returncode == 0, stderr

    def versions(conn: Connection) -> list[Any]:
        return list(conn.execute(text("SELECT version_num FROM alembic_version")))

    assert await _inspect(database_url, versions) == [(schema_head(),)]
