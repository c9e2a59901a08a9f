"""Layer 2 over HTTP: `jol run` against the npm Bot API emulator `telegram-test-api`.

The emulator (tests/e2e/server.js, from tests/e2e/node_modules) plays Telegram; the bot runs as
its own process, exactly as deployed, with JOL_API_BASE_URL pointing at a small proxy
(tests/e2e/wire_proxy.py) that fixes the emulator's wire quirks. Emulated users talk to the
emulator's client API (/sendMessage, /sendCommand, /sendCallback, /getUpdatesHistory), and the
test asserts on what they see: texts and buttons. Then: the bot is still alive, its log holds no
traceback and nothing a user sent, and SIGTERM stops it cleanly.

Skipped when Node or tests/e2e/node_modules is missing (`cd tests/e2e && npm ci`), unless
JOL_REQUIRE_E2E=1, when it fails instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import REPO_ROOT
from bot.fake_telegram import visible_text
from bot.i18n import texts
from tests.conftest import REAL_CONTENT
from tests.e2e.wire_proxy import VISIBLE, WireProxy
from tests.helpers import real_snapshot

E2E_DIR = Path(__file__).resolve().parent / "e2e"
TOKEN = "7100200300:e2e-AAFfakeTokenForTelegramTestApi"
STEP_TIMEOUT = 5.0  # seconds for the bot to answer one user action
QUIET = 0.3  # no further call for this long: the bot has finished answering
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
TEST_TIMEOUT = 58.0

PICKER = "Тилди тандаңыз / Выберите язык / Tilni tanlang"
LANGUAGE_BUTTON = {"ky": "Кыргызча", "ru": "Русский", "uz": "Oʻzbekcha"}
LANGUAGE_CHANGED = {"ky": "Тил өзгөрдү", "ru": "Язык изменён"}
MAIN_MENU = {"ky": "Башкы меню", "ru": "Главное меню"}
MENU = {"ru": "🏠 Меню", "ky": "🏠 Меню"}
BACK = {"ru": "⬅️ Назад", "ky": "⬅️ Артка"}
SOS = "🆘 SOS"
NOTHING_FOUND = ("I found nothing for this question. Try other words, or open the menu. "
                 "If you are in danger, press SOS.")
REAL = real_snapshot()


def title(lang: str, topic_id: str) -> str:
    topic = REAL.topic(lang, topic_id)
    assert topic is not None, (lang, topic_id)
    return topic.title


def require_e2e() -> str:
    """The path of `node`; skips (or fails, with JOL_REQUIRE_E2E=1) when it cannot run."""
    node = shutil.which("node")
    problem = None
    if node is None:
        problem = "Node.js (`node`) is not installed"
    elif not (E2E_DIR / "node_modules" / "telegram-test-api").is_dir():
        problem = "tests/e2e/node_modules is missing; run `npm ci` in tests/e2e"
    if problem is None:
        assert node is not None
        return node
    if os.environ.get("JOL_REQUIRE_E2E") == "1":
        pytest.fail(f"end-to-end test cannot run: {problem} (JOL_REQUIRE_E2E=1)")
    pytest.skip(f"end-to-end test needs the telegram-test-api emulator: {problem}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def stop_process(process: asyncio.subprocess.Process, timeout: float) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(process.wait(), timeout)


@asynccontextmanager
async def emulator(node: str, log_path: Path) -> AsyncIterator[str]:
    """The telegram-test-api server on a free loopback port; yields its base URL."""
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            node, "server.js", cwd=E2E_DIR, stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, stderr=log)
        try:
            assert process.stdout is not None
            try:
                line = await asyncio.wait_for(process.stdout.readline(), 10)
            except TimeoutError:
                line = b""
            if not line:
                await stop_process(process, 2)
                pytest.fail("the emulator did not start:\n" + log_path.read_text(errors="replace"))
            yield f"http://127.0.0.1:{json.loads(line)['port']}"
        finally:
            if process.stdin is not None:
                process.stdin.close()  # server.js stops when its stdin closes
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                await stop_process(process, 2)


@asynccontextmanager
async def jol_run(api_base_url: str, tmp_path: Path, log_path: Path,
                  http_port: int) -> AsyncIterator[asyncio.subprocess.Process]:
    """`jol run` as its own process, with a fresh SQLite database; killed if still running."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOL_", "TELEGRAM_"))}
    env.update({
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "JOL_API_BASE_URL": api_base_url,
        "JOL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}",
        "JOL_CONTENT_DIR": str(REAL_CONTENT),
        "JOL_SECRET": "e2e-test-secret",
        "JOL_HTTP_HOST": "127.0.0.1",
        "JOL_HTTP_PORT": str(http_port),
        "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH")) if p),
        "PYTHONUNBUFFERED": "1",
    })
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", cwd=tmp_path, env=env,
            stdin=asyncio.subprocess.DEVNULL, stdout=log, stderr=asyncio.subprocess.STDOUT)
        try:
            yield process
        finally:
            await stop_process(process, 5)


