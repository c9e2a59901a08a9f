"""The Bot API side of the handoff: forum topics, copies, notes, and Telegram's errors.

Every message crosses by copyMessage, never forwardMessage (a forward carries at least the
sender's display name), and every copy carries protect_content, so nobody in the group (or
holding a caseworker's phone) can forward or save it. What the bot itself writes into the
group — topic names, notes — holds the case code and its language only.
"""

from __future__ import annotations

import html
import logging
import time
import warnings
from collections import deque
from typing import TYPE_CHECKING

from telegram import InlineKeyboardMarkup, Message
from telegram.error import BadRequest, Forbidden, TelegramError
from telegram.warnings import PTBUserWarning

from bot.handoff.crypto import CaseKeys
from bot.handoff.store import CaseBook, OpenCase
from bot.i18n import texts

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine
    from telegram import Bot

    from bot.settings import Casework

log = logging.getLogger(__name__)

# The group check reads Telegram's raw answers (only four fields of them are needed; parsing
# them into ChatFullInfo / ChatMember objects would break on every new Bot API field).
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.(getChat|getChatMember)'",
                        category=PTBUserWarning)

RATE_WINDOW = 60.0  # seconds
RATE_LIMIT = 20  # messages one case may relay per window; more are refused and the user told
NEEDED_RIGHTS = ("can_manage_topics", "can_delete_messages")
CASEWORK_LANG = "ru"  # the language of what the bot writes into the group (docs/caseworkers.md)


class GroupUnusable(Exception):
    """The caseworkers' group cannot take the message: gone, not a forum, or rights lost."""


def _unusable(error: TelegramError) -> bool:
    reason = error.message.lower()
    return isinstance(error, Forbidden) or any(sign in reason for sign in (
        "not enough rights", "chat not found", "not a forum", "chat_admin_required",
        "have no rights", "topic_closed"))


def topic_name(code: str, lang: str) -> str:
    """All a topic's name says: the code and the case's language."""
    return f"{code} · {lang}"


