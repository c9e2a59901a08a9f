"""Three webhook replicas on one PostgreSQL database behind HAProxy (deploy/haproxy.cfg) act as
one bot (issue 15, items 1–2).

The HTTP stand-in plays Telegram: it delivers each update to the balancer and retries until it
gets a 2xx, as Telegram does. Users chat throughout; one replica is stopped with SIGTERM, then
another is killed with SIGKILL while answers are on their way out (its Bot API calls held at
the stand-in, so Telegram never saw them). Afterwards: every message was answered exactly
once, and the counters are exact. Before that, /forget on one replica holds on another within
1 s (NOTIFY).
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import text

from bot import REPO_ROOT
from bot.buttons import LanguageButton
from bot.db import create_engine
from bot.fake_telegram import ChatLog
from bot.standin import SECRET_HEADER, STANDIN, StandInBot, start_standin
from tests.serving_helpers import free_port, jol_run, wait_for_log

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
pytestmark = pytest.mark.skipif(
    not os.path.exists(HAPROXY) and os.environ.get("JOL_REQUIRE_E2E") != "1",
    reason="HAProxy is not installed (apt-get install haproxy; .ci/run does)")

TOKEN = "4300:replicas"
SECRET = "replica-test-webhook-secret"
REPLICAS = 3
USERS = 45
# Each user sends each of these once, so the daily cap (one count per chat and cell) cannot
# hide a message handled twice; each is answered with exactly one message.
ACTIONS = ("/start", "/sos", "паспорт", "работа в корее", "/about")
COUNTED = {("start", ""): USERS, ("sos", ""): USERS, ("search_found", "passport-taken"): USERS,
           ("search_found", "korea"): USERS}
ANSWER_TIMEOUT = 40.0  # a killed replica's updates wait for their leases (10 s) to run out


@dataclass
class Cluster:
    bot: StandInBot
    control: str  # the stand-in's base address
    ports: list[int]
    folders: list[Path]
    processes: list[asyncio.subprocess.Process]
    database_url: str


@asynccontextmanager
async def cluster(tmp_path: Path, database_url: str) -> AsyncIterator[Cluster]:
    runner, base_url = await start_standin("127.0.0.1", 0)
    bot = runner.app[STANDIN].bot(TOKEN)
    standin = base_url.removesuffix("/bot")
    balancer = free_port()
    ports = [free_port() for _ in range(REPLICAS)]
    async with AsyncExitStack() as stack:
        stack.push_async_callback(runner.cleanup)
        haproxy = await asyncio.create_subprocess_exec(
            HAPROXY, "-db", "-f", str(REPO_ROOT / "deploy" / "haproxy.cfg"),
            env={**os.environ, "JOL_BALANCER_BIND": f"127.0.0.1:{balancer}",
                 **{f"JOL_REPLICA_{i + 1}": f"127.0.0.1:{port}" for i, port in enumerate(ports)}},
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        stack.push_async_callback(_end, haproxy)
        folders, processes = [], []
        for i, port in enumerate(ports):
            folder = tmp_path / f"replica-{i + 1}"
            folder.mkdir()
            folders.append(folder)
            processes.append(await stack.enter_async_context(jol_run(
                f"{standin}/r{i + 1}/bot", folder, port, token=TOKEN,
                JOL_DATABASE_URL=database_url,
                JOL_WEBHOOK_URL=f"http://127.0.0.1:{balancer}/telegram",
                JOL_WEBHOOK_SECRET=SECRET, JOL_STATS_FLUSH_SECONDS="30",
                # as the image runs them (Dockerfile): no docstrings, no asserts
                PYTHONOPTIMIZE="2")))
        for folder in folders:
            await wait_for_log(folder, "serving by webhook")
        yield Cluster(bot, standin, ports, folders, processes, database_url)


async def _end(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.kill()
        await process.wait()


def answers_after_each_message(chat: ChatLog) -> list[int]:
    """For each message the user wrote, how many messages the bot sent before the next one."""
    counts: list[int] = []
    for event in chat.events:
        kind = event.split()[0]
        if kind == "user":
            counts.append(0)
        elif kind == "send" and counts:
            counts[-1] += 1
    return counts


async def user_session(bot: StandInBot, user_id: int, start_after: float,
                       rng: random.Random) -> list[str]:
    """The user's actions, each waiting for its answer; the problems seen (none, if well)."""
    await asyncio.sleep(start_after)
    problems = []
    for action in ACTIONS:
        chat = bot.chat(user_id)
        sent_before = sum(answers_after_each_message(chat))
        bot.message(user_id, action)
        if not await bot.wait_until(
                user_id, lambda c, n=sent_before: sum(answers_after_each_message(c)) > n,
                ANSWER_TIMEOUT):
            problems.append(f"user {user_id}: no answer to {action!r}")
            return problems
        await asyncio.sleep(rng.uniform(0.1, 0.4))
    return problems


