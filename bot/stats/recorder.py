"""Anonymous event counters: counted in memory on the hot path, written in batches.

A reply never waits for the database: `count()` only bumps a dict entry. A background task
writes the pending counts every `flush_seconds` with atomic UPSERTs, so concurrent writers
(tasks, processes, replicas) never lose an increment. A crash loses at most the counts of
the last flush interval (plus any kept while the database was unreachable).

Counts that come with a chat pass the daily cap first (bot.stats.cap): a chat adds at most 1
to a cell and to at most `cap` cells a day, the bound the noisy release relies on. Words of
failed searches also wait in memory until enough different chats typed them that day
(bot.stats.gaps); below that they are never written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from sqlalchemy.ext.asyncio import AsyncEngine

from bot import metrics
from bot.db.models import KEY_LEN, LANG_LEN, SOURCE_LEN, Counter
from bot.events import GAP, Event, declared
from bot.stats.cap import DailyCap
from bot.stats.flushing import FlushLoop
from bot.stats.gaps import GapGate

logger = logging.getLogger(__name__)

CounterKey = tuple[date, str, str, str, str]  # day, event, key, lang, source


class CounterRow(NamedTuple):
    """One counter to add to, as written: the columns of `counters`."""

    day: date
    event: str
    key: str
    lang: str
    source: str
    amount: int  # added to the column `count`

# Bounds memory while the database is down: "gap" keys come from user input, so the number
# of distinct keys is not naturally limited. Counts for new keys beyond this are dropped.
MAX_PENDING_KEYS = 100_000


# While a claimed update is handled (bot/db/claims.py), its counts wait here and join the
# pending ones only when it is done: a flush in between would otherwise write the counts of an
# update that a crash then hands to another replica, which counts it again.
_held: ContextVar[list[Callable[[], None]] | None] = ContextVar("held_counts", default=None)


@contextmanager
def holding_counts() -> Iterator[list[Callable[[], None]]]:
    """Counts made in this block (and tasks it starts) are kept back: call each to count it."""
    held: list[Callable[[], None]] = []
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)


def utc_today() -> date:
    """Today's date in UTC: counters are per day, never finer."""
    return datetime.now(UTC).date()


def upsert_statement(engine: AsyncEngine, model: Any, keys: list[str],
                     update: Callable[[Any], dict[str, Any]]) -> Any:
    """INSERT … ON CONFLICT (keys) DO UPDATE SET update(excluded), on SQLite or PostgreSQL:
    an atomic write that concurrent writers (tasks, processes, replicas) cannot interleave."""
    dialect = engine.dialect.name
    insert: Any  # the two dialects' Insert classes share the on-conflict API, not a base
    # Each dialect imported when used: PostgreSQL's package loads every driver's module
    # (~2 MB) that a bot on SQLite never needs.
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite
        insert = sqlite.insert(model)
    elif dialect == "postgresql":
        from sqlalchemy.dialects import postgresql
        insert = postgresql.insert(model)
    else:
        raise ValueError(f"Jol's database must be SQLite or PostgreSQL, not {dialect!r}")
    return insert.on_conflict_do_update(index_elements=keys, set_=update(insert.excluded))