@dataclass
class Screen:
    """One bot message as the user sees it."""

    message_id: int
    text: str
    html: str
    buttons: list[list[tuple[str, str]]]  # rows of (label, callback data or URL)

    @property
    def button_labels(self) -> list[str]:
        return [label for row in self.buttons for label, _ in row]

    def data_for(self, label: str) -> str:
        for row in self.buttons:
            for text, data in row:
                if text == label:
                    return data
        raise AssertionError(f"no button {label!r}; the buttons are {self.button_labels}")


class EmulatedUser:
    """A person in a private chat with the bot, through the emulator's client API."""

    def __init__(self, http: aiohttp.ClientSession, emulator_url: str, proxy: WireProxy, *,
                 user_id: int, first_name: str, username: str, language_code: str) -> None:
        self.http = http
        self.emulator_url = emulator_url
        self.proxy = proxy
        self.user_id = user_id
        self.first_name = first_name
        self.username = username
        self.language_code = language_code

    @property
    def callback_answers(self) -> list[str]:
        return self.proxy.callback_answers[self.user_id]

    def _user(self) -> dict[str, Any]:
        return {"id": self.user_id, "is_bot": False, "first_name": self.first_name,
                "username": self.username, "language_code": self.language_code}

    def _chat(self) -> dict[str, Any]:
        return {"id": self.user_id, "type": "private", "first_name": self.first_name,
                "username": self.username}

    async def _post(self, route: str, body: dict[str, Any]) -> Any:
        async with self.http.post(f"{self.emulator_url}/{route}", json=body) as response:
            assert response.status == 200, (route, response.status, await response.text())
            return await response.json()

    async def history(self) -> list[Screen]:
        """The bot's messages in this chat, oldest first, as they are now."""
        body = await self._post("getUpdatesHistory", {"token": TOKEN})
        screens = []
        for item in sorted(body["result"], key=lambda i: i["messageId"]):
            message = item.get("message") or {}  # a user's button press has none
            if str(message.get("chat_id")) != str(self.user_id):
                continue  # a user's message or press, or another chat
            raw = str(message.get("text", ""))
            markup = message.get("reply_markup") or {}
            if isinstance(markup, str):
                markup = json.loads(markup)
            buttons = [[(b["text"], b.get("callback_data") or b.get("url", "")) for b in row]
                       for row in markup.get("inline_keyboard") or []]
            screens.append(Screen(item["messageId"], visible_text(raw, message.get("parse_mode")),
                                  raw, buttons))
        return screens

    async def screen(self) -> Screen:
        screens = await self.history()
        assert screens, "the bot has sent nothing to this chat"
        return screens[-1]

    async def _act(self, what: str, action: Callable[[], Awaitable[Any]]) -> Screen:
        """Do something, wait until the bot has answered and gone quiet, return the screen."""
        before = len(self.proxy.chat_calls(self.user_id))
        await action()
        deadline = time.monotonic() + STEP_TIMEOUT
        while not any(c.method in VISIBLE for c in self.proxy.chat_calls(self.user_id)[before:]):
            if time.monotonic() > deadline:
                raise AssertionError(f"the bot did not answer {what} within {STEP_TIMEOUT} s")
            await asyncio.sleep(0.02)
        while time.monotonic() - self.proxy.chat_calls(self.user_id)[-1].at < QUIET:
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.02)
        return await self.screen()

    async def send(self, text: str) -> Screen:
        message: dict[str, Any] = {"botToken": TOKEN, "from": self._user(), "chat": self._chat(),
                                   "date": int(time.time()), "text": text}
        route = "sendMessage"
        if text.startswith("/"):  # the emulator leaves command entities to its client
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
            route = "sendCommand"
        return await self._act(repr(text), lambda: self._post(route, message))

    async def press(self, label: str) -> Screen:
        """Press the button with this label on the bot's latest message."""
        shown = await self.screen()
        data = shown.data_for(label)
        answers = len(self.callback_answers)
        query = {
            "botToken": TOKEN, "from": self._user(), "data": data, "date": int(time.time()),
            "message": {"message_id": shown.message_id, "date": int(time.time()),
                        "chat": self._chat(), "text": shown.text,
                        "from": {"id": 666, "is_bot": True, "first_name": "Test First name",
                                 "username": "TestNameBot"}},
        }
        screen = await self._act(f"the button {label!r}",
                                 lambda: self._post("sendCallback", query))
        assert len(self.callback_answers) == answers + 1, (
            f"the button {label!r} was not answered (its spinner would keep turning)")
        return screen