class CaseRate:
    """At most RATE_LIMIT relayed messages per case per RATE_WINDOW, in memory."""

    def __init__(self, limit: int = RATE_LIMIT, window: float = RATE_WINDOW) -> None:
        self.limit = limit
        self.window = window
        self._sent: dict[str, deque[float]] = {}

    def admit(self, code: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        times = self._sent.setdefault(code, deque())
        while times and now - times[0] >= self.window:
            times.popleft()
        if len(times) >= self.limit:
            return False
        times.append(now)
        if len(self._sent) > 10_000:  # bounded: forget quiet cases
            self._sent = {c: t for c, t in self._sent.items() if t}
        return True


class Handoff:
    """Everything the handlers need for cases: the book, the group, the health of both."""

    def __init__(self, casework: Casework, engine: AsyncEngine, retention_days: int) -> None:
        self.casework = casework
        self.group = casework.chat_id
        self.book = CaseBook(engine, CaseKeys(casework.key))
        self.retention_days = retention_days
        self.rate = CaseRate()
        self.problem: str | None = None  # why the group is unusable, for /healthz
        # Lookups of chats with an open case seen by this process: when the database is down
        # they are told their message was not passed on, instead of it going to search.
        self._open_here: set[str] = set()

    # ---- health -----------------------------------------------------------------------------

    def _lost(self, error: TelegramError) -> None:
        self.problem = f"caseworkers' group unusable: {error.message}"
        log.error("handoff: the caseworkers' group refused the bot (%s); check JOL_CASEWORK_"
                  "CHAT_ID and the bot's admin rights (README, Talk to a person)", error.message)

    async def check(self, bot: Bot) -> str | None:
        """Ask Telegram whether the group is a forum and the bot may manage its topics."""
        try:
            chat = await bot.do_api_request("getChat", api_kwargs={"chat_id": self.group})
            member = await bot.do_api_request("getChatMember", api_kwargs={
                "chat_id": self.group, "user_id": bot.id})
        except TelegramError as error:
            self._lost(error)
            return self.problem
        missing = [right for right in NEEDED_RIGHTS if not member.get(right)]
        if not chat.get("is_forum"):
            self.problem = "caseworkers' group has topics turned off"
        elif member.get("status") not in ("administrator", "creator"):
            self.problem = "the bot is not an administrator of the caseworkers' group"
        elif missing and member.get("status") != "creator":
            self.problem = f"the bot lacks {', '.join(missing)} in the caseworkers' group"
        else:
            self.problem = None
        if self.problem:
            log.error("handoff: %s (README, Talk to a person)", self.problem)
        return self.problem

    # ---- which chats are in a case (a hint for database outages) ------------------------------

    def seen_open(self, chat_id: int, is_open: bool) -> None:
        lookup = self.book.keys.lookup(chat_id)
        if is_open:
            self._open_here.add(lookup)
        else:
            self._open_here.discard(lookup)

    def maybe_open(self, chat_id: int) -> bool:
        return self.book.keys.lookup(chat_id) in self._open_here

    # ---- the group --------------------------------------------------------------------------

    async def new_topic(self, bot: Bot, code: str, lang: str) -> int:
        try:
            topic = await bot.create_forum_topic(self.group, topic_name(code, lang))
        except TelegramError as error:
            if _unusable(error):
                self._lost(error)
                raise GroupUnusable(error.message) from None
            raise
        self.problem = None
        return topic.message_thread_id

    async def note(self, bot: Bot, topic_id: int, text: str) -> None:
        """The bot's own line in a topic (plain text, escaped); a failure is only logged."""
        try:
            await bot.send_message(self.group, html.escape(text), message_thread_id=topic_id,
                                   protect_content=True)
        except TelegramError as error:
            log.warning("handoff: a note could not be posted (%s)", error.message)

    async def drop_topic(self, bot: Bot, topic_id: int) -> bool:
        """Delete a topic with all its messages; True when it is gone (also if it already was)."""
        try:
            await bot.delete_forum_topic(self.group, topic_id)
        except BadRequest as error:
            reason = error.message.lower()
            if "topic_id_invalid" in reason or "thread not found" in reason:
                return True
            if _unusable(error):
                self._lost(error)
            else:
                log.warning("handoff: a topic could not be deleted (%s)", error.message)
            return False
        except TelegramError as error:
            if _unusable(error):
                self._lost(error)
            return False
        return True

    async def to_topic(self, bot: Bot, case: OpenCase, message: Message) -> OpenCase:
        """Copy the user's message into the case's topic; a deleted topic is made anew (the
        case, with its new topic, is returned). GroupUnusable when the group refuses."""
        try:
            try:
                await self._copy_in(bot, case, message)
            except BadRequest as error:
                if "thread not found" not in error.message.lower():
                    raise
                topic_id = await self.new_topic(bot, case.code, case.lang)
                await self.book.move_topic(case.code, topic_id)
                case = OpenCase(case.code, topic_id, case.lang, case.status, case.chat_id)
                await self.note(bot, topic_id, texts(CASEWORK_LANG)(
                    "Case {code}: the previous topic was deleted; the conversation goes on "
                    "here.", code=case.code))
                await self._copy_in(bot, case, message)
        except TelegramError as error:
            if _unusable(error):
                self._lost(error)
                raise GroupUnusable(error.message) from None
            raise
        self.problem = None
        return case

    async def _copy_in(self, bot: Bot, case: OpenCase, message: Message) -> None:
        try:
            await bot.copy_message(self.group, message.chat_id, message.message_id,
                                   message_thread_id=case.topic_id, protect_content=True)
        except BadRequest as error:
            if "caption is too long" not in error.message.lower() or not message.caption:
                raise
            # A topic refuses captions over 1,023 characters: the media with a pointer, then
            # the text. (An empty caption cannot be sent: PTB's Defaults turn "" into [].)
            await bot.copy_message(self.group, message.chat_id, message.message_id,
                                   message_thread_id=case.topic_id, protect_content=True,
                                   caption=html.escape(texts(CASEWORK_LANG)(
                                       "(the caption follows in the next message)")))
            await bot.send_message(self.group, html.escape(message.caption),
                                   message_thread_id=case.topic_id, protect_content=True)

    async def to_user(self, bot: Bot, case: OpenCase, message: Message,
                      markup: InlineKeyboardMarkup) -> str | None:
        """Copy a caseworker's message to the person; None when delivered, else why not (in
        the caseworkers' words, for a note in the topic)."""
        assert case.chat_id is not None
        try:
            await bot.copy_message(case.chat_id, self.group, message.message_id,
                                   protect_content=True, reply_markup=markup)
        except Forbidden:
            return texts(CASEWORK_LANG)("The person has blocked the bot: the message was not "
                                        "delivered.")
        except TelegramError as error:
            return texts(CASEWORK_LANG)("Not delivered (Telegram: {reason}). Try again.",
                                        reason=error.message)
        return None
