"""Issue 10.12: every operator mistake is one line on stderr naming the setting, never a
traceback; `jol db upgrade` says which database it migrated; `jol --version`."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from bot import REPO_ROOT, cli
from bot.cli import main
from bot.db import database_problem, schema_head
from bot.settings import SettingsError
from tests.helpers import migrated_sqlite_url

UNREACHABLE_PG = "postgresql+asyncpg://jol:hunter2@127.0.0.1:1/jol"  # nothing listens on 1


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("JOL_") or name == "TELEGRAM_BOT_TOKEN":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    monkeypatch.chdir(tmp_path)


def one_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("url", "says"), [
    ("mysql://jol@db.example/jol", "JOL_DATABASE_URL mysql://jol@db.example/jol is not supported"),
    ("sqlite:///jol.sqlite3", "JOL_DATABASE_URL sqlite:///jol.sqlite3 is not supported; use "
                              "sqlite+aiosqlite:///"),
    ("not a url", "JOL_DATABASE_URL is not a database URL"),
    (UNREACHABLE_PG, "cannot use the database JOL_DATABASE_URL=postgresql+asyncpg://jol:***@"
                     "127.0.0.1:1/jol: "),
])
@pytest.mark.parametrize("command", [["db", "upgrade"], ["stats"]])
def test_an_unusable_database_url_is_one_line(
    url: str, says: str, command: list[str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("JOL_DATABASE_URL", url)
    assert main(command) == 2
    line = one_line(capsys)
    assert says in line
    assert "hunter2" not in line


def test_only_database_failures_are_reported_as_database_problems() -> None:
    refused = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 1)")
    assert database_problem(refused, UNREACHABLE_PG) == (
        "cannot use the database JOL_DATABASE_URL=postgresql+asyncpg://jol:***@127.0.0.1:1/jol: "
        "[Errno 111] Connect call failed ('127.0.0.1', 1)")
    # A file elsewhere (a chart, a key) or a bug is not blamed on JOL_DATABASE_URL.
    assert database_problem(FileNotFoundError(2, "No such file", "chart.png"), "x") is None
    assert database_problem(KeyError("x"), "x") is None


def test_an_sqlite_folder_that_cannot_be_created_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("JOL_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/a-file/jol.sqlite3")
    assert main(["db", "upgrade"]) == 2
    assert f"cannot create the folder {tmp_path / 'a-file'}" in one_line(capsys)


@pytest.mark.parametrize("command", [["content", "list"], ["search", "паспорт"], ["chat"]])
def test_a_content_folder_that_does_not_exist_is_one_line(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("JOL_CONTENT_DIR", str(tmp_path / "nowhere"))
    assert main(command) == 2  # a setting, refused at start like the others
    assert one_line(capsys) == ("configuration error: JOL_CONTENT_DIR must be a folder that "
                                f"exists, got '{tmp_path / 'nowhere'}'")


def test_a_malformed_setting_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("JOL_HTTP_PORT", "eighty")
    assert main(["db", "upgrade"]) == 2
    assert one_line(capsys) == "configuration error: JOL_HTTP_PORT must be a whole number, " \
                               "got 'eighty'"


@pytest.mark.parametrize(("name", "value", "says"), [
    ("JOL_MIN_REPORT_COUNT", "0", "JOL_MIN_REPORT_COUNT must be between 2 and 1000, got 0"),
    ("JOL_MIN_REPORT_COUNT", "1", "JOL_MIN_REPORT_COUNT must be between 2 and 1000, got 1"),
    ("JOL_RETENTION_DAYS", "-5", "JOL_RETENTION_DAYS must be between 1 and 36500, got -5"),
    ("JOL_STALE_AFTER_DAYS", "0", "JOL_STALE_AFTER_DAYS must be between 1 and 3650, got 0"),
    ("JOL_HTTP_PORT", "99999", "JOL_HTTP_PORT must be between 0 and 65535, got 99999"),
    ("JOL_MAX_MESSAGES_PER_SECOND", "-1",
     "JOL_MAX_MESSAGES_PER_SECOND must be between 0 and 1000, got -1"),
    ("JOL_STATS_FLUSH_SECONDS", "-5",
     "JOL_STATS_FLUSH_SECONDS must be between 0.1 and 3600, got -5"),
    ("JOL_STATS_FLUSH_SECONDS", "nan",
     "JOL_STATS_FLUSH_SECONDS must be between 0.1 and 3600, got nan"),
    ("JOL_STATS_EPSILON", "inf", "JOL_STATS_EPSILON must be between 0.01 and 10, got inf"),
    ("JOL_WEBHOOK_URL", "http://jol.example.org/telegram",
     "JOL_WEBHOOK_URL must be an https:// address, got 'http://jol.example.org/telegram'"),
])
@pytest.mark.parametrize("command", [["run"], ["chat"], ["stats"], ["content", "check"]])
def test_an_out_of_range_setting_is_one_line_for_every_command(
    name: str, value: str, says: str, command: list[str],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    # Before: a threshold of 0 wrote every word one chat typed, a negative flush period was a
    # traceback inside `jol run`, and an http webhook was registered with Telegram.
    monkeypatch.setenv("JOL_WEBHOOK_SECRET", "s3cret")
    monkeypatch.setenv(name, value)
    assert main(command) == 2
    assert one_line(capsys) == f"configuration error: {says}"


def jol(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot.cli", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def run_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(REPO_ROOT),
        "TELEGRAM_BOT_TOKEN": "123456:" + "A" * 35,
        "JOL_API_BASE_URL": "http://127.0.0.1:1/bot",  # never reached in these runs
        "JOL_HTTP_PORT": "0",
        **extra,
    }


def test_jol_run_with_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    done = jol("run", env=run_env(tmp_path, JOL_DATABASE_URL=UNREACHABLE_PG), cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith(
        "configuration error: cannot use the database JOL_DATABASE_URL=postgresql+asyncpg://"
        "jol:***@127.0.0.1:1/jol")
    assert "hunter2" not in done.stderr


def test_jol_run_with_a_key_file_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("")
    env = run_env(tmp_path, JOL_DATABASE_URL=migrated_sqlite_url(tmp_path / "jol.sqlite3"),
                  JOL_SECRET_FILE=str(tmp_path / "a-file" / "secret"))
    done = jol("run", env=env, cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"configuration error: cannot use the secret file {tmp_path}")
    assert "JOL_SECRET_FILE" in last


def test_db_upgrade_says_which_database_and_from_which_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'jol.sqlite3'}"
    monkeypatch.setenv("JOL_DATABASE_URL", url)
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == f"migrated {url} from empty to {schema_head()}\n"
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out == f"database {url} is at schema {schema_head()} (up to date)\n"


def test_db_upgrade_on_postgresql(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("JOL_DATABASE_URL", postgres_url)
    assert main(["db", "upgrade"]) == 0
    assert capsys.readouterr().out.startswith("migrated postgresql+asyncpg://")


def test_version_comes_from_the_package_metadata(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"jol {version('jol')}\n"


def test_commands_without_telegram_leave_ptb_settings_alone(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    assert main(["content", "list", "--json"]) == 0
    assert "PTB_TIMEDELTA" not in os.environ


@pytest.mark.parametrize("operator_set", [None, "false"])
def test_telegram_commands_opt_in_to_timedelta_only_while_they_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    operator_set: str | None,
) -> None:
    """`jol chat` and `jol run` set PTB_TIMEDELTA for themselves; a test (or any program)
    calling main() gets its environment back as it was, even when the command fails."""
    if operator_set is None:
        monkeypatch.delenv("PTB_TIMEDELTA", raising=False)
    else:
        monkeypatch.setenv("PTB_TIMEDELTA", operator_set)
    seen: list[str | None] = []

    def chat(*_: object) -> int:
        seen.append(os.environ.get("PTB_TIMEDELTA"))
        raise SettingsError("JOL_EXAMPLE is wrong")

    monkeypatch.setattr(cli, "cmd_chat", chat)
    assert main(["chat"]) == 2
    assert one_line(capsys) == "configuration error: JOL_EXAMPLE is wrong"
    assert seen == [operator_set or "true"]
    assert os.environ.get("PTB_TIMEDELTA") == operator_set