async def deliver_directly(http: aiohttp.ClientSession, port: int, update: dict[str, Any]
                           ) -> None:
    """POST one update to one replica, bypassing the balancer (as if Telegram chose it)."""
    async with http.post(f"http://127.0.0.1:{port}/telegram", json=update,
                         headers={SECRET_HEADER: SECRET}) as response:
        assert response.status == 200, await response.text()


async def check_forget_reaches_every_replica(c: Cluster) -> float:
    """Choose Kyrgyz through replica 1, read it through replica 2 (now cached there), /forget
    through replica 1: replica 2 asks for the language again. Returns the seconds it took."""
    user = 990_001
    telegram = c.bot.telegram
    async with aiohttp.ClientSession() as http:
        await deliver_directly(http, c.ports[0], telegram.message_update(
            user, "/start", language_code=None))
        picker = c.bot.chat(user).last
        await deliver_directly(http, c.ports[0], telegram.callback_update(
            user, picker.message_id, LanguageButton("ky").pack(), language_code=None))
        await deliver_directly(http, c.ports[1], telegram.message_update(
            user, "/sos", language_code=None))
        assert not asks_language(c.bot.chat(user))  # the SOS screen, in Kyrgyz
        await deliver_directly(http, c.ports[0], telegram.message_update(
            user, "/forget", language_code=None))
        forgotten = time.monotonic()
        while True:
            await deliver_directly(http, c.ports[1], telegram.message_update(
                user, "/sos", language_code=None))
            if asks_language(c.bot.chat(user)):
                return time.monotonic() - forgotten
            assert time.monotonic() - forgotten < 5, "replica 2 still knows the language"
            await asyncio.sleep(0.05)


def asks_language(chat: ChatLog) -> bool:
    return LanguageButton("ky").pack() in [data for row in chat.last.buttons for _, data in row]


async def counted(database_url: str) -> Counter[tuple[str, str]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(text("SELECT event, key, SUM(count) FROM counters "
                                           "GROUP BY event, key"))
            return Counter({(event, key): int(n) for event, key, n in rows})
    finally:
        await engine.dispose()


async def test_three_replicas_answer_each_message_once_through_sigterm_and_sigkill(
        tmp_path: Path, postgres_url: str) -> None:
    async with cluster(tmp_path, postgres_url) as c:
        seconds = await check_forget_reaches_every_replica(c)
        print(f"/forget held on another replica after {seconds:.3f} s")
        assert seconds < 1.0

        before = await counted(c.database_url)
        rng = random.Random(15)
        users = [100_000 + i for i in range(USERS)]
        sessions = [asyncio.create_task(user_session(c.bot, user, i * 0.15, rng))
                    for i, user in enumerate(users)]
        await asyncio.sleep(1.5)
        c.processes[0].send_signal(signal.SIGTERM)  # a rolling update takes replica 1 out
        await asyncio.sleep(1.5)
        async with aiohttp.ClientSession() as http:
            # Replica 2's answers are on their way out when it dies: Telegram never saw them.
            # Meanwhile Telegram, tired of waiting, delivers those updates again: replica 2
            # still holds their claims, so every replica answers 503, not "done".
            async with http.post(f"{c.control}/control/{TOKEN}/pause",
                                 json={"tag": "r2", "webhook_timeout": 1.0}) as response:
                assert response.status == 200
            await asyncio.sleep(2.5)
            held = c.bot.held_calls
            c.processes[1].kill()
            await c.processes[1].wait()
            # Telegram's own patience again (a minute), for the retries that follow.
            async with http.post(f"{c.control}/control/{TOKEN}/pause",
                                 json={"tag": "r2", "paused": False,
                                       "webhook_timeout": 60.0}) as response:
                assert response.status == 200
        problems = [p for found in await asyncio.gather(*sessions) for p in found]
        assert await asyncio.wait_for(c.processes[0].wait(), 30) == 0
        assert "stopped; statistics written" in (c.folders[0] / "jol.log").read_text()

        assert problems == []
        await asyncio.sleep(1.0)  # a doubled answer would come by now
        for user in users:
            assert answers_after_each_message(c.bot.chat(user)) == [1] * len(ACTIONS), user
        c.processes[2].send_signal(signal.SIGTERM)  # the last one writes what it holds
        assert await asyncio.wait_for(c.processes[2].wait(), 30) == 0
        counts = await counted(c.database_url)
        assert {cell: counts[cell] - before[cell] for cell in COUNTED} == COUNTED
        print(f"replica 2 died holding {held} answers; {c.bot.webhook_retries} deliveries "
              "were tried again")
        assert held > 0  # the kill did catch answers on their way out
        assert c.bot.webhook_retries > 0
