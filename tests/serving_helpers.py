"""Shared by the serving tests: the real Application on a FakeTelegram with the flood control
on (tests/helpers.py runs it off), and `jol run` as its own process against the stand-in."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from bot import REPO_ROOT
from bot.app import build_application
from bot.fake_telegram import FakeTelegram, LocalRequest
from bot.settings import Settings
from tests.helpers import REAL_CONTENT, Harness, migrated_sqlite, serving

TOKEN = "424242:serving-test"


@asynccontextmanager
async def flood_controlled_bot(tmp_path: Path,
                               telegram: FakeTelegram | None = None) -> AsyncIterator[Harness]:
    settings = Settings.from_env({
        "JOL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}",
        "JOL_SECRET": "test-secret", "JOL_STATS_FLUSH_SECONDS": "3600"})
    telegram = telegram or FakeTelegram()
    async with serving(settings) as services:
        application = build_application(services, request=LocalRequest(telegram))
        async with application:
            yield Harness(telegram, application, services)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@asynccontextmanager
async def jol_run(api_base_url: str, tmp_path: Path, http_port: int, *,
                  token: str = TOKEN, files: int | None = None,
                  **env_overrides: str) -> AsyncIterator[asyncio.subprocess.Process]:
    """`jol run` as its own process (its output in tmp_path/jol.log), optionally with at most
    `files` open files; killed at the end if still running. Unless told otherwise its database
    is tmp_path/jol.sqlite3, made as a copy of a migrated file if it is not there yet, so it
    starts without a migration child."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOL_", "TELEGRAM_"))}
    env.update({
        "TELEGRAM_BOT_TOKEN": token,
        "JOL_API_BASE_URL": api_base_url,
        "JOL_CONTENT_DIR": str(REAL_CONTENT),
        "JOL_SECRET": "serving-test-secret",
        "JOL_HTTP_HOST": "127.0.0.1",
        "JOL_HTTP_PORT": str(http_port),
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p),
        "PYTHONUNBUFFERED": "1",
        **env_overrides,
    })
    database = tmp_path / "jol.sqlite3"
    if "JOL_DATABASE_URL" not in env_overrides:  # a restart keeps the file it finds
        env["JOL_DATABASE_URL"] = (f"sqlite+aiosqlite:///{database}" if database.exists()
                                   else await migrated_sqlite(database))
    limit: Callable[[], None] | None = None
    if files is not None:
        import resource

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))

    with (tmp_path / "jol.log").open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=tmp_path, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT,
            preexec_fn=limit)
        try:
            yield process
        finally:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()


def log_text(tmp_path: Path) -> str:
    return (tmp_path / "jol.log").read_text(errors="replace")


# Starting `jol run` (a migration child, the content, PTB) takes a second or two alone, but
# far longer on a shared machine with every core busy: a wait for a line, not a speed test.
STARTUP_TIMEOUT = 60


async def wait_for_log(tmp_path: Path, needle: str, timeout: float = STARTUP_TIMEOUT) -> str:
    async with asyncio.timeout(timeout):
        while needle not in (text := log_text(tmp_path)):
            await asyncio.sleep(0.05)
    return text


async def stop_as_docker_does(process: subprocess.Popen[bytes], seconds: float = 15.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within `seconds`; waits without blocking the
    event loop (the stand-in may run on it)."""
    process.send_signal(signal.SIGTERM)
    for _ in range(int(seconds * 10)):
        if process.poll() is not None:
            return
        await asyncio.sleep(0.1)
    if process.poll() is None:
        process.kill()
        process.wait()
