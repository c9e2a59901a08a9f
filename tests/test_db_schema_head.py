"""`jol run` skips Alembic when the schema is current and never imports it itself."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot import db


def test_schema_head_is_alembics_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(db.alembic_config()).get_heads()
    assert heads == [db.SCHEMA_HEAD], "a new migration: set bot.db.SCHEMA_HEAD to its revision"


async def test_upgrade_in_child_brings_an_empty_database_to_the_head(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}"
    assert not await db.schema_is_current(url)
    await db.upgrade_in_child(url)
    assert await db.schema_is_current(url)
    await db.upgrade_in_child(url)  # current: nothing runs


async def test_upgrade_in_child_reports_a_failed_migration_in_one_line() -> None:
    unreachable = "postgresql+asyncpg://jol:pw@127.0.0.1:1/jol"  # nothing listens on port 1
    with pytest.raises(db.DatabaseUnusable) as failure:
        await db.upgrade_in_child(unreachable)
    # The child's own line, passed on: the setting, the address without its password.
    assert str(failure.value).startswith(
        "cannot use the database JOL_DATABASE_URL=postgresql+asyncpg://jol:***@127.0.0.1:1/jol")
    assert "\n" not in str(failure.value) and "pw" not in str(failure.value)


def test_the_running_bot_does_not_import_alembic() -> None:
    code = "import sys, bot.server, bot.cli; print('alembic' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=db.REPO_ROOT)
    assert out.stdout.strip() == "False"
