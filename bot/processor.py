"""Chats are handled concurrently, each chat's updates strictly in the order they came."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from heapq import heappop, heappush
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot import metrics
from bot.urgency import Urgency, handling

WAITING_UNBOUNDED = 1 << 30


def chat_key(update: object) -> int | None:
    if isinstance(update, Update):
        if update.effective_chat is not None:
            return update.effective_chat.id
        if update.effective_user is not None:
            return update.effective_user.id
    return None


class Places:
    """A fixed number of places; a freed one goes to the most urgent update waiting, then
    the one that came first (an asyncio.Semaphore would give it to the first only)."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._waiting: list[tuple[Urgency, int, asyncio.Future[None]]] = []  # a heap
        self._arrivals = itertools.count()

    @asynccontextmanager
    async def taken(self, urgency: Urgency) -> AsyncIterator[None]:
        if self._free > 0 and not self._waiting:
            self._free -= 1
        else:
            place: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            heappush(self._waiting, (urgency, next(self._arrivals), place))
            try:
                await place
            except asyncio.CancelledError:
                if place.done() and not place.cancelled():
                    self._give_back()  # handed over just as the update was cancelled
                raise
        try:
            yield
        finally:
            self._give_back()

    def _give_back(self) -> None:
        while self._waiting:
            place = heappop(self._waiting)[-1]
            if not place.done():  # not an update cancelled while it waited
                place.set_result(None)
                return
        self._free += 1


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """A lock per chat (kept only while that chat has updates in flight), a global cap on
    updates handled at once, and a count of updates received and not yet handled, so the
    intake can pause (polling) or ask Telegram to retry later (webhook) under a flood.

    An update takes one of the global places only once its chat's turn has come: updates
    queued behind a slow chat (a group held back by Telegram's 429) wait without taking the
    places other chats need.

    Each update is classified here, once (bot.urgency): a freed place goes to the most urgent
    update waiting, and the Bot API calls made while handling it wait their turn under
    Telegram's flood limits by its urgency (bot.ratelimit). Under a flood, the places fill
    with updates whose answers wait for Telegram: an SOS must not queue behind them all.
    """

    def __init__(self, max_concurrent_updates: int = 256,
                 classify: Callable[[object], Urgency] = lambda _: Urgency.ROUTINE) -> None:
        # PTB's own cap is taken before the chat's turn comes, so it is set out of the way;
        # the updates waiting are bounded by the intake (see MAX_POLL_BACKLOG, MAX_BACKLOG).
        super().__init__(WAITING_UNBOUNDED)
        self._handling = Places(max_concurrent_updates)
        self._locks: dict[int | None, tuple[asyncio.Lock, int]] = {}
        self._classify = classify
        self.backlog = 0

    def received(self) -> None:
        """Called by the intake (polling or webhook) for each update it queues."""
        self.backlog += 1
        metrics.BACKLOG.set(self.backlog)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        key = chat_key(update)
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            urgency = self._classify(update)
            with handling(urgency):
                async with lock, self._handling.taken(urgency):
                    started = time.perf_counter()
                    await coroutine
                    metrics.LATENCY.observe(time.perf_counter() - started)
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)
            self.backlog = max(0, self.backlog - 1)
            metrics.BACKLOG.set(self.backlog)
            metrics.UPDATES.labels(metrics.update_kind(update)).inc()

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None