async def happy_path(user: EmulatedUser, lang: str, query: str, unknown: str) -> None:
    """/start, language, main menu, a section, a topic, Back, a typed search and its result,
    then a search that finds nothing."""
    screen = await user.send("/start")
    if screen.text == PICKER:
        assert screen.button_labels == [LANGUAGE_BUTTON["ky"], LANGUAGE_BUTTON["ru"],
                                        LANGUAGE_BUTTON["uz"]]
        picker = screen
        screen = await user.press(LANGUAGE_BUTTON[lang])
        assert screen.message_id == picker.message_id  # edited in place
        assert user.callback_answers[-1] == LANGUAGE_CHANGED[lang]
    assert screen.text.startswith(MAIN_MENU[lang]), screen.text
    sections = [t.title for t in REAL.menu(lang)]
    assert screen.button_labels[:len(sections)] == sections
    assert SOS in screen.button_labels
    menu = screen

    section = await user.press(title(lang, "trouble"))
    assert section.message_id == menu.message_id  # edited in place, not a new message
    assert section.text.startswith(title(lang, "trouble")), section.text
    assert title(lang, "passport-taken") in section.button_labels

    topic = await user.press(title(lang, "passport-taken"))
    assert topic.message_id == menu.message_id
    assert topic.text.startswith(title(lang, "passport-taken")), topic.text
    for label in (BACK[lang], MENU[lang], SOS):
        assert label in topic.button_labels, (label, topic.button_labels)

    back = await user.press(BACK[lang])
    assert back.message_id == menu.message_id
    assert back.text.startswith(title(lang, "trouble")), back.text
    assert title(lang, "passport-taken") in back.button_labels

    found = await user.send(query)
    assert found.message_id != menu.message_id  # a typed question gets a new message
    assert SOS in found.button_labels
    if found.text.startswith(title(lang, "passport-taken")):
        opened = found  # one topic clearly won this question: it opened at once
    else:  # several fit: the best come as buttons
        assert title(lang, "passport-taken") in found.button_labels[:3], found.button_labels
        opened = await user.press(title(lang, "passport-taken"))
        assert opened.message_id == found.message_id
    assert opened.text.startswith(title(lang, "passport-taken")), opened.text

    # Nothing found: an honest answer; the words are counted for NGO staff, never logged.
    missed = await user.send(unknown)
    assert missed.message_id not in (menu.message_id, found.message_id)
    assert missed.text == texts(lang)(NOTHING_FOUND), missed.text
    assert missed.button_labels == [MENU[lang], SOS]


async def wait_until_serving(process: asyncio.subprocess.Process, proxy: WireProxy,
                             http: aiohttp.ClientSession, http_port: int, log: Path) -> None:
    """Until the bot long-polls and /healthz answers 200; fails at once if it exits."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.returncode is not None:
            pytest.fail(f"`jol run` exited with {process.returncode}:\n{log.read_text()}")
        if proxy.polls():
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"http://127.0.0.1:{http_port}/healthz") as response:
                    if response.status == 200:
                        return
        await asyncio.sleep(0.1)
    pytest.fail(f"`jol run` did not start serving in {START_TIMEOUT} s:\n{log.read_text()}")


async def test_happy_path_over_http_with_the_emulator(tmp_path: Path) -> None:
    node = require_e2e()
    bot_log = tmp_path / "jol-run.log"
    users = [  # (language, Telegram's language_code, a query, one that finds nothing, who)
        ("ru", "ru", "забрали паспорт", "гороскоп кроссворд",
         {"user_id": 7310245981, "first_name": "Тимур Тестович", "username": "timur_e2e_ru"}),
        ("ky", "en", "паспортумду алып коюшту", "жомок табышмак",
         {"user_id": 7310245982, "first_name": "Айгүл Сыноова", "username": "aigul_e2e_ky"}),
    ]
    async with asyncio.timeout(TEST_TIMEOUT), contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=STEP_TIMEOUT)))
        emulator_url = await stack.enter_async_context(
            emulator(node, tmp_path / "emulator.log"))
        proxy = WireProxy(emulator_url)
        stack.push_async_callback(proxy.close)
        api_base_url = await proxy.start()
        http_port = free_port()
        process = await stack.enter_async_context(
            jol_run(api_base_url, tmp_path, bot_log, http_port))
        await wait_until_serving(process, proxy, http, http_port, bot_log)

        for lang, language_code, query, unknown, who in users:
            user = EmulatedUser(http, emulator_url, proxy, language_code=language_code, **who)
            await happy_path(user, lang, query, unknown)

        assert proxy.unsupported == [], "the bot called methods the emulator lacks"
        failed = [(c.method, c.status) for c in proxy.calls if c.status >= 400]
        assert failed == [], "Bot API calls that failed"
        assert process.returncode is None, "`jol run` died during the conversation"
        async with http.get(f"http://127.0.0.1:{http_port}/healthz") as response:
            assert response.status == 200

        process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            pytest.fail(f"`jol run` did not stop within {STOP_TIMEOUT} s of SIGTERM")
        log = bot_log.read_text(errors="replace")
        assert process.returncode == 0, f"`jol run` exited with {process.returncode}:\n{log}"

    assert "Traceback" not in log, log
    secrets = [TOKEN, TOKEN.split(":")[1]]
    for _, _, query, unknown, who in users:
        secrets += [str(who["user_id"]), who["first_name"], who["username"], query,
                    *unknown.split()]
    leaked = [s for s in secrets if s in log]
    assert leaked == [], f"the bot's log holds what it must not: {leaked}\n{log}"
