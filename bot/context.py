"""The typed context every handler gets: content, texts, stats and memory as properties."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from telegram import Update
from telegram.ext import Application, CallbackContext, ExtBot

from bot.buttons import Button
from bot.content.model import ContentSnapshot
from bot.content.store import ContentStore
from bot.events import Event
from bot.i18n import Texts
from bot.languages import DEFAULT_LANGUAGE
from bot.settings import Settings

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.content.versions import ContentVersions
    from bot.db.language_memory import LanguageMemory
    from bot.db.notify import Listener
    from bot.handoff.relay import Handoff
    from bot.stats.recorder import CounterRow, StatsRecorder


# "Clear this chat" deletes at most this many ids below the newest (ten deleteMessages calls).
CLEARABLE_SPAN = 1000


class RecentMessages:
    """Per chat, the oldest and newest message ids seen, the bot's and the user's, for "clear
    this chat": in a private chat both sides share one sequence of ids, so every id between
    them is this conversation's (bot.handlers.safety).

    In memory only and bounded: the ids never reach the database or the logs, and a restart
    forgets them (Telegram lets a bot delete its messages for 48 hours anyway). One int per
    chat, however long the conversation: 20,000 chats take ~3 MB.
    """

    def __init__(self, max_chats: int = 20_000, span: int = CLEARABLE_SPAN) -> None:
        # chat id → newest * (span + 1) + (newest - oldest), the distance capped at span
        self._chats: OrderedDict[int, int] = OrderedDict()
        self.max_chats = max_chats
        self.span = span

    def add(self, chat_id: int, message_id: int) -> None:
        packed = self._chats.pop(chat_id, None)
        newest = oldest = message_id
        if packed is not None:
            seen_newest, back = divmod(packed, self.span + 1)
            newest = max(seen_newest, message_id)
            oldest = min(seen_newest - back, message_id)
        self._chats[chat_id] = newest * (self.span + 1) + min(newest - oldest, self.span)
        while len(self._chats) > self.max_chats:
            self._chats.popitem(last=False)

    def pop(self, chat_id: int) -> range:
        """The ids from the oldest seen (at most `span` below the newest) to the newest."""
        packed = self._chats.pop(chat_id, None)
        if packed is None:
            return range(0)
        newest, back = divmod(packed, self.span + 1)
        return range(newest - back, newest + 1)


@dataclass
class Services:
    """Everything handlers share, built once per Application."""

    settings: Settings
    content: ContentStore
    engine: AsyncEngine
    stats: StatsRecorder
    memory: LanguageMemory
    recent: RecentMessages = field(default_factory=RecentMessages)
    handoff: Handoff | None = None  # talk to a person; None when JOL_CASEWORK_CHAT_ID is unset
    # Signs the workspace's sign-in links and CSRF tokens (bot.workspace.auth.workspace_key).
    workspace_key: bytes = field(default=b"", repr=False)
    # PostgreSQL LISTEN/NOTIFY for this process (a no-op on SQLite); subscribe before or after
    # start. None only for parts built by tests without open_services.
    listener: Listener | None = None
    versions: ContentVersions | None = None  # content versions; None when serving the folder

    async def write_pending(self, write: Callable[[list[CounterRow]], Awaitable[object]]
                            ) -> None:
        """Write the language choices waiting in memory now, then hand the counts waiting to
        `write`, which stores them with what must commit together (bot/db/claims.py)."""
        await self.memory.flush()
        await self.stats.flush_with(write)


class JolContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[Any, Any]]):
    """Created once per update; the language middleware sets `lang` before features run."""

    def __init__(self, application: Application[Any, Any, Any, Any, Any, Any],
                 chat_id: int | None = None, user_id: int | None = None) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.lang: str | None = None  # None: not known yet, the user is asked
        self.button: Button | None = None  # the pressed button; None: no press, or stale data
        self.callback_answered = False  # a button press is answered once (screens.py)

    @classmethod
    def from_update(cls, update: object,
                    application: Application[Any, Any, Any, Any, Any, Any]) -> JolContext:
        """The context of one update, with a pressed button's data parsed once, here."""
        context = super().from_update(update, application)
        if isinstance(update, Update) and update.callback_query is not None:
            context.button = Button.parse(update.callback_query.data)
        return context

    @property
    def services(self) -> Services:
        services: Services = self.application.bot_data["services"]
        return services

    @property
    def content(self) -> ContentSnapshot:
        return self.services.content.snapshot

    @property
    def texts(self) -> Texts:
        return self.content.catalogs.texts(self.lang or DEFAULT_LANGUAGE)

    @property
    def stats(self) -> StatsRecorder:
        return self.services.stats

    def count(self, event: Event, key: str = "", source: str = "") -> None:
        """Count an anonymous event in the current language; never blocks the reply.

        The chat id only passes the in-memory daily cap (bot.stats.cap); it is never stored."""
        self.services.stats.count(event, key, self.lang or "", source, chat=self._chat_id)
