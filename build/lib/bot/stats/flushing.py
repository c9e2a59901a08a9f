"""A background loop that writes batched data every few seconds, and once more at close.

The statistics and the remembered languages both write this way: the hot path only touches
memory, and each process runs one transaction per interval instead of one per user action, so
writers do not queue behind each other for SQLite's single write lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)


class FlushLoop:
    """Calls `flush` every `seconds` until closed; close() flushes one last time."""

    def __init__(self, flush: Callable[[], Awaitable[object]], seconds: float, name: str) -> None:
        if seconds <= 0:
            raise ValueError("the flush interval must be positive")
        self._flush = flush
        self.seconds = seconds
        self._name = name
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the loop (once; later calls do nothing)."""
        if self._task is not None and not self._task.done():
            return
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def _run(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):  # timeout: time to flush
                await asyncio.wait_for(self._stopping.wait(), timeout=self.seconds)
            try:
                await self._flush()
            except Exception as error:  # a flush handles its own database errors; never die
                # The class only: a database error's message and traceback can hold the
                # statement's values (chat keys, counted words).
                logger.error("%s: flush failed (%s)", self._name, type(error).__name__)

    async def close(self) -> None:
        """Stop the loop and flush what is still pending."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping.set()
            await task
        await self._flush()
