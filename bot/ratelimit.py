"""Telegram's flood limits: wait out every 429 and retry, so no answer is ever lost.

A 429 says how long to wait, not for whom. Telegram limits each chat (about one message a
second in a private chat, twenty a minute in a group) and the bot as a whole (about thirty a
second). So a 429 on a call to one chat holds back only that chat's calls: one busy group must
not delay a private user's SOS. When 429s hit several different chats within a second
(GLOBAL_AFTER_CHATS), the overall limit is the likely cause, and every call waits: until the
limit, thirty messages in any second, has room again by the bot's own count of what it sent
(Telegram rounds retry_after up to whole seconds, so that is often half a second sooner, and
never more than a second), or failing such a count the whole retry_after; the refused calls
wait all of theirs. A 429 on a call without a chat (setMyCommands, answerCallbackQuery)
waits out only that call.

The proactive cap on messages per second is off by default: Telegram itself says when to slow
down, and a fixed 30/s cap would throttle a busy bot that Telegram would have let through (a
campaign's 200 first contacts a second would wait in line). Operators who prefer to stay under
the limit set JOL_MAX_MESSAGES_PER_SECOND; then no crowd meets Telegram's first hold, in which
an SOS waits what is left of that second. The cap paces only what Telegram counts
(MESSAGE_METHODS: new messages), never an edit or a button's answer, so a press stays instant.

While every chat waits (after 429s for several chats, or for the proactive cap), the calls
queue and are let go most urgent first, then in the order they came (bot.urgency: SOS and
the help screens, then first contacts, then the rest), a retried call keeping its place: a
person pressing SOS waits for the next free moment, not behind hundreds of /starts. Nothing
is dropped. A chat held by its own 429 waits outside the queue, so it never holds it up.
After such a hold, the calls of the methods Telegram refused are let go one by one at the
overall limit (PACE, or the proactive cap when set), not all at once: a crowd let go at once
would meet the limit again, and the SOS coming next would wait out another hold. Once nobody
has waited for a second, calls go straight out again. The proactive cap paces the same way,
without bursts.

At shutdown (`stop_waiting`), calls stop waiting for their turn and give up with the 429 they
had, so SIGTERM ends in seconds even while Telegram keeps answering 429.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import timedelta
from heapq import heappop, heappush
from typing import Any

from aiolimiter import AsyncLimiter
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot import metrics, urgency

log = logging.getLogger(__name__)

JSONResult = bool | dict[str, Any] | list[dict[str, Any]]

# Enough to outlast a burst: each retry waits as long as Telegram asks.
MAX_RETRIES = 20
# 429s for this many different chats within one second mean the bot's overall limit.
GLOBAL_AFTER_CHATS = 3
PACE = 30  # messages a second after such a hold: Telegram's overall limit, as it states it
# The calls that make a new message: what Telegram's overall limit counts.
MESSAGE_METHODS = frozenset({
    "sendMessage", "sendPhoto", "sendDocument", "sendVideo", "sendAudio", "sendVoice",
    "sendAnimation", "sendSticker", "sendLocation", "sendContact", "sendMediaGroup",
    "copyMessage", "copyMessages", "forwardMessage", "forwardMessages", "createForumTopic",
})


def retry_seconds(error: RetryAfter) -> float:
    wait = error.retry_after  # a timedelta once PTB_TIMEDELTA is set (see cli.main)
    return wait.total_seconds() if isinstance(wait, timedelta) else float(wait)


Queue = list[tuple[int, int, "asyncio.Future[bool]"]]  # a heap: (urgency, arrival, turn)


class FloodControl(BaseRateLimiter[int]):
    def __init__(self, max_messages_per_second: float = 0,
                 max_retries: int = MAX_RETRIES) -> None:
        self.max_retries = max_retries
        self._all_until = 0.0  # loop time until which every call waits
        self._chat_until: dict[int | str, float] = {}  # chat -> loop time it may send again
        self._recent_429s: dict[int | str, float] = {}  # chat -> loop time of its last 429
        # Calls waiting for their turn, most urgent first, then by arrival (unique, so the
        # futures are never compared); a turn is True, or False at shutdown. Apart: the calls
        # the pace applies to, and the rest, let go at once when nothing holds.
        self._paced: Queue = []
        self._unpaced: Queue = []
        self._arrivals = itertools.count()
        self._releaser: asyncio.Task[None] | None = None
        # One call every 1/rate s, without bursts (a burst would meet the limit again): for
        # every new message under the proactive cap; after a hold of every chat, until nothing
        # waits, also for the methods Telegram refused then.
        self._pace = AsyncLimiter(1, 1 / (max_messages_per_second or PACE))
        self._capped = max_messages_per_second > 0
        self._refused: set[str] = set()  # methods refused by a hold of every chat
        self._refused_until = 0.0  # loop time until which those are paced, at least
        self._sent: deque[float] = deque(maxlen=PACE)  # when the last new messages went out
        self._waiting = 0  # calls in _my_turn: only those that wait are ever seen there
        self._stopping = asyncio.Event()

    async def initialize(self) -> None:
        self._stopping.clear()

    async def shutdown(self) -> None:
        self.stop_waiting()

    def stop_waiting(self) -> None:
        """Shutdown: calls that wait for a 429 to pass give up instead."""
        self._stopping.set()
        for queue in (self._paced, self._unpaced):
            while queue:
                turn = heappop(queue)[-1]
                if not turn.done():
                    turn.set_result(False)

    def _hold(self, chat: int | str | None, seconds: float, endpoint: str) -> None:
        now = asyncio.get_running_loop().time()
        if chat is None:
            return  # only the call itself waits (see process_request)
        self._chat_until[chat] = max(self._chat_until.get(chat, 0.0), now + seconds)
        self._recent_429s[chat] = now
        for other, when in list(self._recent_429s.items()):
            if now - when > 1.0:
                del self._recent_429s[other]
        if len(self._recent_429s) >= GLOBAL_AFTER_CHATS:
            self._all_until = max(self._all_until, now + self._everyones_wait(now, seconds))
            self._refused.add(endpoint)
            self._refused_until = max(self._refused_until, self._all_until + 1.0)

    def _everyones_wait(self, now: float, seconds: float) -> float:
        """How long every chat waits once the overall limit is met. Telegram's retry_after is
        whole seconds, rounded up, and it is for the call refused (that one waits all of it).
        When the last PACE new messages all went out within the last second, the overall
        limit as Telegram states it has room again a second after the first of them: often
        well before, and an SOS waiting meanwhile goes then. That saves at most the rounding,
        under a second: a longer wait says what the bot's count cannot see (a penalty for
        repeated floods, another process on the same token). Else the whole retry_after."""
        if len(self._sent) == PACE and now - self._sent[0] < 1.0:
            return max(seconds - 1.0, min(seconds, self._sent[0] + 1.0 - now))
        return seconds

    @property
    def holding_everyone(self) -> bool:
        """Every chat's calls wait their turn now (a hold of all chats, or the pace after one,
        or the proactive cap): the bot is at Telegram's overall limit."""
        return (self._all_until > asyncio.get_running_loop().time()
                or bool(self._paced or self._unpaced))

    @property
    def waiting(self) -> int:
        """Calls waiting for their turn: for a 429 to pass, or for the cap."""
        return self._waiting

    async def _wait_until(self, when: float) -> bool:
        """Sleep until loop time `when`; False if shutdown interrupted the wait."""
        delay = when - asyncio.get_running_loop().time()
        if delay <= 0:
            return True
        try:
            async with asyncio.timeout(delay):
                await self._stopping.wait()
        except TimeoutError:
            return True
        return False

    async def _my_turn(self, chat: int | str | None, endpoint: str,
                       rank: tuple[int, int]) -> bool:
        self._waiting += 1
        try:
            return await self._wait_for_turn(chat, endpoint, rank)
        finally:
            self._waiting -= 1

    async def _wait_for_turn(self, chat: int | str | None, endpoint: str,
                             rank: tuple[int, int]) -> bool:
        while True:
            loop = asyncio.get_running_loop()
            held = self._chat_until.get(chat, 0.0) if chat is not None else 0.0
            if held > loop.time() and held > self._all_until:
                # Only this chat waits; a hold no longer than every chat's is waited in the
                # queue, so that the call keeps its place in it.
                if not await self._wait_until(held):
                    return False
                continue
            # The pace counts messages to chats.
            paced = chat is not None and (
                (self._capped and endpoint in MESSAGE_METHODS) or self._still_refused(endpoint))
            if not await self._shared_turn(rank, paced):
                return False
            if chat is None:
                return True
            if self._chat_until.get(chat, 0.0) <= loop.time():
                self._chat_until.pop(chat, None)
                return True

    def _still_refused(self, endpoint: str) -> bool:
        """A method refused by a hold of every chat is paced while its calls wait and for a
        second after: a queue that empties for a moment mid-flood must not let the next crowd
        out at once, into another hold."""
        if endpoint not in self._refused:
            return False
        if self._paced or asyncio.get_running_loop().time() < self._refused_until:
            return True
        self._refused.clear()  # calls go straight out again
        return False

    async def _shared_turn(self, rank: tuple[int, int], paced: bool) -> bool:
        """Straight on when nothing holds every chat and nobody waits before; else the turn
        the queue gives."""
        loop = asyncio.get_running_loop()
        if self._stopping.is_set():  # no more queueing or pacing; held: give up
            return self._all_until <= loop.time()
        queue = self._paced if paced else self._unpaced
        if not queue and self._all_until <= loop.time() and (
                not paced or self._pace.has_capacity()):
            if paced:
                await self._pace.acquire()  # at once: it has capacity
            return True
        turn: asyncio.Future[bool] = loop.create_future()
        heappush(queue, (*rank, turn))
        if self._releaser is None or self._releaser.done():
            self._releaser = loop.create_task(self._release())
        return await turn

    async def _release(self) -> None:
        """Gives the waiting calls their turn whenever every chat may send, most urgent first:
        the paced ones one by one as the pace allows, the rest at once."""
        reserved = False  # the pace has room for the next paced call
        while (self._paced or self._unpaced) and not self._stopping.is_set():
            if self._all_until > asyncio.get_running_loop().time():
                await self._wait_until(self._all_until)
                continue  # more urgent calls may have come meanwhile, or the hold grown
            while self._unpaced:
                _go(heappop(self._unpaced)[-1])
            while self._paced and self._paced[0][-1].done():  # its caller was cancelled
                heappop(self._paced)
            if not self._paced:
                continue
            if not reserved:
                await self._pace.acquire()
                reserved = True
                continue  # whoever is first now gets the room
            _go(heappop(self._paced)[-1])
            reserved = False
        # nobody waits: see _still_refused
        self._refused_until = max(self._refused_until, asyncio.get_running_loop().time() + 1.0)

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, JSONResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> JSONResult:
        raw_chat = data.get("chat_id")
        chat = raw_chat if isinstance(raw_chat, int | str) else None
        retries = self.max_retries if rate_limit_args is None else rate_limit_args
        rank = (urgency.current(), next(self._arrivals))  # kept across retries
        attempt = 0
        last_error: RetryAfter | None = None
        while True:
            if not await self._my_turn(chat, endpoint, rank) and last_error is not None:
                raise last_error  # shutting down: give up rather than wait
            try:
                result = await callback(*args, **kwargs)
            except RetryAfter as error:
                metrics.RATE_LIMITED.inc()
                last_error = error
                attempt += 1
                if attempt > retries or self._stopping.is_set():
                    raise
                seconds = retry_seconds(error)
                log.info("Telegram asked to wait %.0f s (%s)", seconds,
                         "one chat" if chat is not None else endpoint)
                self._hold(chat, seconds, endpoint)
                if chat is None and not await self._wait_until(
                        asyncio.get_running_loop().time() + seconds):
                    raise
            else:
                if endpoint in MESSAGE_METHODS:
                    self._sent.append(asyncio.get_running_loop().time())
                return result


def _go(turn: asyncio.Future[bool]) -> None:
    if not turn.done():  # not if its caller was cancelled
        turn.set_result(True)
