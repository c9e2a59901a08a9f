"""Slow clients (issue 10, item 7): many connections that never finish their request, under a
small file limit, leave /healthz and the users' answers working and the log small."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from bot.standin import STANDIN, start_standin
from tests.serving_helpers import free_port, jol_run, log_text, wait_for_log

TOKEN = "616161:slow-clients"
SECRET = "slow_secret"
SLOW_CLIENTS = 600  # far more than the 256 files the bot may open


async def test_slow_clients_cannot_take_the_bot_down(tmp_path: Path) -> None:
    runner, base_url = await start_standin("127.0.0.1", 0)
    standin = runner.app[STANDIN].bot(TOKEN)
    port = free_port()
    slow: list[asyncio.StreamWriter] = []
    try:
        async with jol_run(base_url, tmp_path, port, token=TOKEN, files=256,
                           JOL_WEBHOOK_URL=f"http://127.0.0.1:{port}/telegram",
                           JOL_WEBHOOK_SECRET=SECRET):
            await wait_for_log(tmp_path, "serving by webhook")
            lines_at_start = len(log_text(tmp_path).splitlines())
            first_reader = None
            for _ in range(SLOW_CLIENTS):  # each sends half a request, then nothing
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
                slow.append(writer)
                first_reader = first_reader or reader
            async with aiohttp.ClientSession() as http:
                async with asyncio.timeout(10):
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as health:
                        assert health.status == 200, await health.text()
            standin.message(6201, "/start")
            assert await standin.wait_for_chat(6201, 1, timeout=20), log_text(tmp_path)
            assert standin.chat(6201).last.text.startswith("Главное меню")
            # The oldest slow client was let go to make room.
            assert first_reader is not None
            async with asyncio.timeout(5):
                try:
                    closed = await first_reader.read() == b""
                except ConnectionResetError:  # closed with its half request unread
                    closed = True
            assert closed
            log = log_text(tmp_path)
            assert len(log.splitlines()) - lines_at_start < 30, log[-3000:]
    finally:
        for writer in slow:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        await runner.cleanup()
