"""A restart that meets a backlog (issue 15, part 6): what the first updates would wait for is
ready before the bot takes updates, and a burst of chats the bot has not seen since it
started costs the database one read, not one per chat. Behaviour, not timing: the bench
(`python -m bench --cold-start`) measures the latency."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from bot import server
from bot.settings import Settings
from bot.standin import STANDIN, start_standin
from tests.helpers import REAL_CONTENT
from tests.serving_helpers import free_port

TOKEN = "626262:cold-start-test"
BACKLOG = 30  # new chats whose /start waits before the bot starts


# bot.server silences this at import; pytest's own filters, set per test, would not.
@pytest.mark.filterwarnings("ignore:Please use 'Bot.getUpdates'")
async def test_a_backlog_meets_a_warm_lookup_and_costs_one_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # serve() would point the root logger at this test's stderr for the rest of the run.
    monkeypatch.setattr(server, "configure_logging", lambda *args, **kwargs: None)
    runner, base_url = await start_standin("127.0.0.1", 0)
    standin = runner.app[STANDIN].bot(TOKEN)
    for chat in range(BACKLOG):
        standin.message(50_000 + chat, "/start", language_code="ky" if chat % 3 else "ru")

    happened: list[str] = []  # in order: language lookups, and the bot's calls to Telegram
    polling = asyncio.Event()

    def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "chat_languages" in statement:
            happened.append("language lookup")

    call = standin.call

    async def noted_call(method: str, params: Any) -> tuple[int, bytes]:
        if method == "getUpdates":
            happened.append("getUpdates")
            polling.set()
        return await call(method, params)

    standin.call = noted_call  # type: ignore[method-assign]
    event.listen(Engine, "before_cursor_execute", on_statement)  # every engine, serve()'s too
    settings = Settings.from_env({
        "TELEGRAM_BOT_TOKEN": TOKEN, "JOL_API_BASE_URL": base_url,
        "JOL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}",
        "JOL_CONTENT_DIR": str(REAL_CONTENT), "JOL_SECRET": "cold-start-secret",
        "JOL_HTTP_HOST": "127.0.0.1", "JOL_HTTP_PORT": str(free_port())})
    loop = asyncio.get_running_loop()
    serving = asyncio.create_task(server.serve(settings))
    try:
        async with asyncio.timeout(60):  # a start on a busy machine: a wait, not a speed test
            await polling.wait()
            for chat in range(BACKLOG):
                assert await standin.wait_for_chat(50_000 + chat, 1, timeout=60)
        assert happened.index("language lookup") < happened.index("getUpdates")
        # The warm-up's read, then the backlog's chats (none in the cache) in one read.
        assert happened.count("language lookup") == 2
        signal.raise_signal(signal.SIGTERM)  # serve() stops on it, as under a supervisor
        assert await asyncio.wait_for(serving, timeout=60) == 0
    finally:
        event.remove(Engine, "before_cursor_execute", on_statement)
        if not serving.done():
            serving.cancel()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await runner.cleanup()
    for chat in range(BACKLOG):
        assert standin.chat(50_000 + chat).last.text.startswith(("Главное меню", "Башкы меню"))
