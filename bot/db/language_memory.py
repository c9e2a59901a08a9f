"""Which language a chat chose, stored under HMAC(secret, chat id) so the id is never kept.

Without the secret the stored keys cannot be linked back to a chat; losing the secret only
means every chat is asked for its language again.

A choice is kept in memory at once and written with the others in one transaction every few
seconds (like the counters): a burst of new users then costs SQLite one write, not hundreds
queued for its write lock. A crash loses at most the last interval's choices; those chats are
simply asked again. /forget is written at once: deleting must not wait. (Webhook replicas write
a chat's choice before Telegram gets the 200 for the update that made it; bot/db/claims.py.)

Several replicas each cache what they read; on PostgreSQL every write also sends the changed
keys (HMACs, never chat ids) with NOTIFY in its transaction, and the other replicas drop them
from their caches as it commits: a /forget or a new choice holds on every replica at once.

Lookups the cache cannot answer are read together (bot.db.batching.GroupCommit): while one read
is in flight, the chats that miss meanwhile wait for the next, which asks for all of them. A
restart that meets a backlog of a hundred new chats then costs the database a query or two,
not a hundred queued for the connection pool (with SQLite, each a round trip through a worker
thread that waits for the GIL while the event loop is busy: a second of stall in the bench).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable
from datetime import date

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot import metrics
from bot.db.batching import GroupCommit
from bot.db.engine import HeldConnection
from bot.db.models import LANG_LEN, ChatLanguage
from bot.db.notify import Listener, notify
from bot.stats.flushing import FlushLoop
from bot.stats.recorder import upsert_statement, utc_today

logger = logging.getLogger(__name__)

_MISSING = object()

# Bounds memory while the database is down; choices beyond it are kept in the cache only.
MAX_PENDING_CHOICES = 100_000
# Chats asked for in one statement: far below SQLite's and asyncpg's limits on parameters.
MAX_LOOKUP_BATCH = 500
# Built once: a statement made per batch costs its construction and cache key each time.
LOOKUP = (select(ChatLanguage.chat_key, ChatLanguage.lang)
          .where(ChatLanguage.chat_key.in_(bindparam("keys", expanding=True))))
CHANNEL = "jol_languages"  # payload: "<sender> <key>,<key>,…"
KEYS_PER_NOTIFY = 100  # 65 bytes a key: well under PostgreSQL's 8000-byte payload


def _cached(key: str) -> int:
    """How the cache names a chat key: its first 64 bits."""
    return int(key[:16], 16)


class LanguageMemory:
    """Remembers a chat's language; a bounded LRU cache keeps lookups off the database."""

    def __init__(
        self,
        engine: AsyncEngine,
        secret: bytes,
        cache_size: int = 10_000,
        today: Callable[[], date] = utc_today,
        flush_seconds: float = 2.0,
    ) -> None:
        if not secret:
            raise ValueError("the language-memory secret must not be empty")
        self._engine = engine
        # Insert or replace; raises ValueError for a database other than SQLite or PostgreSQL.
        self._upsert = upsert_statement(
            engine, ChatLanguage, ["chat_key"],
            lambda excluded: {"lang": excluded.lang, "updated_on": excluded.updated_on})
        self._secret = secret
        self._today = today
        self.cache_size = max(0, cache_size)
        # The first 64 bits of a chat key (HMAC) → language, or None when the database has
        # nothing for it: a 32-byte int, not the 113-byte hex string, for each of thousands of
        # chats (two chats of 10,000 share one with odds of 1 in 10^11; the cost: a language).
        # Only HMACs, like the database: a memory dump holds no chat ids either.
        self._cache: OrderedDict[int, str | None] = OrderedDict()
        self._pending: dict[str, str] = {}  # chat key → language chosen, not yet written
        self._write_lock = asyncio.Lock()  # a flush and a /forget never interleave
        # Lookups the cache cannot answer, read together (see the module's docstring).
        self._lookups: GroupCommit[str, str | None] = GroupCommit(self._read_batch)
        # Once started, the lookups' reads (one batch at a time) keep a connection: no pool
        # checkout and ping per batch.
        self._reading: HeldConnection | None = None
        self._sender = secrets.token_hex(8)  # tells our own notifications from the others'
        self._loop = FlushLoop(self.flush, flush_seconds, "jol-language-flush")

    def chat_key(self, chat_id: int) -> str:
        """Hex HMAC-SHA256 of the chat id: the only form in which a chat is ever stored."""
        return hmac.new(self._secret, str(chat_id).encode("ascii"), hashlib.sha256).hexdigest()

    def listen(self, listener: Listener) -> None:
        """Drop from the cache what other replicas change (PostgreSQL; nothing on SQLite)."""
        listener.subscribe(CHANNEL, self._changed_elsewhere, on_reconnect=self._cache.clear)

    def _changed_elsewhere(self, payload: str) -> None:
        sender, _, keys = payload.partition(" ")
        if sender != self._sender:
            for key in keys.split(","):
                with contextlib.suppress(ValueError):  # not a key: nothing of ours to drop
                    self._cache.pop(_cached(key), None)

    async def _tell_others(self, conn: AsyncConnection, keys: list[str]) -> None:
        for start in range(0, len(keys), KEYS_PER_NOTIFY):
            chunk = ",".join(keys[start : start + KEYS_PER_NOTIFY])
            await notify(conn, CHANNEL, f"{self._sender} {chunk}")

    def _remember(self, key: str, lang: str | None) -> None:
        if self.cache_size == 0:
            return
        slot = _cached(key)
        self._cache[slot] = lang
        self._cache.move_to_end(slot)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def get(self, chat_id: int) -> str | None:
        """The chat's remembered language, or None if it never chose one (or forgot)."""
        key = self.chat_key(chat_id)
        if key in self._pending:
            return self._pending[key]
        slot = _cached(key)
        cached = self._cache.get(slot, _MISSING)
        if cached is not _MISSING:
            self._cache.move_to_end(slot)
            return cached if isinstance(cached, str) else None
        lang = await self._lookups.submit(key)
        # A set() or forget() that finished while we read knows better than our old read.
        if slot not in self._cache and key not in self._pending:
            self._remember(key, lang)
        return lang

    async def _read_batch(self, keys: list[str]) -> list[str | None]:
        found = await self._read(sorted(set(keys)))  # a chat may be asked for twice
        return [found.get(key) for key in keys]

    async def _read(self, keys: list[str]) -> dict[str, str]:
        """The languages stored for these chat keys (keys without one are left out)."""
        found: dict[str, str] = {}
        reading = self._reading.begin() if self._reading else self._engine.connect()
        async with reading as conn:
            for start in range(0, len(keys), MAX_LOOKUP_BATCH):
                rows = await conn.execute(
                    LOOKUP, {"keys": keys[start : start + MAX_LOOKUP_BATCH]})
                found.update((key, lang) for key, lang in rows)
        return found

    def set(self, chat_id: int, lang: str) -> None:
        """Remember a chat's language now; it reaches the database with the next flush."""
        key = self.chat_key(chat_id)
        lang = lang[:LANG_LEN]
        if key in self._pending or len(self._pending) < MAX_PENDING_CHOICES:
            self._pending[key] = lang
        self._remember(key, lang)

    @property
    def pending(self) -> int:
        """Choices waiting for the next flush."""
        return len(self._pending)

    async def flush(self) -> int:
        """Write the pending choices (insert or replace, dated to the day) in one transaction.

        On a database error they stay pending for the next try; only the error's class is
        logged, never a key.
        """
        async with self._write_lock:
            if not self._pending:
                return 0
            batch, self._pending = self._pending, {}
            today = self._today()
            rows = [{"chat_key": key, "lang": lang, "updated_on": today}
                    for key, lang in sorted(batch.items())]  # one lock order for all writers
            try:
                async with self._engine.begin() as conn:
                    await conn.execute(self._upsert, rows)
                    await self._tell_others(conn, sorted(batch))
            except BaseException as exc:
                # Put back what no newer choice replaced meanwhile.
                self._pending = {**batch, **self._pending}
                if not isinstance(exc, Exception):
                    raise
                metrics.FLUSH_FAILURES.labels("languages").inc()
                logger.warning("language flush failed (%s); %d choices kept for the next try",
                               type(exc).__name__, len(batch))
                return 0
            return len(rows)

    async def forget(self, chat_id: int) -> bool:
        """Delete the chat's language (the /forget command); True if one was remembered."""
        key = self.chat_key(chat_id)
        # Drop it from memory first: even if the database fails, this process forgets.
        self._cache.pop(_cached(key), None)
        was_pending = self._pending.pop(key, None) is not None
        async with self._write_lock:  # not while a flush may be writing this very key
            # A failed flush puts its batch back: take the key out again.
            was_pending = self._pending.pop(key, None) is not None or was_pending
            async with self._engine.begin() as conn:
                result = await conn.execute(
                    delete(ChatLanguage).where(ChatLanguage.chat_key == key)
                )
                await self._tell_others(conn, [key])
        self._remember(key, None)
        return was_pending or bool(result.rowcount)

    async def start(self) -> None:
        """Get ready to serve (warm_up), and start writing choices in the background (once;
        a later call only warms up again)."""
        if self._reading is None:
            self._reading = HeldConnection(self._engine)
        await self.warm_up()
        await self._loop.start()

    async def warm_up(self) -> None:
        """One lookup (of chat 0, which no chat is) before the bot takes updates: it opens a
        pooled connection and compiles the statement, which the first chats would otherwise
        wait for (~10 ms). A database that fails it is no reason not to start: chats are
        served in Telegram's language meanwhile (bot.handlers.language)."""
        try:
            await self._lookups.submit(self.chat_key(0))
        except Exception as error:
            logger.warning("language memory: the warm-up read failed (%s)",
                           type(error).__name__)

    async def close(self) -> None:
        """Stop the background writes and write what is still pending (call at shutdown)."""
        await self._loop.close()
        if self._reading is not None:
            await self._reading.close()
            self._reading = None
