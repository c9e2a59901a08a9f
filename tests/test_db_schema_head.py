"""`jol run` skips Alembic when the schema is current and never imports it itself."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bot import REPO_ROOT, db


def test_schema_head_is_alembics_newest_migration() -> None:
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(db.alembic_config()).get_heads()
    assert heads == [db.schema_head()]  # read from the files without Alembic, as Alembic sees it


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
                         check=True, cwd=REPO_ROOT)
    assert out.stdout.strip() == "False"


def test_an_installed_package_finds_its_migrations(tmp_path: Path) -> None:
    """A wheel carries migrations/ as bot/migrations: no PYTHONPATH trick, no checkout needed."""
    # Built from a copy: a build/ folder left in the checkout would put stale files in the wheel.
    source = tmp_path / "src"
    for name in ("bot", "migrations"):
        shutil.copytree(REPO_ROOT / name, source / name,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w",
                    str(tmp_path / "dist"), str(source)], check=True, capture_output=True)
    wheel = next((tmp_path / "dist").glob("jol-*.whl"))
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
                    str(tmp_path / "site"), str(wheel)], check=True, capture_output=True)
    code = "import bot.db as d; print(d.migrations_dir(), d.schema_head())"
    out = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, "
                          f"{str(tmp_path / 'site')!r}); {code}"],
                         capture_output=True, text=True, check=True, cwd=tmp_path)
    folder, head = out.stdout.split()
    assert folder == str(tmp_path / "site" / "bot" / "migrations")
    assert head == db.schema_head()
    # The workspace's templates and static files are package data too.
    shipped = tmp_path / "site" / "bot" / "workspace"
    for name in ("templates/base.html", "templates/topic.html", "static/workspace.css",
                 "static/workspace.js"):
        assert (shipped / name).is_file(), name
