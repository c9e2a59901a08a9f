"""Which language a chat chose, stored under HMAC(secret, chat id) so the id is never kept.

Without the secret the stored keys cannot be linked back to a chat; losing the secret only
means every chat is asked for its language again.
"""

from __future__ import annotations

import hashlib
import hmac
from collections import OrderedDict
from collections.abc import Callable
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.stats.models import LANG_LEN, ChatLanguage
from bot.stats.recorder import utc_today

_MISSING = object()


class LanguageMemory:
    """Remembers a chat's language; a bounded LRU cache keeps lookups off the database."""

    def __init__(
        self,
        engine: AsyncEngine,
        secret: bytes,
        cache_size: int = 10_000,
        today: Callable[[], date] = utc_today,
    ) -> None:
        if not secret:
            raise ValueError("the language-memory secret must not be empty")
        if engine.dialect.name not in ("sqlite", "postgresql"):
            name = engine.dialect.name
            raise ValueError(f"language memory needs SQLite or PostgreSQL, not {name!r}")
        self._engine = engine
        self._secret = secret
        self._today = today
        self.cache_size = max(0, cache_size)
        # chat key (HMAC) → language, or None when the database has nothing for it.
        # Only HMACs, like the database: a memory dump holds no chat ids either.
        self._cache: OrderedDict[str, str | None] = OrderedDict()

    def chat_key(self, chat_id: int) -> str:
        """Hex HMAC-SHA256 of the chat id: the only form in which a chat is ever stored."""
        return hmac.new(self._secret, str(chat_id).encode("ascii"), hashlib.sha256).hexdigest()

    def _remember(self, key: str, lang: str | None) -> None:
        if self.cache_size == 0:
            return
        self._cache[key] = lang
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def get(self, chat_id: int) -> str | None:
        """The chat's remembered language, or None if it never chose one (or forgot)."""
        key = self.chat_key(chat_id)
        cached = self._cache.get(key, _MISSING)
        if cached is not _MISSING:
            self._cache.move_to_end(key)
            return cached if isinstance(cached, str) else None
        async with self._engine.connect() as conn:
            lang = await conn.scalar(
                select(ChatLanguage.lang).where(ChatLanguage.chat_key == key)
            )
        # A set() or forget() that finished while we read knows better than our old read.
        if key not in self._cache:
            self._remember(key, lang)
        return lang

    async def set(self, chat_id: int, lang: str) -> None:
        """Remember a chat's language (insert or replace), dated to the day only."""
        key = self.chat_key(chat_id)
        lang = lang[:LANG_LEN]
        values = {"chat_key": key, "lang": lang, "updated_on": self._today()}
        insert = sqlite.insert if self._engine.dialect.name == "sqlite" else postgresql.insert
        statement = insert(ChatLanguage).values(values)
        statement = statement.on_conflict_do_update(
            index_elements=["chat_key"],
            set_={"lang": statement.excluded.lang, "updated_on": statement.excluded.updated_on},
        )
        async with self._engine.begin() as conn:
            await conn.execute(statement)
        self._remember(key, lang)

    async def forget(self, chat_id: int) -> bool:
        """Delete the chat's language (the /forget command); True if one was stored."""
        key = self.chat_key(chat_id)
        # Drop the cache entry first: even if the database fails, this process forgets.
        self._cache.pop(key, None)
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(ChatLanguage).where(ChatLanguage.chat_key == key))
        self._remember(key, None)
        return bool(result.rowcount)