class StatsRecorder:
    """Counts (day, event, key, lang, source) in memory and flushes them in batches."""

    def __init__(
        self,
        engine: AsyncEngine,
        flush_seconds: float = 2.0,
        today: Callable[[], date] = utc_today,
        *,
        cap: int = 4,
        gap_threshold: int = 5,
    ) -> None:
        self._engine = engine
        self._cap = DailyCap(cap)
        self._gaps = GapGate(gap_threshold)
        # count = counters.count + excluded.count
        self._statement = upsert_statement(
            engine, Counter, ["day", "event", "key", "lang", "source"],
            lambda excluded: {"count": Counter.count + excluded["count"]})
        self._loop = FlushLoop(self.flush, flush_seconds, "jol-stats-flush")
        self._today = today
        self._pending: dict[CounterKey, int] = {}
        self._oldest: float | None = None  # monotonic time of the oldest unflushed count
        self._flush_lock = asyncio.Lock()

    def count(self, event: Event, key: str = "", lang: str = "", source: str = "",
              *, chat: int | None = None) -> None:
        """Add one to a counter in memory; O(1), never touches the database or raises on input
        (an event missing from bot/events.py is a programming mistake, and raises).

        With `chat`, the count passes the daily cap first and may be dropped.
        """
        held = _held.get()
        if held is not None:
            held.append(lambda: self.count(event, key, lang, source, chat=chat))
            return
        name = declared(event).name  # declared names fit EVENT_LEN (tests/test_events.py)
        key, lang = key[:KEY_LEN], (lang[:LANG_LEN] if event.per_language else "")
        if chat is not None and not self._admit(chat, (name, key, lang)):
            return
        self._add((self._today(), name, key, lang, source[:SOURCE_LEN]), 1)

    def count_gap_words(self, chat: int, words: list[str]) -> None:
        """Count words of a failed search; written only once enough chats typed them today."""
        held = _held.get()
        if held is not None:
            held.append(lambda: self.count_gap_words(chat, words))
            return
        for word in words:
            word = word[:KEY_LEN]
            if self._admit(chat, (GAP.name, word, "")):
                n = self._gaps.admit(word)
                if n:
                    self._add((self._today(), GAP.name, word, "", ""), n)

    def _admit(self, chat: int, cell: tuple[str, str, str]) -> bool:
        self._roll_day()
        return self._cap.admit(chat, cell)

    def _roll_day(self) -> None:
        """At UTC midnight: a new cap key, and yesterday's words below the threshold gone."""
        if self._cap.new_day(self._today()):
            self._gaps.new_day()

    def _add(self, counter: CounterKey, n: int) -> None:
        pending = self._pending
        if counter in pending:
            pending[counter] += n
            return
        if len(pending) >= MAX_PENDING_KEYS:
            metrics.STATS_DROPPED.inc(n)
            return
        pending[counter] = n
        if self._oldest is None:
            self._oldest = time.monotonic()

    @property
    def gap_words_waiting(self) -> int:
        """Words of today's failed searches held in memory (tests see them forgotten)."""
        return self._gaps.tracked

    @property
    def pending(self) -> int:
        """Distinct counters waiting for the next flush."""
        return len(self._pending)

    @property
    def last_flush_lag(self) -> float:
        """Seconds since the oldest unflushed count (0 when nothing waits): a health metric."""
        if self._oldest is None:
            return 0.0
        return max(0.0, time.monotonic() - self._oldest)

    async def start(self) -> None:
        """Start the background flush loop (once; later calls do nothing)."""
        await self._loop.start()

    async def flush(self) -> int:
        """Write pending counts in one transaction; returns how many counters were written.

        On a database error the counts go back to memory for the next try; only the error's
        class is logged, never the counted data.
        """
        async def write(rows: list[CounterRow]) -> None:
            async with self._engine.begin() as conn:
                await conn.execute(self._statement, [
                    {"day": r.day, "event": r.event, "key": r.key, "lang": r.lang,
                     "source": r.source, "count": r.amount} for r in rows])

        self._roll_day()  # also when nobody counts: memory forgets on time, not on next use
        if not self._pending:
            return 0
        try:
            return await self.flush_with(write)
        except Exception as exc:
            metrics.FLUSH_FAILURES.labels("counters").inc()
            logger.warning("stats flush failed (%s); %d counters kept for the next try",
                           type(exc).__name__, len(self._pending))
            return 0

    async def flush_with(self, write: Callable[[list[CounterRow]], Awaitable[object]]) -> int:
        """Hand the pending counts (maybe none) to `write`, which stores them, and with them
        what must commit together (the update claims' done marks: bot/db/claims.py). If it
        raises, the counts go back to memory and the error is the caller's."""
        async with self._flush_lock:
            batch, self._pending = self._pending, {}
            oldest, self._oldest = self._oldest, None
            # One order for every writer, so concurrent transactions lock rows in the same
            # order and PostgreSQL cannot deadlock between two flushes.
            rows = [CounterRow(*counter, n) for counter, n in sorted(batch.items())]
            try:
                await write(rows)
            except BaseException:
                self._restore(batch, oldest)
                raise
            return len(rows)

    def _restore(self, batch: dict[CounterKey, int], oldest: float | None) -> None:
        """Merge an unwritten batch back with anything counted meanwhile."""
        for counter, n in batch.items():
            self._pending[counter] = self._pending.get(counter, 0) + n
        if oldest is not None and (self._oldest is None or oldest < self._oldest):
            self._oldest = oldest

    async def close(self) -> None:
        """Stop the flush loop and write everything still pending (call at shutdown)."""
        await self._loop.close()
        if self._pending:
            logger.error(
                "stats: %d counters could not be written at shutdown and are lost",
                len(self._pending),
            )
