"""The self-check over real HTTP: `jol run` (long polling) against the Bot API stand-in, with
people tapping through the seven scenarios in both languages, as workers and as relatives.
Everything the test sees comes through the stand-in's control API, as a phone would."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import REPO_ROOT
from bot.standin import STANDIN, start_standin
from tests.conftest import FULL_LANGUAGES
from tests.helpers import migrated_sqlite
from tests.serving_helpers import stop_as_docker_does
from tests.test_selfcheck import LABELS, SCENARIOS, START, Scenario, destination, level_title

TOKEN = "424242:selfcheck-http"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Phone:
    """One person's Telegram, through the stand-in's control API."""

    http: aiohttp.ClientSession
    root: str
    user_id: int
    lang: str
    screen: dict[str, Any] | None = None

    async def _act(self, path: str, **body: Any) -> dict[str, Any]:
        url = f"{self.root}/control/{TOKEN}/{path}"
        async with self.http.post(url, json={"user_id": self.user_id, **body}) as answer:
            assert answer.status == 200, await answer.text()
            sent = await answer.json()
        params = {"chat_id": str(self.user_id), "after": str(sent["events"]), "timeout": "20"}
        async with self.http.get(f"{self.root}/control/{TOKEN}/wait", params=params) as answer:
            reply = await answer.json()
        assert not reply["timed_out"], f"no answer to {path} {body}"
        self.screen = reply["messages"][-1]
        return self.screen

    async def send(self, text: str) -> dict[str, Any]:
        return await self._act("message", text=text, language_code=self.lang)

    async def press(self, label: str) -> dict[str, Any]:
        assert self.screen is not None
        data = next((d for row in self.screen["buttons"] for text, d in row if text == label),
                    None)
        assert data is not None, f"no button {label!r} in {self.screen['buttons']}"
        return await self._act("callback", message_id=self.screen["message_id"], data=data,
                               language_code=self.lang)


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[aiohttp.ClientSession, str]]:
    runner, base_url = await start_standin("127.0.0.1", 0)
    bot = runner.app[STANDIN].bot(TOKEN)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JOL_", "TELEGRAM_"))}
    env.update({
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "JOL_API_BASE_URL": base_url,
        "JOL_DATABASE_URL": await migrated_sqlite(tmp_path / "jol.sqlite3"),
        "JOL_CONTENT_DIR": str(REPO_ROOT / "content"),
        "JOL_SECRET": "http-test-secret",
        "JOL_HTTP_HOST": "127.0.0.1",
        "JOL_HTTP_PORT": str(free_port()),
        "NO_PROXY": "127.0.0.1,localhost",
    })
    log = (tmp_path / "bot.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "run"], cwd=REPO_ROOT,
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(600):  # until it polls: content loaded
            if bot.calls["getUpdates"] or process.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert bot.calls["getUpdates"], (tmp_path / "bot.log").read_text(errors="replace")
        async with aiohttp.ClientSession() as http:
            yield http, base_url.removesuffix("/bot")
    finally:
        # Stop as `docker stop` does; wait without blocking the loop the stand-in runs on.
        await stop_as_docker_does(process)
        log.close()
        # The stopped bot left a long poll open; an update ends it, so cleanup need not wait.
        bot.message(1, "bye")
        await runner.cleanup()


async def walk(phone: Phone, scenario: Scenario, family: bool) -> dict[str, Any]:
    lang = phone.lang
    await phone.send("/start family" if family else "/start")
    await phone.press(START[family][lang])
    place = destination(scenario.destination)
    screen = await phone.press(place.name[lang])
    for question in place.questions:
        assert (question.ask_family if family else question.ask)[lang] in screen["text"]
        answer = scenario.answers.get(question.id) or (
            question.safe if scenario.rest == "safe" else scenario.rest)
        screen = await phone.press(LABELS[lang][answer])
    return screen


async def test_seven_scenarios_over_http_in_both_languages_and_for_relatives(
        served: tuple[aiohttp.ClientSession, str]) -> None:
    http, root = served
    runs = [(scenario, lang, family) for scenario in SCENARIOS for lang in FULL_LANGUAGES
            for family in (False, True)]
    phones = [Phone(http, root, 50_000 + i, lang) for i, (_, lang, _) in enumerate(runs)]
    results = await asyncio.gather(*(walk(phone, scenario, family) for phone, (
        scenario, _, family) in zip(phones, runs, strict=True)))
    for (scenario, lang, family), result in zip(runs, results, strict=True):
        assert level_title(scenario.expect, lang) in result["text"], (scenario.name, lang,
                                                                       family)
