"""`jol run`: serve Telegram by long polling (default) or webhook, beside /healthz and /metrics.

Shutdown on SIGTERM or Ctrl-C: stop taking updates, finish the ones in flight, flush the
statistics, close the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from datetime import timedelta
from urllib.parse import urlparse

from aiohttp import web
from telegram import Update
from telegram.error import NetworkError, RetryAfter, TimedOut

from bot.app import JolApplication, build_application
from bot.context import Services
from bot.processor import PerChatUpdateProcessor
from bot.runtime import open_services
from bot.settings import Settings
from bot.stats.release import release_loop
from bot.stats.reports import delete_older_than
from bot.transport import AiohttpRequest
from bot.web import WebhookIntake, build_web_app

log = logging.getLogger(__name__)

ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY,
                   Update.CHANNEL_POST]
POLL_TIMEOUT = 25
# Polling pauses while this many updates wait, so a flood cannot fill memory.
MAX_POLL_BACKLOG = 1000


def configure_logging() -> None:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx and aiohttp would log request URLs, which hold the bot token; PTB's own INFO lines
    # are about its machinery. Neither is needed at INFO.
    for noisy in ("httpx", "httpcore", "aiohttp.access", "telegram.ext.Application"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # At INFO, SQLAlchemy logs every statement with its parameters (language-memory keys,
    # words of failed searches); the drivers do the same at DEBUG. Only problems are logged.
    for database in ("aiosqlite", "sqlalchemy", "asyncpg"):
        logging.getLogger(database).setLevel(logging.WARNING)


async def poll(application: JolApplication, stopping: asyncio.Event) -> None:
    """Long polling that waits out Telegram's 429s and network trouble, and back-pressures."""
    processor = application.update_processor
    offset = 0
    failures = 0
    while not stopping.is_set():
        try:
            updates = await application.bot.get_updates(
                offset=offset, timeout=POLL_TIMEOUT, allowed_updates=ALLOWED_UPDATES,
                read_timeout=POLL_TIMEOUT + 10)
            failures = 0
        except RetryAfter as error:
            wait = error.retry_after  # a timedelta once PTB_TIMEDELTA is set (see cli.main)
            await asyncio.sleep(wait.total_seconds() if isinstance(wait, timedelta) else wait)
            continue
        except (TimedOut, NetworkError) as error:
            failures += 1
            log.warning("polling failed (%s); retrying", type(error).__name__)
            await asyncio.sleep(min(30, 2 ** min(failures, 5)))
            continue
        for update in updates:
            offset = update.update_id + 1
            if isinstance(processor, PerChatUpdateProcessor):
                processor.received()
            await application.update_queue.put(update)
        while isinstance(processor, PerChatUpdateProcessor) and (
                processor.backlog > MAX_POLL_BACKLOG) and not stopping.is_set():
            await asyncio.sleep(0.05)


async def retention(services: Services, stopping: asyncio.Event) -> None:
    """Delete counters older than the retention period, at start and then daily."""
    while not stopping.is_set():
        try:
            deleted = await delete_older_than(services.engine, services.settings.retention_days)
            if deleted:
                log.info("retention: deleted %d old counter rows", deleted)
        except Exception as error:
            log.error("retention failed: %s", type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=24 * 3600)


async def serve(settings: Settings) -> None:
    configure_logging()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    async with open_services(settings, migrate_in_child=True) as services:
        application = build_application(services, request=AiohttpRequest())
        webhook = settings.webhook_url
        intake = WebhookIntake(application, settings.webhook_secret) if webhook else None
        path = (urlparse(webhook).path or "/telegram") if webhook else "/telegram"
        runner = web.AppRunner(build_web_app(services, intake, path), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.http_host, settings.http_port)
        async with application:
            if application.post_init:
                await application.post_init(application)
            await application.start()
            await site.start()
            # What is loaded by now (code, content, search index) lives until exit: keep it
            # out of the collector's full passes, which would walk all of it again and again
            # under load and show as latency spikes. Each update allocates hundreds of short-
            # lived objects (freed by reference counting, not by the collector): collecting
            # every 20,000 allocations instead of 700 saved ~15 % CPU in the benchmark.
            gc.collect()
            gc.freeze()
            gc.set_threshold(20_000, 20, 20)
            tasks = [asyncio.create_task(retention(services, stopping))]
            tasks.append(asyncio.create_task(release_loop(services, stopping)))
            if webhook:
                await application.bot.set_webhook(webhook, secret_token=settings.webhook_secret,
                                                  allowed_updates=ALLOWED_UPDATES)
                log.info("serving by webhook on %s:%d%s", settings.http_host,
                         settings.http_port, path)
            else:
                await application.bot.delete_webhook()
                tasks.append(asyncio.create_task(poll(application, stopping)))
                log.info("serving by long polling; health on %s:%d", settings.http_host,
                         settings.http_port)
            await stopping.wait()
            log.info("stopping: no new updates, finishing the ones in flight")
            if intake is not None:
                intake.accepting = False
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await application.stop()  # waits for updates in flight
        await runner.cleanup()
    log.info("stopped; statistics flushed")
