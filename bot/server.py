"""`jol run`: serve Telegram by long polling (default) or webhook, beside /healthz and /metrics.

Start: Telegram unreachable is retried (one log line a try), a rejected token exits 2.
Shutdown on SIGTERM or Ctrl-C: stop taking updates, write the statistics, stop waiting out
429s, finish the updates in flight, write again, close the database — in seconds, and the last
log line says whether every count was written.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import logging
import resource
import signal
import time
import warnings
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import urlparse

from aiohttp import web
from telegram import Update
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.warnings import PTBUserWarning

from bot import metrics
from bot.app import JolApplication, build_application
from bot.context import Services
from bot.db.claims import UpdateClaims
from bot.db.notify import is_postgres
from bot.handoff.purge import purge_loop
from bot.processor import PerChatUpdateProcessor
from bot.ratelimit import FloodControl, retry_seconds
from bot.services import open_services
from bot.settings import Settings
from bot.stats.release import release_loop
from bot.stats.reports import delete_older_than
from bot.transport import AiohttpRequest
from bot.web import WebhookIntake, build_web_app, database_file, database_file_intact

log = logging.getLogger(__name__)

# Polling asks for the raw updates (see parse_updates); PTB would rather we used get_updates.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.getUpdates'",
                        category=PTBUserWarning)

ALLOWED_UPDATES = [Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY,
                   Update.CHANNEL_POST]
POLL_TIMEOUT = 25
# /healthz reports long polling broken after this many seconds of failures in a row.
POLL_UNHEALTHY_AFTER = 60
# The bot's HTTP server: at most this many connections open, and a client must send its
# request headers within `keepalive_timeout` seconds of connecting (aiohttp closes it
# otherwise) — so slow clients cannot hold connections for ever. A reverse proxy in front
# is still the real shield (README, "Deployment").
MAX_HTTP_CONNECTIONS = 256
ACCEPT_BACKLOG = 32
SERVER_LIMITS: dict[str, Any] = {"access_log": None, "keepalive_timeout": 10,
                                 "max_line_size": 8190, "max_field_size": 8190,
                                 "max_headers": 64, "handler_cancellation": True}
# Polling pauses while this many updates wait, so a flood cannot fill memory.
MAX_POLL_BACKLOG = 1000


class RepeatedLines(logging.Filter):
    """Lets through at most `burst` lines per `window` seconds per logger and message
    template; the first one after a quiet spell says how many were held back. A flood of bad
    requests or of "too many open files" then writes a few lines a minute, not 100 MB."""

    def __init__(self, window: float = 10.0, burst: int = 5) -> None:
        super().__init__()
        self.window = window
        self.burst = burst
        # (logger, level, template) -> (start of its window, lines passed, lines held back)
        self._seen: dict[tuple[str, int, str], tuple[float, int, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = time.monotonic()
        start, passed, held = self._seen.get(key, (now, 0, 0))
        if now - start >= self.window:
            if held:
                record.msg = f"{record.msg} [repeated {held} more times in {now - start:.0f} s]"
            start, passed, held = now, 0, 0
        if passed >= self.burst:
            self._seen[key] = (start, passed, held + 1)
            metrics.LOG_LINES_SUPPRESSED.inc()
            return False
        if len(self._seen) > 10_000:  # bounded: message templates, not user data
            self._seen.clear()
        self._seen[key] = (start, passed + 1, held)
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line, for log collectors: time, level, logger, message[, error]."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(
                     timespec="milliseconds"),
                 "level": record.levelname, "logger": record.name,
                 "message": record.getMessage()}
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "INFO", log_format: str = "text",
                      stream: TextIO | None = None) -> None:
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLines() if log_format == "json" else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RepeatedLines())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    # httpx and aiohttp would log request URLs, which hold the bot token; PTB's own INFO lines
    # are about its machinery. Neither is needed at INFO.
    for noisy in ("httpx", "httpcore", "aiohttp.access", "telegram.ext.Application"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    # Even at DEBUG, never: PTB logs every call's parameters and every answer (messages users
    # wrote, chat ids) at DEBUG; SQLAlchemy and the drivers log statements and their parameters
    # (language-memory keys, words of failed searches) at INFO and DEBUG.
    logging.getLogger("telegram").setLevel(max(logging.INFO, logging.getLevelName(level)))
    for database in ("aiosqlite", "sqlalchemy", "asyncpg"):
        logging.getLogger(database).setLevel(logging.WARNING)


def parse_updates(raw: object, bot: Any, offset: int) -> tuple[list[Update], int]:
    """Each update of a getUpdates answer parsed on its own; the next offset.

    An update python-telegram-bot cannot parse (a shape newer than it, or broken) is skipped
    and counted: the offset moves past it so it does not come back, and only its update_id is
    logged, since the rest holds what a user wrote.
    """
    updates = []
    for item in raw if isinstance(raw, list) else ():
        update_id = item.get("update_id") if isinstance(item, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            update_id = None
        else:
            offset = max(offset, update_id + 1)
        try:
            if update_id is None:
                raise ValueError("no update_id")
            updates.append(Update.de_json(item, bot))
        except Exception as error:
            metrics.BAD_UPDATES.labels("polling").inc()
            log.warning("skipped update %s: it could not be read (%s)",
                        update_id if update_id is not None else "without an id",
                        type(error).__name__)
    return updates, offset


class Poller:
    """Long polling that waits out Telegram's 429s and network trouble, back-pressures, and
    survives any update Telegram sends (see parse_updates)."""

    def __init__(self, application: JolApplication) -> None:
        self.application = application
        self.failing_since: float | None = None  # monotonic time of the first failure in a row
        self.stopped = False

    def problem(self) -> str | None:
        """Why updates are not coming in, for /healthz; None while polling works."""
        if self.stopped:
            return "long polling stopped"
        if self.failing_since is not None and (
                time.monotonic() - self.failing_since > POLL_UNHEALTHY_AFTER):
            return "Telegram unreachable for long polling"
        return None

    async def run(self, stopping: asyncio.Event) -> None:
        try:
            await self._poll(stopping)
        finally:
            self.stopped = True

    async def _poll(self, stopping: asyncio.Event) -> None:
        processor = self.application.update_processor
        bot = self.application.bot
        offset = 0
        failures = 0
        while not stopping.is_set():
            try:
                raw = await bot.do_api_request("getUpdates", api_kwargs={
                    "offset": offset, "timeout": POLL_TIMEOUT,
                    "allowed_updates": ALLOWED_UPDATES}, read_timeout=POLL_TIMEOUT + 10)
                failures = 0
                self.failing_since = None
            except RetryAfter as error:
                await asyncio.sleep(retry_seconds(error))
                continue
            except Exception as error:  # network, Conflict, 5xx after retries: keep polling
                failures += 1
                if self.failing_since is None:
                    self.failing_since = time.monotonic()
                log.warning("polling failed (%s); retrying", type(error).__name__)
                await asyncio.sleep(min(30, 2 ** min(failures, 5)))
                continue
            updates, offset = parse_updates(raw, bot, offset)
            for update in updates:
                if isinstance(processor, PerChatUpdateProcessor):
                    processor.received()
                await self.application.update_queue.put(update)
            while isinstance(processor, PerChatUpdateProcessor) and (
                    processor.backlog > MAX_POLL_BACKLOG) and not stopping.is_set():
                await asyncio.sleep(0.05)


async def connect(application: JolApplication, base_url: str,
                  stopping: asyncio.Event) -> bool:
    """Initialize the bot (PTB asks Telegram getMe), retrying while Telegram is unreachable,
    one log line a try; False if asked to stop meanwhile. A rejected token ends the start."""
    failures = 0
    while True:
        try:
            await application.initialize()
            return True
        except InvalidToken:
            raise StartupError("Telegram rejected TELEGRAM_BOT_TOKEN (401 Unauthorized); "
                               "check the token from @BotFather") from None
        except (NetworkError, TimedOut) as error:
            failures += 1
            wait = min(60, 2 ** failures)
            cause = error.__cause__ if error.__cause__ is not None else error
            log.warning("Telegram not reachable at %s<token>/ (%s); retrying in %d s",
                        base_url, type(cause).__name__, wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), timeout=wait)
            if stopping.is_set():
                return False


class StartupError(Exception):
    """The bot cannot start; the message says why in one line."""


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


async def serve(settings: Settings) -> int:
    """Run until SIGTERM or Ctrl-C; the exit code (0, or 2 when the bot cannot start)."""
    configure_logging(settings.log_level, settings.log_format)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    raise_file_limit()

    async with open_services(settings, migrate_in_child=True) as services:
        request = AiohttpRequest()
        application = build_application(services, request=request)
        try:
            if not await connect(application, settings.api_base_url, stopping):
                await request.shutdown()
                return 0
        except StartupError as error:
            log.error("%s", error)
            await request.shutdown()
            return 2
        opened = database_file(services)
        await run_connected(application, services, settings, stopping)
    if opened is not None and not database_file_intact(opened):
        log.error("stopped; the database file %s is gone: counts written since it was "
                  "deleted are lost", opened[0])
    elif services.stats.pending or services.memory.pending:
        log.error("stopped; some statistics could not be written (see above)")
    else:
        log.info("stopped; statistics written")
    return 0


async def run_connected(application: JolApplication, services: Services, settings: Settings,
                        stopping: asyncio.Event) -> None:
    webhook = settings.webhook_url
    # Several replicas share PostgreSQL: an update is claimed there, so one handles it.
    claims = (UpdateClaims(services.engine, services.write_pending)
              if webhook and is_postgres(settings.database_url) else None)
    intake = WebhookIntake(application, settings.webhook_secret, claims) if webhook else None
    path = (urlparse(webhook).path or "/telegram") if webhook else "/telegram"
    poller = None if webhook else Poller(application)
    runner = web.AppRunner(build_web_app(services, intake, path,
                                         problem=poller.problem if poller else None),
                           **SERVER_LIMITS)
    await runner.setup()
    assert runner.server is not None
    # An eighth of the files the process may open: the rest stay for Telegram's connections,
    # the database and the logs, and for connections accepted but not yet counted (asyncio
    # accepts up to `backlog` at a time before the cap sees them).
    files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    limit_connections(runner.server, max(16, min(MAX_HTTP_CONNECTIONS, files // 8)))
    site = web.TCPSite(runner, settings.http_host, settings.http_port, backlog=ACCEPT_BACKLOG)
    async with application:
        if application.post_init:
            try:
                await application.post_init(application)
            except TelegramError as error:  # the command menu is a comfort, not a need
                log.warning("command menu not registered (%s); serving anyway",
                            type(error).__name__)
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
        tasks = [asyncio.create_task(retention(services, stopping)),
                 asyncio.create_task(release_loop(services, stopping)),
                 asyncio.create_task(purge_loop(services, application.bot, stopping))]
        if claims is not None:
            await claims.start()
        if poller is None:
            # The webhook answers once an update is handled, so Telegram's connections are
            # the updates in flight: the most it allows.
            await application.bot.set_webhook(settings.webhook_url or "",
                                              secret_token=settings.webhook_secret,
                                              allowed_updates=ALLOWED_UPDATES,
                                              max_connections=settings.webhook_connections)
            log.info("serving by webhook on %s:%d%s", settings.http_host,
                     settings.http_port, path)
        else:
            await application.bot.delete_webhook()
            tasks.append(asyncio.create_task(poller.run(stopping)))
            log.info("serving by long polling; health on %s:%d", settings.http_host,
                     settings.http_port)
        await stopping.wait()
        log.info("stopping: no new updates, finishing the ones in flight")
        if intake is not None:
            intake.accepting = False
        limiter = application.bot.rate_limiter
        if isinstance(limiter, FloodControl):
            limiter.stop_waiting()  # answers held by a 429 give up rather than wait it out
        if intake is not None:
            await intake.finish_in_flight()  # each marked done and answered 200
        if claims is not None:
            await claims.stop()
        # Counts first, so that a supervisor's kill after this point loses none.
        await services.stats.flush()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await application.stop()  # waits for updates in flight
    await runner.cleanup()


def raise_file_limit() -> None:
    """Use the file limit the system allows (often 1,024 soft, far more hard): every HTTP
    connection, in or out, is a file."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (hard if hard != resource.RLIM_INFINITY else 65536, hard))


def limit_connections(server: web.Server, limit: int) -> None:
    """Past `limit` open connections, close the oldest, so a crowd of slow clients cannot use
    up the process's files and a new /healthz or webhook call still gets in. A slow client is
    the oldest by nature; Telegram's and a monitor's calls take milliseconds."""
    open_now: dict[Any, None] = {}  # handlers in the order they connected, closing ones gone
    made, lost = server.connection_made, server.connection_lost

    def connection_made(handler: Any, transport: asyncio.Transport) -> None:
        while len(open_now) >= limit:
            oldest = next(iter(open_now))
            del open_now[oldest]
            metrics.HTTP_CONNECTIONS_DROPPED.inc()
            oldest.force_close()
        open_now[handler] = None
        made(handler, transport)

    def connection_lost(handler: Any, exc: BaseException | None = None) -> None:
        open_now.pop(handler, None)
        lost(handler, exc)

    server.connection_made = connection_made  # type: ignore[method-assign]
    server.connection_lost = connection_lost  # type: ignore[method-assign]
