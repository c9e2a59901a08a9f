"""Telegram's flood limits: wait out every 429 and retry, so no answer is ever lost.

PTB's AIORateLimiter does the waiting (a 429 pauses all requests for `retry_after`). Its
proactive cap on messages per second is off by default: Telegram itself says when to slow down,
and a fixed 30/s cap would throttle a busy bot that Telegram would have let through. Operators
who prefer to stay under the limit set JOL_MAX_MESSAGES_PER_SECOND.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

from bot import metrics

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]

# Enough to outlast a burst: each retry waits as long as Telegram asks.
MAX_RETRIES = 20


class FloodControl(AIORateLimiter):
    def __init__(self, max_messages_per_second: float = 0) -> None:
        super().__init__(overall_max_rate=max_messages_per_second, max_retries=MAX_RETRIES)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        async def counted(*call_args: Any, **call_kwargs: Any) -> JSONResult:
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter:
                metrics.RATE_LIMITED.inc()
                raise

        return await super().process_request(counted, args, kwargs, endpoint, data,
                                              rate_limit_args)
