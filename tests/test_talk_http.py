"""Talk to a person over real HTTP (issue 14, "How it will be judged"): `jol run` against the
Bot API stand-in with a forum supergroup. Two people talk to a caseworker; then, from outside,
nothing that identifies them is in the group, the database files (WAL included) or the log,
and after the retention job nothing of the cases is left at all.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.fernet import Fernet

from bot import REPO_ROOT
from bot.standin import STANDIN, start_standin
from tests.helpers import migrated_sqlite
from tests.serving_helpers import free_port, stop_as_docker_does

TOKEN = "515151:talk-http"
GROUP = -1009876543210
CASEWORKER = 31337


@dataclass
class Person:
    user_id: int
    first_name: str
    username: str
    phone: str  # on the contact card they try to send


PEOPLE = [Person(7_123_456_789, "Айгуль", "aigul_osh_1990", "+996555123456"),
          Person(7_987_654_321, "Бакыт", "bakyt_msk_77", "+79161234567")]


@dataclass
class Stand:
    http: aiohttp.ClientSession
    root: str
    tmp_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    async def post(self, path: str, **body: Any) -> dict[str, Any]:
        async with self.http.post(f"{self.root}/control/{TOKEN}/{path}", json=body) as answer:
            assert answer.status == 200, await answer.text()
            result: dict[str, Any] = await answer.json()
            return result

    async def get(self, path: str, **query: Any) -> dict[str, Any]:
        params = {k: str(v) for k, v in query.items()}
        async with self.http.get(f"{self.root}/control/{TOKEN}/{path}", params=params) as answer:
            assert answer.status == 200, await answer.text()
            result: dict[str, Any] = await answer.json()
            return result

    async def wait(self, chat_id: int, after: int) -> dict[str, Any]:
        reply = await self.get("wait", chat_id=chat_id, after=after, timeout=20)
        assert not reply["timed_out"], f"nothing happened in chat {chat_id}"
        return reply

    async def forum(self) -> dict[str, Any]:
        return await self.get("forum", chat_id=GROUP)

    async def caseworker(self, thread: str, words: str) -> dict[str, Any]:
        return await self.post("group_message", chat_id=GROUP, user_id=CASEWORKER,
                               text=words, thread_id=int(thread))

    def start(self) -> None:
        log = (self.tmp_path / "bot.log").open("ab")
        self.process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"],
                                        cwd=REPO_ROOT, env=self.env, stdout=log,
                                        stderr=subprocess.STDOUT)
        log.close()

    async def stop(self) -> None:
        process = self.process
        if process is None:
            return
        await stop_as_docker_does(process)
        self.process = None

    def log(self) -> str:
        return (self.tmp_path / "bot.log").read_text(errors="replace")


async def polling(stand: Stand, calls_before: int, bot: Any) -> None:
    for _ in range(600):
        assert stand.process is not None
        if bot.calls["getUpdates"] > calls_before or stand.process.poll() is not None:
            break
        await asyncio.sleep(0.1)
    assert bot.calls["getUpdates"] > calls_before, stand.log()


@pytest.fixture
async def stand(tmp_path: Path) -> AsyncIterator[tuple[Stand, Any]]:
    runner, base_url = await start_standin("127.0.0.1", 0)
    bot = runner.app[STANDIN].bot(TOKEN)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOL_", "TELEGRAM_"))}
    env.update({
        "TELEGRAM_BOT_TOKEN": TOKEN, "JOL_API_BASE_URL": base_url,
        "JOL_DATABASE_URL": await migrated_sqlite(tmp_path / "jol.sqlite3"),
        "JOL_CONTENT_DIR": str(REPO_ROOT / "content"), "JOL_SECRET": "talk-http-secret",
        "JOL_HTTP_HOST": "127.0.0.1", "JOL_HTTP_PORT": str(free_port()),
        "JOL_LOG_LEVEL": "DEBUG",  # the most the log could ever say
        "JOL_CASEWORK_CHAT_ID": str(GROUP), "JOL_CASE_KEY": Fernet.generate_key().decode(),
        "JOL_CASEWORK_NGO_NAME": "Тестовая НКО", "JOL_CASEWORK_HOURS":
            "Mon-Sun 00:00-24:00 Asia/Bishkek",
        "NO_PROXY": "127.0.0.1,localhost",
    })
    async with aiohttp.ClientSession() as http:
        stand = Stand(http, base_url.removesuffix("/bot"), tmp_path, env)
        await stand.post("forum", chat_id=GROUP, title="Кейсы НКО")
        stand.start()
        try:
            await polling(stand, 0, bot)
            yield stand, bot
        finally:
            await stand.stop()
            bot.message(1, "bye")  # ends the stopped bot's open long poll
            await runner.cleanup()


class Phone:
    def __init__(self, stand: Stand, person: Person) -> None:
        self.stand = stand
        self.person = person
        self.screen: dict[str, Any] = {}

    def _who(self) -> dict[str, Any]:
        return {"user_id": self.person.user_id, "language_code": "ru",
                "first_name": self.person.first_name, "username": self.person.username}

    async def _after(self, sent: dict[str, Any]) -> dict[str, Any]:
        reply = await self.stand.wait(self.person.user_id, sent["events"])
        self.screen = reply["messages"][-1]
        return self.screen

    async def send(self, words: str) -> dict[str, Any]:
        return await self._after(await self.stand.post("message", text=words, **self._who()))

    async def media(self, kind: str, **extra: Any) -> dict[str, Any]:
        return await self._after(await self.stand.post("media", kind=kind, **self._who(),
                                                       **extra))

    async def press(self, label: str) -> dict[str, Any]:
        data = next(d for row in self.screen["buttons"] for text, d in row if text == label)
        sent = await self.stand.post("callback", user_id=self.person.user_id,
                                     message_id=self.screen["message_id"], data=data,
                                     language_code="ru")
        return await self._after(sent)

    async def quiet_send(self, words: str) -> None:
        """Send and wait until the bot has copied it into the group (the user sees nothing)."""
        before = len((await self.stand.forum())["messages"])
        await self.stand.post("message", text=words, **self._who())
        for _ in range(200):
            if len((await self.stand.forum())["messages"]) > before:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{words!r} never reached the group")


async def test_a_scripted_handoff_over_http_leaves_nothing_behind(
        stand: tuple[Stand, Any]) -> None:
    stand_, bot = stand
    first, second = (Phone(stand_, p) for p in PEOPLE)

    # The first person consents, writes text and a voice message, tries a contact card.
    await first.send("/talk")
    assert first.screen["text"].startswith("💬 Поговорить с человеком")
    opened = await first.press("✅ Согласен, начать")
    assert "открыт" in opened["text"]
    forum = await stand_.forum()
    ((thread, name),) = forum["topics"].items()
    await first.quiet_send("Мне не платят и забрали паспорт")
    before = len((await stand_.forum())["messages"])
    await stand_.post("media", kind="voice", user_id=first.person.user_id)
    for _ in range(200):
        if len((await stand_.forum())["messages"]) > before:
            break
        await asyncio.sleep(0.05)
    refused = await first.media("contact")
    assert refused["text"].startswith("Ради вашей безопасности я не передаю")

    copies = [m for m in (await stand_.forum())["messages"] if m["copied"]]
    assert [(m["kind"], m["text"]) for m in copies] == [
        ("text", "Мне не платят и забрали паспорт"), ("voice", "")]
    assert all(m["protect_content"] and m["thread_id"] == int(thread) for m in copies)

    # The caseworker answers; a note stays in the group; /close ends it.
    chat = await stand_.get("chat", chat_id=first.person.user_id)
    sent = await stand_.caseworker(thread, "Мы поможем. В каком вы городе?")
    reply = await stand_.wait(first.person.user_id, chat["count"])
    answer = reply["messages"][-1]
    assert answer["text"] == "Мы поможем. В каком вы городе?" and answer["protect_content"]
    note = await stand_.caseworker(thread, "!проверить адрес работодателя")
    await asyncio.sleep(0.5)
    chat = await stand_.get("chat", chat_id=first.person.user_id)
    assert chat["messages"][-1]["message_id"] == answer["message_id"]
    assert sent["update_id"] < note["update_id"]
    count = chat["count"]
    await stand_.caseworker(thread, "/close")
    closed = (await stand_.wait(first.person.user_id, count))["messages"][-1]
    assert closed["text"].startswith("Сотрудник завершил разговор.")

    # The second person opens and ends the conversation themselves.
    await second.send("/talk")
    await second.press("✅ Согласен, начать")
    await second.quiet_send("Я в Москве, работодатель угрожает")
    ended = await second.press("✋ Завершить разговор")
    assert ended["text"].startswith("Разговор завершён.")
    forum = await stand_.forum()
    assert len(forum["topics"]) == 2

    # From outside: nothing that identifies either person in anything the group ever got.
    group_text = "\n".join([*forum["topics"].values(), forum["title"]] + [
        f"{m['text']}\n{m['html']}\n{m['buttons']}" for m in forum["messages"]])
    assert name.endswith(" · ru") and len(name) == len("ABCDEF · ru")
    await stand_.stop()  # the database files as the operator would copy them
    db_files = sorted(stand_.tmp_path.glob("jol.sqlite3*"))
    assert db_files[0].name == "jol.sqlite3"
    stored = b"".join(path.read_bytes() for path in db_files)
    log = stand_.log()
    for person in PEOPLE:
        for secret in (str(person.user_id), person.first_name, person.username, person.phone,
                       person.phone.lstrip("+")):
            assert secret not in group_text, f"{secret} reached the caseworkers' group"
            assert secret not in log, f"{secret} is in the log"
            assert secret.encode() not in stored, f"{secret} is in the database files"
    with sqlite3.connect(stand_.tmp_path / "jol.sqlite3") as db:
        rows = db.execute("SELECT status, chat_lookup, chat_sealed FROM cases").fetchall()
    assert sorted(r[0] for r in rows) == ["closed", "closed"]
    assert all(r[1] is None and r[2] is None for r in rows)  # forgotten at the close
    assert bot.calls["forwardMessage"] == 0

    # The retention job (at start, then hourly): the rows and the topics are gone.
    calls = bot.calls["getUpdates"]
    stand_.start()
    await polling(stand_, calls, bot)
    for _ in range(300):  # the last topic goes before its row and the log line: wait for both
        if not (await stand_.forum())["topics"] and "purged 2 cases" in stand_.log():
            break
        await asyncio.sleep(0.1)
    forum = await stand_.forum()
    assert forum["topics"] == {}
    assert [m for m in forum["messages"] if not m["deleted"]] == []
    await stand_.stop()
    with sqlite3.connect(stand_.tmp_path / "jol.sqlite3") as db:
        assert db.execute("SELECT count(*) FROM cases").fetchone() == (0,)
    assert "purged 2 cases" in stand_.log()
