"""The log (issue 10, item 12 and item 7): JOL_LOG_LEVEL and JOL_LOG_FORMAT, nothing private
even at DEBUG, and repeated lines held back."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.cli import main
from bot.server import RepeatedLines, configure_logging
from bot.settings import Settings, SettingsError

WATCHED = ("", "telegram", "telegram.Bot", "sqlalchemy", "aiosqlite", "asyncpg", "httpx")


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers = root.handlers[:]
    levels = {name: logging.getLogger(name).level for name in WATCHED}
    yield
    root.handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_log_settings_are_checked_with_the_variables_name(
        capsys: pytest.CaptureFixture[str]) -> None:
    settings = Settings.from_env({"JOL_LOG_LEVEL": "debug", "JOL_LOG_FORMAT": "JSON"})
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    with pytest.raises(SettingsError, match="JOL_LOG_LEVEL must be one of DEBUG, INFO"):
        Settings.from_env({"JOL_LOG_LEVEL": "loud"})
    with pytest.raises(SettingsError, match="JOL_LOG_FORMAT must be one of text, json"):
        Settings.from_env({"JOL_LOG_FORMAT": "xml"})


def test_bad_log_level_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JOL_LOG_LEVEL", "loud")
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("configuration error: JOL_LOG_LEVEL")


@pytest.mark.usefixtures("restored_logging")
def test_json_lines_and_nothing_private_at_debug() -> None:
    out = io.StringIO()
    configure_logging("DEBUG", "json", stream=out)
    logging.getLogger("bot.example").debug("polling %s", "fine")
    # What PTB and SQLAlchemy log at DEBUG: call parameters and answers, with user data.
    logging.getLogger("telegram.Bot").debug("Calling Bot API endpoint with `%s`", "Aigul")
    logging.getLogger("sqlalchemy.engine.Engine").info("[generated] ('secret words',)")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(e["level"], e["logger"], e["message"]) for e in lines] == [
        ("DEBUG", "bot.example", "polling fine")]
    assert lines[0]["time"].endswith("+00:00")


def test_repeated_lines_are_held_back_and_then_summed_up() -> None:
    limiter = RepeatedLines(window=3600, burst=5)

    def record(msg: str) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, None, None)

    passed = [limiter.filter(record("socket.accept() out of system resource"))
              for _ in range(1000)]
    assert passed.count(True) == 5
    assert limiter.filter(record("another message"))  # other lines are not held back
    limiter.window = 0  # the window is over
    summary = record("socket.accept() out of system resource")
    assert limiter.filter(summary)
    assert summary.getMessage().startswith(
        "socket.accept() out of system resource [repeated 995 more times in")
