"""The Bot API stand-in over HTTP: long polling, offsets, bodies, webhooks, the control API."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot import REPO_ROOT
from bot.standin import SECRET_HEADER, STANDIN, StandIn, start_standin

TOKEN = "987654:standin-test"
OTHER = "987655:another-bot"


class Client:
    """A thin HTTP client for the stand-in: the bot's side and the user's side."""

    def __init__(self, http: aiohttp.ClientSession, base_url: str, standin: StandIn) -> None:
        self.http = http
        self.root = base_url.removesuffix("/bot")
        self.standin = standin

    async def api(self, method: str, token: str = TOKEN, **params: Any) -> tuple[int, Any]:
        async with self.http.post(f"{self.root}/bot{token}/{method}", json=params) as answer:
            return answer.status, await answer.json()

    async def result(self, method: str, **params: Any) -> Any:
        status, body = await self.api(method, **params)
        assert (status, body["ok"]) == (200, True), body
        return body["result"]

    async def control(self, path: str, token: str = TOKEN, **body: Any) -> Any:
        async with self.http.post(f"{self.root}/control/{token}/{path}", json=body) as answer:
            assert answer.status == 200, await answer.text()
            return await answer.json()

    async def get(self, path: str, token: str = TOKEN, **query: Any) -> Any:
        url = f"{self.root}/control/{token}/{path}"
        async with self.http.get(url, params={k: str(v) for k, v in query.items()}) as answer:
            assert answer.status == 200, await answer.text()
            return await answer.json()


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    runner, base_url = await start_standin("127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as http:
            yield Client(http, base_url, runner.app[STANDIN])
    finally:
        await runner.cleanup()


async def test_get_me_and_unknown_things(client: Client) -> None:
    me = await client.result("getMe")
    assert (me["id"], me["is_bot"]) == (987654, True)
    status, body = await client.api("sendPigeon")
    assert (status, body["description"]) == (404, "Not Found: method not found")
    status, body = await client.api("getMe", token="not-a-token")
    assert status == 404


async def test_updates_wait_until_confirmed_by_offset(client: Client) -> None:
    first = await client.control("message", user_id=1, text="/start")
    second = await client.control("message", user_id=2, text="забрали паспорт",
                                  language_code="ky")
    updates = await client.result("getUpdates")
    assert [u["update_id"] for u in updates] == [first["update_id"], second["update_id"]]
    assert updates[0]["message"]["entities"][0]["type"] == "bot_command"
    assert updates[1]["message"]["from"]["language_code"] == "ky"
    # Not confirmed yet: the same updates again; then an offset drops what precedes it.
    assert len(await client.result("getUpdates")) == 2
    rest = await client.result("getUpdates", offset=second["update_id"])
    assert [u["update_id"] for u in rest] == [second["update_id"]]
    assert await client.result("getUpdates", offset=second["update_id"] + 1) == []


async def test_long_poll_returns_as_soon_as_an_update_arrives(client: Client) -> None:
    async def write_later() -> None:
        await asyncio.sleep(0.2)
        await client.control("message", user_id=7, text="работа в корее")

    started = time.monotonic()
    writer = asyncio.create_task(write_later())
    updates = await client.result("getUpdates", timeout=10)
    await writer
    assert 0.15 < time.monotonic() - started < 5
    assert [u["message"]["text"] for u in updates] == ["работа в корее"]


async def test_long_poll_times_out_empty(client: Client) -> None:
    started = time.monotonic()
    assert await client.result("getUpdates", timeout=0.3) == []
    assert 0.25 < time.monotonic() - started < 3


async def test_wait_returns_the_bots_answer_to_one_action(client: Client) -> None:
    sent = await client.control("message", user_id=5, text="/start")
    assert sent["events"] == 1  # "user 1"
    waiting = asyncio.create_task(client.get("wait", chat_id=5, after=sent["events"],
                                             timeout=5))
    await asyncio.sleep(0.05)
    markup = {"inline_keyboard": [[{"text": "Корея", "callback_data": "t:korea"}]]}
    reply = await client.result("sendMessage", chat_id=5, text="<b>Меню</b>",
                                parse_mode="HTML", reply_markup=json.dumps(markup))
    answer = await waiting
    assert answer["events"] == [f"send {reply['message_id']}"]
    assert answer["timed_out"] is False
    assert answer["messages"] == [{
        "message_id": reply["message_id"], "kind": "text", "text": "Меню",
        "html": "<b>Меню</b>", "buttons": [[["Корея", "t:korea"]]], "edits": 0,
        "deleted": False, "thread_id": None, "protect_content": False, "copied": False}]

    pressed = await client.control("callback", user_id=5, message_id=reply["message_id"],
                                   data="t:korea")
    updates = await client.result("getUpdates", offset=sent["update_id"] + 1)
    query = updates[0]["callback_query"]
    assert (query["data"], query["message"]["message_id"]) == ("t:korea", reply["message_id"])
    assert await client.result("answerCallbackQuery", callback_query_id=query["id"]) is True
    await client.result("editMessageText", chat_id=5, message_id=reply["message_id"],
                        text="Корея")
    answer = await client.get("wait", chat_id=5, after=pressed["events"], timeout=5)
    assert answer["events"] == [f"edit {reply['message_id']}"]
    assert answer["messages"][0]["text"] == "Корея"
    assert answer["callback_answers"] == [""]


async def test_wait_can_end_on_a_press_answered_without_a_new_screen(client: Client) -> None:
    await client.control("message", user_id=13, text="/start")
    menu = await client.result("sendMessage", chat_id=13, text="Меню", reply_markup=json.dumps(
        {"inline_keyboard": [[{"text": "Меню", "callback_data": "m"}]]}))
    pressed = await client.control("callback", user_id=13, message_id=menu["message_id"],
                                   data="m")
    assert pressed["answers"] == 0
    waiting = asyncio.create_task(client.get("wait", chat_id=13, after=pressed["events"],
                                             answers=pressed["answers"], timeout=5))
    await asyncio.sleep(0.05)
    query = (await client.result("getUpdates"))[-1]["callback_query"]
    started = time.monotonic()
    await client.result("answerCallbackQuery", callback_query_id=query["id"], text="Уже тут")
    answer = await waiting
    assert time.monotonic() - started < 2  # woken by the answer, not by the timeout
    assert (answer["timed_out"], answer["events"]) == (False, [])
    assert answer["callback_answers"] == ["Уже тут"]


async def test_an_edit_refused_as_not_modified_is_noted_for_its_chat(client: Client) -> None:
    await client.control("message", user_id=14, text="/start")
    menu = await client.result("sendMessage", chat_id=14, text="Меню")
    bot = client.standin.bot(TOKEN)
    waiting = asyncio.create_task(bot.wait_until(14, lambda chat: bot.unchanged[14] > 0, 5))
    status, body = await client.api("editMessageText", chat_id=14,
                                    message_id=menu["message_id"], text="Меню")
    assert status == 400
    assert body["description"].startswith("Bad Request: message is not modified")
    assert await asyncio.wait_for(waiting, 2) is True
    assert bot.unchanged == {14: 1}


async def test_wait_times_out_when_the_bot_is_silent(client: Client) -> None:
    sent = await client.control("message", user_id=6, text="hello")
    answer = await client.get("wait", chat_id=6, after=sent["events"], timeout=0.2)
    assert (answer["timed_out"], answer["events"], answer["count"]) == (True, [], 1)


async def test_raw_update_gets_an_id_and_is_queued(client: Client) -> None:
    posted = await client.control("update", edited_message={
        "message_id": 1, "date": 0, "chat": {"id": 8, "type": "private"}, "text": "x"})
    updates = await client.result("getUpdates")
    assert updates == [{"update_id": posted["update_id"], "edited_message": {
        "message_id": 1, "date": 0, "chat": {"id": 8, "type": "private"}, "text": "x"}}]


async def test_form_and_multipart_bodies_are_accepted(client: Client) -> None:
    await client.control("message", user_id=9, text="/start")
    form = {"chat_id": "9", "text": "салам"}
    async with client.http.post(f"{client.root}/bot{TOKEN}/sendMessage", data=form) as answer:
        assert answer.status == 200
    upload = aiohttp.FormData()
    upload.add_field("chat_id", "9")
    upload.add_field("document", b"%PDF-1.4", filename="contract.pdf",
                     content_type="application/pdf")
    async with client.http.post(f"{client.root}/bot{TOKEN}/sendDocument",
                                data=upload) as answer:
        assert answer.status == 200
    telegram = client.standin.bot(TOKEN).telegram
    assert telegram.chats[9].visible[0].text == "салам"
    assert telegram.files == [(9, "contract.pdf", b"%PDF-1.4")]


async def test_each_token_is_its_own_telegram(client: Client) -> None:
    await client.control("message", user_id=10, text="/start")
    assert await client.result("getUpdates") != []
    async with client.http.post(f"{client.root}/bot{OTHER}/getUpdates") as answer:
        assert (await answer.json())["result"] == []
    stats = await client.get("stats")
    assert stats["calls"] == {"getUpdates": 1}
    assert stats["pending_updates"] == 1


async def test_bad_requests_are_counted(client: Client) -> None:
    status, body = await client.api("sendMessage", chat_id=404, text="x")
    assert (status, body["description"]) == (400, "Bad Request: chat not found")
    assert (await client.get("stats"))["errors"] == {
        "sendMessage 400: Bad Request: chat not found": 1}


async def test_flood_answers_429_above_30_messages_a_second() -> None:
    runner, base_url = await start_standin("127.0.0.1", 0, flood=True)
    try:
        async with aiohttp.ClientSession() as http:
            client = Client(http, base_url, runner.app[STANDIN])
            await client.control("message", user_id=11, text="/start")
            answers = [await client.api("sendMessage", chat_id=11, text=f"n{i}")
                       for i in range(31)]
    finally:
        await runner.cleanup()
    assert [status for status, _ in answers] == [200] * 30 + [429]
    assert answers[-1][1]["parameters"] == {"retry_after": 1}


class Receiver:
    """A bot's webhook endpoint: fails the first `failures` deliveries, records the rest."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[str | None, dict[str, Any]]] = []
        self.got = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        update = await request.json()
        if self.failures:
            self.failures -= 1
            return web.Response(status=500)
        self.received.append((request.headers.get(SECRET_HEADER), update))
        self.got.set()
        return web.Response(text="ok")


