"""Settings are declared once (bot/settings.py): every one parses a good value, refuses a bad
one in one line naming it, and the README's table is the one the declarations generate."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot import REPO_ROOT
from bot.handoff.hours import WorkingHours
from bot.settings import SETTINGS, Setting, Settings, SettingsError, markdown_table

SQLITE = "sqlite+aiosqlite:////data/jol.sqlite3"
PG = "postgresql+asyncpg://jol:pw@db/jol"
FERNET_KEY = "0" * 43 + "="  # a valid Fernet key (32 zero bytes in url-safe base64)
HOURS = "Mon-Fri 09:00-18:00 Asia/Bishkek"
CASEWORK = {"JOL_CASEWORK_CHAT_ID": "-1001234567890", "JOL_CASE_KEY": FERNET_KEY,
            "JOL_CASEWORK_NGO_NAME": "НКО", "JOL_CASEWORK_HOURS": HOURS}
HOOK = {"JOL_WEBHOOK_SECRET": "s3cret", **CASEWORK}  # the URL needs it; the chat id the rest

# A good value of every setting and what it becomes. A new setting without a line here fails.
GOOD: dict[str, tuple[str, object]] = {
    "TELEGRAM_BOT_TOKEN": ("123:abc", "123:abc"),
    "JOL_API_BASE_URL": ("http://127.0.0.1:8081/bot", "http://127.0.0.1:8081/bot"),
    "JOL_DATABASE_URL": (PG, PG),
    "JOL_CONTENT_DIR": (str(REPO_ROOT / "content"), REPO_ROOT / "content"),
    "JOL_CONTENT_SOURCE": ("Folder", "folder"),
    "JOL_CONTENT_POLL_SECONDS": ("0.5", 0.5),
    "JOL_ADMIN_IDS": ("11, 22,,-33", frozenset({11, 22, -33})),
    "JOL_SECRET": ("a-long-random-key", "a-long-random-key"),
    "JOL_SECRET_FILE": ("/run/secrets/jol", Path("/run/secrets/jol")),
    "JOL_WEBHOOK_URL": ("https://jol.example.org/telegram", "https://jol.example.org/telegram"),
    "JOL_WEBHOOK_SECRET": ("a_B-9", "a_B-9"),
    "JOL_WEBHOOK_CONNECTIONS": ("100", 100),
    "JOL_HTTP_HOST": ("0.0.0.0", "0.0.0.0"),
    "JOL_HTTP_PORT": ("0", 0),
    "JOL_MIN_REPORT_COUNT": ("2", 2),
    "JOL_STATS_EPSILON": ("0.5", 0.5),
    "JOL_STATS_CAP": ("100", 100),
    "JOL_RETENTION_DAYS": ("1", 1),
    "JOL_STALE_AFTER_DAYS": (" 90 ", 90),
    "JOL_STATS_FLUSH_SECONDS": ("0.1", 0.1),
    "JOL_MAX_MESSAGES_PER_SECOND": ("25", 25),
    "JOL_LOG_LEVEL": ("debug", "DEBUG"),
    "JOL_LOG_FORMAT": ("JSON", "json"),
    "JOL_CASEWORK_CHAT_ID": ("-1009876543210", -1009876543210),
    "JOL_CASE_KEY": (FERNET_KEY, FERNET_KEY),
    "JOL_CASEWORK_NGO_NAME": ("  НКО   «Путь» ", "НКО «Путь»"),
    "JOL_CASEWORK_HOURS": (HOURS, WorkingHours.parse(HOURS)),
    "JOL_CASE_RETENTION_DAYS": ("7", 7),
    "JOL_PUBLIC_URL": ("https://editors.example.org/", "https://editors.example.org"),
    "JOL_REVIEW_REQUIRED": ("OFF", False),
}
# Bad values and the one line each gets. Free text (a token, a key, a host) has none.
BAD: list[tuple[str, str, str]] = [
    ("JOL_API_BASE_URL", "api.telegram.org/bot",
     "JOL_API_BASE_URL must be an http:// or https:// address, got 'api.telegram.org/bot'"),
    ("JOL_DATABASE_URL", "mysql://jol@db/jol",
     "JOL_DATABASE_URL mysql://jol@db/jol is not supported; use sqlite+aiosqlite:///"),
    ("JOL_DATABASE_URL", "garbage", "JOL_DATABASE_URL is not a database URL; use "),
    ("JOL_CONTENT_DIR", "/nowhere", "JOL_CONTENT_DIR must be a folder that exists, got "
                                    "'/nowhere'"),
    ("JOL_CONTENT_SOURCE", "git", "JOL_CONTENT_SOURCE must be one of database, folder, got "
                                  "'git'"),
    ("JOL_CONTENT_POLL_SECONDS", "0",
     "JOL_CONTENT_POLL_SECONDS must be between 0.1 and 3600, got 0"),
    ("JOL_ADMIN_IDS", "11,bob", "JOL_ADMIN_IDS must be comma-separated Telegram user ids, got "
                                "'bob'"),
    ("JOL_WEBHOOK_URL", "http://jol.example.org/t",
     "JOL_WEBHOOK_URL must be an https:// address, got 'http://jol.example.org/t'"),
    ("JOL_WEBHOOK_SECRET", "no spaces", "JOL_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and -"),
    ("JOL_WEBHOOK_CONNECTIONS", "101",
     "JOL_WEBHOOK_CONNECTIONS must be between 1 and 100, got 101"),
    ("JOL_HTTP_PORT", "99999", "JOL_HTTP_PORT must be between 0 and 65535, got 99999"),
    ("JOL_HTTP_PORT", "eighty", "JOL_HTTP_PORT must be a whole number, got 'eighty'"),
    ("JOL_MIN_REPORT_COUNT", "-1", "JOL_MIN_REPORT_COUNT must be between 2 and 1000, got -1"),
    ("JOL_STATS_EPSILON", "nan", "JOL_STATS_EPSILON must be between 0.01 and 10, got nan"),
    ("JOL_STATS_CAP", "0", "JOL_STATS_CAP must be between 1 and 100, got 0"),
    ("JOL_RETENTION_DAYS", "0", "JOL_RETENTION_DAYS must be between 1 and 36500, got 0"),
    ("JOL_STALE_AFTER_DAYS", "3651", "JOL_STALE_AFTER_DAYS must be between 1 and 3650, got 3651"),
    ("JOL_STATS_FLUSH_SECONDS", "0",
     "JOL_STATS_FLUSH_SECONDS must be between 0.1 and 3600, got 0"),
    ("JOL_MAX_MESSAGES_PER_SECOND", "1001",
     "JOL_MAX_MESSAGES_PER_SECOND must be between 0 and 1000, got 1001"),
    ("JOL_LOG_LEVEL", "loud", "JOL_LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, got "
                              "'loud'"),
    ("JOL_LOG_FORMAT", "xml", "JOL_LOG_FORMAT must be one of text, json, got 'xml'"),
    ("JOL_CASEWORK_CHAT_ID", "12345",
     "JOL_CASEWORK_CHAT_ID must be a supergroup id like -1001234567890, got '12345'"),
    ("JOL_CASE_KEY", "short", "JOL_CASE_KEY must be a Fernet key"),
    ("JOL_CASEWORK_NGO_NAME", "x" * 101, "JOL_CASEWORK_NGO_NAME must be at most 100 characters"),
    ("JOL_CASEWORK_HOURS", "always", "JOL_CASEWORK_HOURS write it as e.g. 'Mon-Fri"),
    ("JOL_CASE_RETENTION_DAYS", "0", "JOL_CASE_RETENTION_DAYS must be between 1 and 365, got 0"),
    ("JOL_PUBLIC_URL", "editors.example.org",
     "JOL_PUBLIC_URL must be an http:// or https:// address, got 'editors.example.org'"),
    ("JOL_REVIEW_REQUIRED", "maybe", "JOL_REVIEW_REQUIRED must be on or off, got 'maybe'"),
]
FREE_TEXT = {"TELEGRAM_BOT_TOKEN", "JOL_SECRET", "JOL_SECRET_FILE", "JOL_HTTP_HOST"}


def test_every_setting_is_declared_once_and_fills_one_field() -> None:
    names = [s.env for s in SETTINGS]
    assert len(names) == len(set(names))
    assert [s.attr for s in SETTINGS] == [f.name for f in dataclasses.fields(Settings)]
    assert set(GOOD) == set(names), "give every setting a good value above"
    assert {name for name, _, _ in BAD} == set(names) - FREE_TEXT


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_each_setting_reads_a_good_value_and_has_a_default(setting: Setting) -> None:
    raw, expected = GOOD[setting.env]
    assert getattr(Settings.from_env({**HOOK, setting.env: raw}), setting.attr) == expected
    default = getattr(Settings.from_env({"HOME": "/home/x"}), setting.attr)
    assert getattr(Settings.from_env({setting.env: "", "HOME": "/home/x"}),
                   setting.attr) == default  # empty is unset
    assert setting.shown_default and setting.help


@pytest.mark.parametrize(("name", "value", "says"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_each_bad_value_stops_with_one_line_naming_the_variable(
        name: str, value: str, says: str) -> None:
    with pytest.raises(SettingsError) as error:
        Settings.from_env({**HOOK, name: value})
    line = str(error.value)
    assert line.startswith(says) and "\n" not in line
    assert "pw@" not in line


def test_the_webhook_secret_is_required_with_the_url() -> None:
    with pytest.raises(SettingsError, match=r"^JOL_WEBHOOK_SECRET must be set when "
                                            r"JOL_WEBHOOK_URL is set$"):
        Settings.from_env({"JOL_WEBHOOK_URL": "https://jol.example.org/telegram"})


@pytest.mark.parametrize("missing", ["JOL_CASE_KEY", "JOL_CASEWORK_NGO_NAME",
                                     "JOL_CASEWORK_HOURS"])
def test_the_handoff_needs_all_its_settings_together(missing: str) -> None:
    env = {name: value for name, value in CASEWORK.items() if name != missing}
    with pytest.raises(SettingsError, match=rf"^{missing} must be set when "
                                            r"JOL_CASEWORK_CHAT_ID is set"):
        Settings.from_env(env)
    assert Settings.from_env({}).casework is None  # off by default
    assert Settings.from_env(CASEWORK).casework is not None


def test_the_defaults_are_the_documented_ones(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env({"HOME": "/home/x"})
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}"
    assert settings.content_dir == REPO_ROOT / "content"
    assert settings.secret_file == Path("/home/x/.config/jol/secret")
    assert (settings.http_host, settings.http_port, settings.min_report_count) == (
        "127.0.0.1", 8080, 5)
    assert settings.token is settings.secret is settings.webhook_url is None


def test_the_readme_table_is_the_generated_one() -> None:
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("| variable | meaning | default |\n")
    table = readme[start:readme.index("\n\n", start) + 1]
    assert table == markdown_table(), "run `python -m bot.settings` and paste it into README.md"
    printed = subprocess.run([sys.executable, "-m", "bot.settings"], capture_output=True,
                             text=True, cwd=REPO_ROOT, check=True)
    assert printed.stdout == table


@pytest.mark.parametrize(("name", "value", "says"), [
    ("JOL_STATS_FLUSH_SECONDS", "0", "JOL_STATS_FLUSH_SECONDS must be between 0.1 and 3600"),
    ("JOL_DATABASE_URL", "mysql://jol@db/jol", "JOL_DATABASE_URL mysql://jol@db/jol is not "
                                               "supported"),
    ("JOL_CONTENT_DIR", "/nowhere", "JOL_CONTENT_DIR must be a folder that exists"),
])
def test_jol_run_stops_at_start_with_one_line_and_exit_2(
        name: str, value: str, says: str, tmp_path: Path) -> None:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "PYTHONPATH": str(REPO_ROOT),
           "TELEGRAM_BOT_TOKEN": "123456:" + "A" * 35, name: value}
    done = subprocess.run([sys.executable, "-m", "bot.cli", "run"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.startswith(f"configuration error: {says}")
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "jol.sqlite3").exists()  # stopped before anything was opened


def test_review_is_required_by_default_with_two_editors_and_settable() -> None:
    assert not Settings.from_env({"JOL_ADMIN_IDS": "11"}).review_needed
    assert Settings.from_env({"JOL_ADMIN_IDS": "11,22"}).review_needed
    assert not Settings.from_env({"JOL_ADMIN_IDS": "11,22",
                                  "JOL_REVIEW_REQUIRED": "off"}).review_needed
    assert Settings.from_env({"JOL_ADMIN_IDS": "11", "JOL_REVIEW_REQUIRED": "on"}).review_needed
