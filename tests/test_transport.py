"""The aiohttp transport against the Bot API stand-in, over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import struct
import time
import zlib
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.standin import STANDIN, StandInBot, start_standin
from bot.transport import AiohttpRequest

TOKEN = "123456:transport-test"
USER = 4242


def tiny_png() -> bytes:
    """A real 1×1 PNG, built here so the test needs no fixture file."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 6, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00\xff")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


async def serve(flood: bool = False) -> AsyncIterator[tuple[StandInBot, Bot]]:
    runner, base_url = await start_standin("127.0.0.1", 0, flood=flood)
    standin = runner.app[STANDIN].bot(TOKEN)
    # The chat exists once the user has written to the bot, as on Telegram.
    standin.telegram.message_update(USER, "/start")
    bot = Bot(TOKEN, base_url=base_url, request=AiohttpRequest(),
              get_updates_request=AiohttpRequest())
    try:
        async with bot:
            yield standin, bot
    finally:
        await runner.cleanup()


@pytest.fixture
async def api() -> AsyncIterator[tuple[StandInBot, Bot]]:
    async for pair in serve():
        yield pair


@pytest.fixture
async def flooded_api() -> AsyncIterator[tuple[StandInBot, Bot]]:
    async for pair in serve(flood=True):
        yield pair


async def test_send_message_arrives_with_text_and_buttons(api: tuple[StandInBot, Bot]) -> None:
    standin, bot = api
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Меню", callback_data="m")]])
    sent = await bot.send_message(USER, "<b>Салам</b>, дос!", parse_mode="HTML",
                                  reply_markup=markup)
    shown = standin.chat(USER).last
    assert (shown.message_id, shown.text, shown.buttons) == (sent.message_id, "Салам, дос!",
                                                              [[("Меню", "m")]])
    assert bot.username == standin.telegram.username  # getMe ran at initialize


async def test_bad_request_carries_telegrams_text(api: tuple[StandInBot, Bot]) -> None:
    _, bot = api
    with pytest.raises(BadRequest) as error:
        await bot.send_message(999, "to nobody")
    assert error.value.message == "Chat not found"
    with pytest.raises(BadRequest, match='unsupported start tag "blink"'):
        await bot.send_message(USER, "<blink>x</blink>", parse_mode="HTML")


async def test_flood_limit_becomes_retry_after(flooded_api: tuple[StandInBot, Bot],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # PTB 22 warns on the old int form
    standin, bot = flooded_api
    await asyncio.gather(*(bot.send_message(USER, f"n{i}") for i in range(30)))
    with pytest.raises(RetryAfter) as error:
        await bot.send_message(USER, "one too many")
    assert error.value.retry_after == dt.timedelta(seconds=1)
    assert standin.telegram.rate_limited == 1
    assert len(standin.chat(USER).visible) == 30


async def test_photo_upload_arrives_as_bytes(api: tuple[StandInBot, Bot]) -> None:
    standin, bot = api
    png = tiny_png()
    await bot.send_photo(USER, photo=png, caption="Паспорт", filename="passport.png")
    assert standin.telegram.files == [(USER, "passport.png", png)]
    assert standin.chat(USER).last.kind == "photo"
    assert standin.chat(USER).last.text == "Паспорт"


async def test_document_upload_keeps_its_name(api: tuple[StandInBot, Bot]) -> None:
    standin, bot = api
    await bot.send_document(USER, document=b"a,b\n1,2\n", filename="stats.csv")
    assert standin.telegram.files == [(USER, "stats.csv", b"a,b\n1,2\n")]


@pytest.fixture
async def silent_server() -> AsyncIterator[str]:
    """Accepts connections and reads, but never answers."""
    async def swallow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(65536):
            pass
        writer.close()

    server = await asyncio.start_server(swallow, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/bot{TOKEN}/getMe"
    finally:
        server.close()
        await server.wait_closed()


async def test_silence_times_out_after_the_default_read_timeout(silent_server: str) -> None:
    request = AiohttpRequest(read_timeout=0.2)
    async with request:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await request.post(silent_server)
    assert time.monotonic() - started < 2


async def test_per_call_read_timeout_wins_over_the_default(silent_server: str) -> None:
    request = AiohttpRequest(read_timeout=30)
    async with request:
        started = time.monotonic()
        with pytest.raises(TimedOut):
            await request.post(silent_server, read_timeout=0.2)
    assert time.monotonic() - started < 2


async def test_refused_connection_is_a_network_error_without_the_token() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AiohttpRequest() as request:
        with pytest.raises(NetworkError) as error:
            await request.post(f"http://127.0.0.1:{port}/bot{TOKEN}/getMe")
    assert not isinstance(error.value, TimedOut)
    assert TOKEN not in error.value.message


async def test_session_is_created_once_and_closed_on_shutdown() -> None:
    request = AiohttpRequest(connection_pool_size=4)
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/", "POST")
    await asyncio.gather(request.initialize(), request.initialize())  # as PTB may do
    session = request._session
    assert session is not None
    await request.initialize()
    assert request._session is session
    await asyncio.gather(request.shutdown(), request.shutdown())
    assert session.closed
