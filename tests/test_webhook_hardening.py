"""Webhook intake (issue 10, item 6): parse first; an unreadable update gets 200, a metric and
no backlog slot; a strange secret header gets 401; numbers and nesting JSON allows but Telegram
never sends get 400."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bot import web as web_module
from bot.processor import PerChatUpdateProcessor
from bot.web import SECRET_HEADER
from tests.test_web import SECRET, wait_for, webhook


def bad_updates() -> float:
    return REGISTRY.get_sample_value("jol_bad_updates_total", {"intake": "webhook"}) or 0.0


async def test_unreadable_updates_take_no_backlog_slot(tmp_path: Path) -> None:
    async with webhook(tmp_path) as (bot, client):
        processor = bot.application.update_processor
        assert isinstance(processor, PerChatUpdateProcessor)
        before = bad_updates()
        for _ in range(30):
            poison = bot.telegram.unparseable_update("no-date", user_id=601)
            answer = await client.post("/telegram", json=poison, headers={SECRET_HEADER: SECRET})
            assert answer.status == 200  # Telegram must stop retrying it
            assert (await answer.json())["skipped"] is True
        assert bad_updates() == before + 30
        assert processor.backlog == 0
        good = bot.telegram.message_update(602, "/start")
        answer = await client.post("/telegram", json=good, headers={SECRET_HEADER: SECRET})
        assert answer.status == 200
        await wait_for(lambda: bot.telegram.chats[602].visible != [])
        assert bot.telegram.chats[602].last.text.startswith("Главное меню")
        assert (await client.get("/healthz")).status == 200


async def raw_post(port: int, headers: bytes, body: bytes) -> int:
    """An HTTP request written byte by byte, for headers a client library would refuse."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /telegram HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
                 b"Content-Type: application/json\r\n" + headers
                 + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
    await writer.drain()
    status_line = await reader.readline()
    writer.close()
    return int(status_line.split()[1])


async def test_a_non_ascii_secret_header_is_refused_not_crashed(tmp_path: Path) -> None:
    async with webhook(tmp_path) as (bot, client):
        port = client.server.port
        assert port is not None
        body = json.dumps(bot.telegram.message_update(603, "/start")).encode()
        for secret in ("сekret".encode(), b"\xff\xfe", SECRET.encode() + "é".encode()):
            status = await raw_post(port, SECRET_HEADER.encode() + b": " + secret + b"\r\n",
                                    body)
            assert status == 401
        assert await raw_post(port, SECRET_HEADER.encode() + b": " + SECRET.encode() + b"\r\n",
                              body) == 200


async def test_numbers_and_nesting_telegram_never_sends_get_400(tmp_path: Path) -> None:
    async with webhook(tmp_path) as (bot, client):
        headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
        deep = '{"update_id": 7, "message": ' + "[" * 5000 + "]" * 5000 + "}"
        for body in ('{"update_id": Infinity}', '{"update_id": NaN}', '{"update_id": 1e400}',
                     '{"update_id": 1.5}', '{"update_id": -1}', '{"update_id": true}',
                     '{"update_id": 99999999999999999999999}', '{"update_id": "7"}',
                     '{"update_id": 8, "x": -Infinity}', deep, "[1]", "{"):
            answer = await client.post("/telegram", data=body.encode(), headers=headers)
            assert answer.status == 400, body[:40]
        processor = bot.application.update_processor
        assert isinstance(processor, PerChatUpdateProcessor) and processor.backlog == 0
        assert (await client.get("/healthz")).status == 200


async def test_a_body_that_never_finishes_is_cut_off(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(web_module, "BODY_TIMEOUT", 0.3)
    async with webhook(tmp_path) as (bot, client):
        port = client.server.port
        assert port is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /telegram HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     + SECRET_HEADER.encode() + b": " + SECRET.encode() + b"\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                     b'{"update_id": 1, ')  # and the other 983 bytes never come
        await writer.drain()
        async with asyncio.timeout(5):
            status_line = await reader.readline()
        writer.close()
        assert status_line.split()[1] == b"408"
        processor = bot.application.update_processor
        assert isinstance(processor, PerChatUpdateProcessor) and processor.backlog == 0
