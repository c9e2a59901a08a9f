"""Chats are handled concurrently, each chat's updates strictly in the order they came."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

from bot import metrics


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
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int | None, tuple[asyncio.Lock, int]] = {}
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
            async with lock:
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
