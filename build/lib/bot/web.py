"""The aiohttp app beside the bot: the Telegram webhook, /healthz and /metrics."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
from collections import OrderedDict
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from telegram import Update

from bot import metrics
from bot.context import Services
from bot.processor import PerChatUpdateProcessor

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SERVICES = web.AppKey("services", Services)
# Above this many updates waiting, the webhook answers 503 and Telegram delivers them later.
MAX_BACKLOG = 5000
RECENT_UPDATE_IDS = 10_000


class WebhookIntake:
    """Accepts an update once: checks the secret, skips retries of an update already taken."""

    def __init__(self, application: Any, secret: str | None) -> None:
        self.application = application
        self.secret = secret or ""
        self.accepting = True
        self._recent: OrderedDict[int, None] = OrderedDict()

    def seen(self, update_id: int) -> bool:
        if update_id in self._recent:
            return True
        self._recent[update_id] = None
        while len(self._recent) > RECENT_UPDATE_IDS:
            self._recent.popitem(last=False)
        return False

    async def handle(self, request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "")
        if not self.secret or not hmac.compare_digest(given.encode(), self.secret.encode()):
            return web.json_response({"ok": False, "error": "wrong secret token"}, status=401)
        processor = self.application.update_processor
        backlog = processor.backlog if isinstance(processor, PerChatUpdateProcessor) else 0
        if not self.accepting or backlog > MAX_BACKLOG:
            return web.json_response({"ok": False, "error": "busy, retry later"}, status=503)
        try:
            data = await request.json()
            update_id = int(data["update_id"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        if self.seen(update_id):
            metrics.DUPLICATES.inc()
            return web.json_response({"ok": True, "duplicate": True})
        if isinstance(processor, PerChatUpdateProcessor):
            processor.received()
        await self.application.update_queue.put(Update.de_json(data, self.application.bot))
        return web.json_response({"ok": True})


async def health(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    snapshot = services.content.snapshot
    try:
        async with asyncio.timeout(2):
            async with services.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as error:
        return web.json_response(
            {"status": "unavailable", "reason": f"database unreachable: {type(error).__name__}"},
            status=503)
    return web.json_response({"status": "ok", "content_version": snapshot.version,
                              "topics": len(snapshot.topic_ids())})


async def metrics_endpoint(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    metrics.FLUSH_LAG.set(services.stats.last_flush_lag)
    body = generate_latest()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_web_app(services: Services, intake: WebhookIntake | None,
                  webhook_path: str = "/telegram") -> web.Application:
    app = web.Application(client_max_size=1024 * 1024)
    app[SERVICES] = services
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics_endpoint)
    if intake is not None:
        app.router.add_post(webhook_path, intake.handle)
    return app