async def test_webhook_delivers_with_the_secret_and_retries(client: Client) -> None:
    receiver = Receiver(failures=1)
    app = web.Application()
    app.router.add_post("/telegram", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await client.result("setWebhook", url=f"http://127.0.0.1:{port}/telegram",
                            secret_token="s3cret")
        status, body = await client.api("getUpdates")
        assert (status, body["error_code"]) == (409, 409)
        sent = await client.control("message", user_id=12, text="/start")
        await asyncio.wait_for(receiver.got.wait(), 5)
        assert receiver.received == [("s3cret", {**receiver.received[0][1]})]
        assert receiver.received[0][1]["update_id"] == sent["update_id"]
        info = await client.result("getWebhookInfo")
        assert (info["url"], info["pending_update_count"]) == (
            f"http://127.0.0.1:{port}/telegram", 0)
        # Back to long polling: nothing is delivered twice, new updates wait for getUpdates.
        await client.result("deleteWebhook")
        later = await client.control("message", user_id=12, text="again")
        assert [u["update_id"] for u in await client.result("getUpdates")] == [
            later["update_id"]]
        assert len(receiver.received) == 1
    finally:
        await runner.cleanup()


async def test_webhook_only_to_loopback(client: Client) -> None:
    status, body = await client.api("setWebhook", url="https://example.org/hook")
    assert status == 400
    assert "loopback" in body["description"]


def test_command_line_serves_until_stopped() -> None:
    process = subprocess.Popen([sys.executable, "-m", "bot.standin", "--port", "0"],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        base_url = banner.split()[4]
        assert base_url.startswith("http://127.0.0.1:")

        async def get_me() -> dict[str, Any]:
            async with aiohttp.ClientSession() as http, \
                    http.get(f"{base_url}{TOKEN}/getMe") as answer:
                body: dict[str, Any] = await answer.json()
                return body

        assert asyncio.run(get_me())["result"]["is_bot"] is True
    finally:
        process.terminate()
        assert process.wait(10) == 0
        if process.stdout is not None:
            process.stdout.close()


async def test_faults_can_be_injected_through_the_control_api(client: Client) -> None:
    await client.control("message", user_id=21, text="/start")
    await client.control("message", user_id=22, text="/start")
    await client.control("fail", method="sendMessage", status=502, times=1)
    status, body = await client.api("sendMessage", chat_id=21, text="a")
    assert (status, body["description"]) == (502, "Bad Gateway")
    assert (await client.api("sendMessage", chat_id=21, text="a"))[0] == 200

    await client.control("hold", chat_id=21, seconds=30)
    status, body = await client.api("sendMessage", chat_id=21, text="b")
    assert (status, body["parameters"]) == (429, {"retry_after": 30})
    assert (await client.api("sendMessage", chat_id=22, text="b"))[0] == 200  # others go on

    await client.control("revoke")
    status, body = await client.api("getMe")
    assert (status, body["description"]) == (401, "Unauthorized")
    assert (await client.api("getMe", token=OTHER))[0] == 200
