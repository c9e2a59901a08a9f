"""The aiohttp app beside the bot: the Telegram webhook, /healthz, /metrics and the editors'
workspace under /workspace/ (bot/workspace)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import math
import os
import re
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from telegram import Update

from bot import metrics
from bot.context import Services
from bot.db import sqlite_path
from bot.db.claims import Claim, UpdateClaims
from bot.processor import PerChatUpdateProcessor
from bot.ratelimit import FloodControl
from bot.stats.recorder import holding_counts

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SERVICES = web.AppKey("services", Services)
# Above this many updates waiting, the webhook answers 503 and Telegram delivers them later.
MAX_BACKLOG = 5000
RECENT_UPDATE_IDS = 10_000
# Above this many updates waiting, a new one is acknowledged before it is handled (flooded()).
EARLY_ANSWER_BACKLOG = 100


# Telegram's updates nest about ten levels deep; far deeper is an attack on the parser.
MAX_JSON_DEPTH = 64
MAX_UPDATE_ID = 2**63 - 1
# A request body must arrive within this many seconds once its headers have.
BODY_TIMEOUT = 10
# A JSON string, or an unterminated one up to the end (so the scan stays linear in the body).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+(?:"|\Z)', re.DOTALL)
_BRACKET = re.compile(rb"[\[\]{}]")


class NotAnUpdate(ValueError):
    """The body is not a Telegram update at all (answered 400)."""


def _no_constants(name: str) -> float:
    raise NotAnUpdate(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise NotAnUpdate("a number out of range")
    return value


def read_update(body: bytes) -> tuple[int, dict[str, Any]]:
    """(update_id, the update as JSON) from a webhook body; NotAnUpdate if it is none.

    Strict where Python's json is lenient: no NaN or Infinity, no number that overflows, no
    nesting deeper than MAX_JSON_DEPTH (checked before parsing, so deep nesting costs no
    recursion), and `update_id` a whole number in Telegram's range.
    """
    # Fewer opening brackets than the limit cannot nest deeper than it: a real update has a
    # few dozen, so the scan (the dearest step of a webhook call) runs only for odd bodies.
    if body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH:
        depth = deepest = 0
        for bracket in _BRACKET.findall(_JSON_STRING.sub(b"", body)):
            depth += 1 if bracket in b"[{" else -1
            deepest = max(deepest, depth)
        if deepest > MAX_JSON_DEPTH:
            raise NotAnUpdate("nested too deep")
    try:
        data = json.loads(body, parse_constant=_no_constants, parse_float=_finite)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeError included
        raise NotAnUpdate("not JSON") from error
    update_id = data.get("update_id") if isinstance(data, dict) else None
    if not isinstance(update_id, int) or isinstance(update_id, bool) or not (
            0 <= update_id <= MAX_UPDATE_ID):
        raise NotAnUpdate("no valid update_id")
    return update_id, data


class WebhookIntake:
    """Takes an update once and answers Telegram only when it is handled: a replica that dies
    meanwhile never said 200, so Telegram delivers the update again (to another replica) —
    except under a flood (see flooded()).

    Checks the secret, parses, and skips an update already taken: with `claims` (PostgreSQL,
    several replicas; bot/db/claims.py) across all replicas, else in this process's memory.
    An update that is JSON with a valid update_id but that python-telegram-bot cannot parse
    gets 200 (Telegram would retry anything else for ever), a metric, and a log line with its
    update_id only; it takes no place in the backlog and is not remembered as seen.
    """

    def __init__(self, application: Any, secret: str | None,
                 claims: UpdateClaims | None = None) -> None:
        self.application = application
        self.secret = (secret or "").encode()
        self.claims = claims
        self.accepting = True
        self._recent: OrderedDict[int, None] = OrderedDict()
        self._in_flight: set[asyncio.Task[None]] = set()

    def seen(self, update_id: int) -> bool:
        if update_id in self._recent:
            return True
        self._recent[update_id] = None
        while len(self._recent) > RECENT_UPDATE_IDS:
            self._recent.popitem(last=False)
        return False

    def busy(self) -> bool:
        """Too many updates wait: Telegram is asked to deliver later (503)."""
        processor = self.application.update_processor
        return isinstance(processor, PerChatUpdateProcessor) and processor.backlog > MAX_BACKLOG

    def _secret_matches(self, request: web.Request) -> bool:
        # aiohttp gives header bytes that are not UTF-8 as lone surrogates: "replace" keeps
        # the comparison a plain, constant-time one on bytes.
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "replace")
        return bool(self.secret) and hmac.compare_digest(given, self.secret)

    async def handle(self, request: web.Request) -> web.Response:
        if not self._secret_matches(request):
            return web.json_response({"ok": False, "error": "wrong secret token"}, status=401)
        if not self.accepting or self.busy():
            return retry_later()
        try:
            async with asyncio.timeout(BODY_TIMEOUT):
                body = await request.read()
            update_id, data = read_update(body)
        except NotAnUpdate:
            return web.json_response({"ok": False, "error": "not an update"}, status=400)
        except TimeoutError:
            return web.json_response({"ok": False, "error": "body too slow"}, status=408)
        try:
            update = Update.de_json(data, self.application.bot)
        except Exception as error:
            metrics.BAD_UPDATES.labels("webhook").inc()
            log.warning("skipped update %d: it could not be read (%s)", update_id,
                        type(error).__name__)
            return web.json_response({"ok": True, "skipped": True})
        # Claimed and handled in a task of its own, awaited shielded: Telegram (or the
        # balancer) giving up on the request must not leave a claim taken and nobody to
        # answer it, nor cut an answer short; the update is finished and marked done anyway.
        claimed: asyncio.Future[Claim | None] = asyncio.get_running_loop().create_future()
        task = asyncio.create_task(self._take(update, update_id, claimed))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)
        claim = await asyncio.shield(claimed)
        if claim is Claim.BUSY:
            return retry_later()
        if claim is Claim.DONE:
            metrics.DUPLICATES.inc()
            return web.json_response({"ok": True, "duplicate": True})
        if not self.flooded():
            await asyncio.shield(task)
        return web.json_response({"ok": True})

    def flooded(self) -> bool:
        """Telegram's overall limit holds every chat's answers back, or many updates wait
        here: acknowledge a new update at once instead of once handled. Telegram then hands
        over its whole queue and an SOS can go before the rest (bot.urgency) instead of
        waiting in Telegram's queue for one of its few connections, each held by an update
        whose answer waits for the limit; the price is that a replica dying now loses what it
        holds."""
        limiter = self.application.bot.rate_limiter
        if isinstance(limiter, FloodControl) and limiter.holding_everyone:
            return True  # (one chat's own 429 holds only that chat: no reason)
        processor = self.application.update_processor
        return isinstance(processor, PerChatUpdateProcessor) and (
            processor.backlog > EARLY_ANSWER_BACKLOG)

    async def _claim(self, update_id: int) -> Claim | None:
        """MINE/BUSY/DONE across replicas; None when handled without a shared claim."""
        if self.claims is not None:
            try:
                return await self.claims.claim(update_id)
            except Exception as error:
                # The database is away: answering (maybe twice) beats not answering.
                log.warning("update %d handled without a claim (%s)", update_id,
                            type(error).__name__)
        return Claim.DONE if self.seen(update_id) else None

    async def _take(self, update: Update, update_id: int,
                    claimed: asyncio.Future[Claim | None]) -> None:
        """Claim the update, tell the request how that went, and handle it if it is ours."""
        try:
            claim = await self._claim(update_id)  # database errors handled there
        except asyncio.CancelledError:  # shutting down
            claimed.cancel()
            raise
        claimed.set_result(claim)
        if claim in (Claim.BUSY, Claim.DONE):
            return
        processor = self.application.update_processor
        if isinstance(processor, PerChatUpdateProcessor):
            processor.received()
        application = self.application
        with holding_counts() as held:
            await application.update_processor.process_update(
                update, application.process_update(update))
        for count in held:
            count()
        if claim is Claim.MINE and self.claims is not None:
            try:
                await self.claims.done(update_id)
            except Exception as error:  # the counts stay pending; the lease runs out
                log.warning("update %d not marked done (%s)", update_id, type(error).__name__)

    async def finish_in_flight(self) -> None:
        """Shutdown: wait for the updates being handled (their 200s are still to be sent)."""
        if self._in_flight:
            await asyncio.gather(*self._in_flight, return_exceptions=True)


def retry_later() -> web.Response:
    """503: Telegram delivers the update again later (the balancer, maybe to another replica)."""
    return web.json_response({"ok": False, "error": "busy, retry later"}, status=503)


Problem = Callable[[], str | None]
PROBLEM: web.AppKey[Problem] = web.AppKey("problem")
INTAKE: web.AppKey[WebhookIntake | None] = web.AppKey("intake")
DATABASE_FILE: web.AppKey[tuple[Path, tuple[int, int]] | None] = web.AppKey("database_file")


async def health(request: web.Request) -> web.Response:
    """200 only when updates come in and counts can be written; else 503 and the reason."""
    services = request.app[SERVICES]
    snapshot = services.content.snapshot
    problem = request.app[PROBLEM]() or await database_problem(services,
                                                                request.app[DATABASE_FILE])
    intake = request.app[INTAKE]
    if not problem and intake is not None and not intake.accepting:
        problem = "stopping"  # a balancer sends the updates to other replicas meanwhile
    if not problem and intake is not None and intake.busy():
        problem = f"more than {MAX_BACKLOG} updates waiting"
    if not problem and services.handoff is not None:
        problem = services.handoff.problem  # the caseworkers' group misconfigured or lost
    if problem:
        return web.json_response({"status": "unavailable", "reason": problem}, status=503)
    return web.json_response({"status": "ok", "content_version": snapshot.version,
                              "topics": len(snapshot.topic_ids())})


def database_file(services: Services) -> tuple[Path, tuple[int, int]] | None:
    """The SQLite file and its identity (device, inode) now, to notice it deleted or replaced
    later (SQLite opens a new, empty file in its place on the next connection)."""
    path = sqlite_path(services.engine.url)
    if path is None or not path.is_file():
        return None
    stat = path.stat()
    return path, (stat.st_dev, stat.st_ino)


def database_file_intact(opened: tuple[Path, tuple[int, int]] | None) -> bool:
    """Whether the SQLite file seen at start is still there, the same file, and writable."""
    if opened is None:
        return True
    path, identity = opened
    try:
        stat = path.stat()
    except OSError:
        return False
    return (stat.st_dev, stat.st_ino) == identity and os.access(path, os.R_OK | os.W_OK)


async def database_problem(services: Services,
                           opened: tuple[Path, tuple[int, int]] | None) -> str | None:
    """Why counts cannot be written now, or None. SQLite answers SELECT 1 on a deleted or
    read-only file from its open connection, so the file itself is checked too, and the
    statistics' age: counts waiting far longer than the flush interval were not written."""
    try:
        async with asyncio.timeout(2):
            async with services.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    except Exception as error:
        return f"database unreachable: {type(error).__name__}"
    if not database_file_intact(opened):
        return "database file missing, replaced or not writable"
    if services.stats.last_flush_lag > max(30.0, 5 * services.settings.stats_flush_seconds):
        return "database not written: statistics are waiting"
    return None

async def metrics_endpoint(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    metrics.FLUSH_LAG.set(services.stats.last_flush_lag)
    body = generate_latest()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def build_web_app(services: Services, intake: WebhookIntake | None,
                  webhook_path: str = "/telegram",
                  problem: Callable[[], str | None] | None = None) -> web.Application:
    """`problem` says why updates are not coming in (long polling), for /healthz."""
    app = web.Application(client_max_size=1024 * 1024)
    app[SERVICES] = services
    app[PROBLEM] = problem or (lambda: None)
    app[INTAKE] = intake
    app[DATABASE_FILE] = database_file(services)
    app.router.add_get("/healthz", health)
    app.router.add_get("/metrics", metrics_endpoint)
    if intake is not None:
        app.router.add_post(webhook_path, intake.handle)
    if services.settings.admin_ids:  # the editors; without any, nobody could sign in
        # Jinja2 and the templates (~5 MB) only where someone will use them.
        from bot.workspace.app import build_workspace

        app.add_subapp("/workspace/", build_workspace(services))
        app.router.add_get("/workspace", _to_workspace)
    return app


async def _to_workspace(request: web.Request) -> web.Response:
    raise web.HTTPPermanentRedirect("/workspace/")
