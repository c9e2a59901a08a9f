"""Webhook intake, /healthz and /metrics over real HTTP (aiohttp test server)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from bot.db import create_engine
from bot.web import SECRET_HEADER, WebhookIntake, build_web_app
from tests.helpers import Harness, running_bot

SECRET = "s3cret_token-1"


@asynccontextmanager
async def webhook(tmp_path: Path) -> AsyncIterator[tuple[Harness, TestClient[object, object]]]:
    async with running_bot(tmp_path) as bot:
        await bot.application.start()  # consumes the update queue, as in `jol run`
        try:
            intake = WebhookIntake(bot.application, SECRET)
            app = build_web_app(bot.services, intake, "/telegram")
            async with TestClient(TestServer(app)) as client:
                yield bot, client
        finally:
            await bot.application.stop()


async def wait_for(condition: object, timeout: float = 3.0) -> None:
    async with asyncio.timeout(timeout):
        while not callable(condition) or not condition():
            await asyncio.sleep(0.01)


async def test_webhook_secret_and_duplicates(tmp_path: Path) -> None:
    async with webhook(tmp_path) as (bot, client):
        update = bot.telegram.message_update(501, "/start", language_code="ru")
        wrong = await client.post("/telegram", json=update, headers={SECRET_HEADER: "nope"})
        assert wrong.status == 401
        missing = await client.post("/telegram", json=update)
        assert missing.status == 401
        await asyncio.sleep(0.1)
        assert bot.telegram.chats[501].visible == []  # nothing was processed

        ok = await client.post("/telegram", json=update, headers={SECRET_HEADER: SECRET})
        assert ok.status == 200
        await wait_for(lambda: len(bot.telegram.chats[501].visible) == 1)
        retry = await client.post("/telegram", json=update, headers={SECRET_HEADER: SECRET})
        assert retry.status == 200 and (await retry.json())["duplicate"] is True
        await asyncio.sleep(0.2)
        assert len(bot.telegram.chats[501].visible) == 1  # answered once
        assert bot.telegram.chats[501].last.text.startswith("Главное меню")

        garbage = await client.post("/telegram", data=b"{not json",
                                    headers={SECRET_HEADER: SECRET})
        assert garbage.status == 400


async def test_health_and_metrics(tmp_path: Path) -> None:
    async with webhook(tmp_path) as (bot, client):
        health = await client.get("/healthz")
        assert health.status == 200
        body = await health.json()
        topic_files = list((Path(__file__).parents[1] / "content" / "ru").glob("*.md"))
        assert body["status"] == "ok" and body["topics"] == len(topic_files)

        update = bot.telegram.message_update(502, "паспорт", language_code="ky")
        await client.post("/telegram", json=update, headers={SECRET_HEADER: SECRET})
        await wait_for(lambda: bot.telegram.chats[502].visible != [])
        metrics = await (await client.get("/metrics")).text()
        assert 'jol_updates_total{kind="message"}' in metrics
        assert "jol_handler_seconds_bucket" in metrics
        assert "jol_stats_flush_lag_seconds" in metrics
        assert "jol_telegram_429_total" in metrics

        healthy_engine = bot.services.engine
        # A database that refuses connections (nothing listens on port 1).
        bot.services.engine = create_engine("postgresql+asyncpg://jol@127.0.0.1:1/jol")
        broken = await client.get("/healthz")
        assert broken.status == 503
        assert (await broken.json())["reason"].startswith("database unreachable")
        await bot.services.engine.dispose()
        bot.services.engine = healthy_engine
