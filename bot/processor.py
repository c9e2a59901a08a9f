"""Chats are handled concurrently, each chat's updates strictly in the order they came."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
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


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """A lock per chat (kept only while that chat has updates in flight), a global cap on
    updates handled at once, and a count of updates received and not yet handled, so the
    intake can pause (polling) or ask Telegram to retry later (webhook) under a flood.

    An update takes one of the global places only once its chat's turn has come: updates
    queued behind a slow chat (a group held back by Telegram's 429) wait without taking the
    places other chats need.

    Each update is classified here, once (bot.urgency), so that the Bot API calls made while
    handling it wait their turn under Telegram's flood limits by its urgency (bot.ratelimit).
    """

    def __init__(self, max_concurrent_updates: int = 256,
                 classify: Callable[[object], Urgency] = lambda _: Urgency.ROUTINE) -> None:
        # PTB's own cap is taken before the chat's turn comes, so it is set out of the way;
        # the updates waiting are bounded by the intake (see MAX_POLL_BACKLOG, MAX_BACKLOG).
        super().__init__(WAITING_UNBOUNDED)
        self._handling = asyncio.Semaphore(max_concurrent_updates)
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
            with handling(self._classify(update)):
                async with lock, self._handling:
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
