"""`jol doctor`: one line per check, what to fix, exit 1 on a problem; never the token or a
secret itself (its output gets pasted into chats)."""

from __future__ import annotations

import asyncio
import os
import socket
from pathlib import Path

import pytest

from bot.cli import main
from bot.db import schema_head, upgrade

TOKEN = "123456789:" + "AbCdEfGhIjKlMnOpQrStUvWxYz012345678"
SECRET = "f" * 64
WEBHOOK_SECRET = "hook_Secret-42"


@pytest.fixture
def good_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("JOL_") or name == "TELEGRAM_BOT_TOKEN":
            monkeypatch.delenv(name)
    url = f"sqlite+aiosqlite:///{tmp_path / 'data' / 'jol.sqlite3'}"
    asyncio.run(upgrade(url))
    with socket.socket() as probe:  # a port nothing listens on right now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {"TELEGRAM_BOT_TOKEN": TOKEN, "JOL_DATABASE_URL": url, "JOL_SECRET": SECRET,
           "JOL_ADMIN_IDS": "11111", "JOL_HTTP_PORT": str(port),
           "JOL_WEBHOOK_URL": "https://jol.example.org/telegram",
           "JOL_WEBHOOK_SECRET": WEBHOOK_SECRET, "HOME": str(tmp_path / "home")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def doctor(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["doctor"])
    out = capsys.readouterr()
    assert out.err == ""
    for secret in (TOKEN, TOKEN.split(":")[1], SECRET, WEBHOOK_SECRET):
        assert secret not in out.out
    return code, out.out.splitlines()


def problems(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("PROBLEM ")]


def test_a_good_configuration_is_all_ok(
    good_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = doctor(capsys)
    assert code == 0, lines
    assert lines[-1] == "no problems"
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "ok token", "ok database", "ok content", "ok secret", "ok webhook",
        "ok webhook secret", "ok admins", "ok http"]
    assert f"schema {schema_head()} (up to date)" in lines[1]


@pytest.mark.parametrize(("name", "value", "expected"), [
    ("TELEGRAM_BOT_TOKEN", "", "PROBLEM token: TELEGRAM_BOT_TOKEN is not set → "),
    ("TELEGRAM_BOT_TOKEN", "123:abc", "PROBLEM token: TELEGRAM_BOT_TOKEN (7 characters) is not "
                                      "shaped like <digits>:<35 characters"),
    ("TELEGRAM_BOT_TOKEN", TOKEN + " ", "PROBLEM token: "),
    ("JOL_DATABASE_URL", "mysql://jol@db/jol", "PROBLEM configuration: JOL_DATABASE_URL "
                                               "mysql://jol@db/jol is not supported"),
    ("JOL_DATABASE_URL", "postgresql+asyncpg://jol:pw@127.0.0.1:1/jol",
     "PROBLEM database: cannot use the database JOL_DATABASE_URL=postgresql+asyncpg://jol:***@"),
    ("JOL_CONTENT_DIR", "/nowhere", "PROBLEM configuration: JOL_CONTENT_DIR must be a folder "
                                    "that exists, got '/nowhere' → "),
    ("JOL_SECRET", "short", "PROBLEM secret: JOL_SECRET is only 5 characters"),
    ("JOL_WEBHOOK_URL", "http://jol.example.org/telegram",
     "PROBLEM configuration: JOL_WEBHOOK_URL must be an https:// address, got "
     "'http://jol.example.org/telegram' → "),
    ("JOL_WEBHOOK_URL", "https://jol.example.org", "PROBLEM webhook: JOL_WEBHOOK_URL "
                                                   "jol.example.org has no path"),
    ("JOL_HTTP_PORT", "70000", "PROBLEM configuration: JOL_HTTP_PORT must be between 0 and "
                                "65535, got 70000 → "),
    ("JOL_WEBHOOK_SECRET", "", "PROBLEM configuration: JOL_WEBHOOK_SECRET must be set when "
                               "JOL_WEBHOOK_URL is set → "),
])
def test_each_mistake_is_one_problem_line_with_what_to_do(
    name: str, value: str, expected: str, good_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv(name, value)
    code, lines = doctor(capsys)
    assert code == 1
    found = problems(lines)
    assert len(found) == 1, lines
    assert found[0].startswith(expected)
    assert " → " in found[0]
    assert "pw@" not in found[0]


def test_a_database_never_migrated_is_a_problem_and_the_doctor_does_not_migrate_it(
    tmp_path: Path, good_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    missing = tmp_path / "new" / "jol.sqlite3"
    monkeypatch.setenv("JOL_DATABASE_URL", f"sqlite+aiosqlite:///{missing}")
    code, lines = doctor(capsys)
    assert code == 1
    assert problems(lines) == [f"PROBLEM database: sqlite+aiosqlite:///{missing}: the file does "
                               "not exist yet → run `jol db upgrade` (or `jol run`, which "
                               "creates it)"]
    assert not missing.exists()

    missing.parent.mkdir()
    missing.touch()  # an empty database: reachable, never migrated
    code, lines = doctor(capsys)
    assert problems(lines) == [f"PROBLEM database: sqlite+aiosqlite:///{missing} answers but was "
                               "never migrated → run `jol db upgrade`"]


def test_secret_files_are_judged_by_place_and_permissions(
    tmp_path: Path, good_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("JOL_SECRET")
    key_file = tmp_path / "keys" / "secret"
    monkeypatch.setenv("JOL_SECRET_FILE", str(key_file))
    code, lines = doctor(capsys)
    assert code == 0
    assert f"ok secret: {key_file} does not exist yet; `jol run` generates it there (0600)" \
        in lines

    key_file.parent.mkdir()
    key_file.write_text(SECRET)
    key_file.chmod(0o644)
    code, lines = doctor(capsys)
    assert problems(lines) == [f"PROBLEM secret: {key_file} has permissions 644 → run: "
                               f"chmod 600 {key_file}"]
    key_file.chmod(0o600)
    assert doctor(capsys)[0] == 0

    beside = tmp_path / "data" / "secret"
    monkeypatch.setenv("JOL_SECRET_FILE", str(beside))
    code, lines = doctor(capsys)
    assert problems(lines)[0].startswith(
        f"PROBLEM secret: {beside} is in the same folder as the database → set JOL_SECRET_FILE")

    old = tmp_path / "data" / "jol.secret"
    old.write_text(SECRET)
    monkeypatch.setenv("JOL_SECRET_FILE", str(tmp_path / "elsewhere" / "secret"))
    code, lines = doctor(capsys)
    assert problems(lines)[0].startswith(f"PROBLEM secret: the old {old} sits beside the database")
    assert f"mv {old} {tmp_path / 'elsewhere' / 'secret'}" in problems(lines)[0]


def test_no_admins_is_a_warning_not_a_problem(
    good_env: dict[str, str], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("JOL_ADMIN_IDS", "")
    code, lines = doctor(capsys)
    assert code == 0
    assert any(line.startswith("warning admins: JOL_ADMIN_IDS is empty") for line in lines)


def test_a_port_in_use_is_a_warning(
    good_env: dict[str, str], capsys: pytest.CaptureFixture[str],
) -> None:
    with socket.create_server(("127.0.0.1", int(good_env["JOL_HTTP_PORT"]))):
        code, lines = doctor(capsys)
    assert code == 0
    assert any(line.startswith("warning http: 127.0.0.1:") and "in use" in line
               for line in lines)
