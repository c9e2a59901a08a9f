"""An in-process Telegram stand-in: a Bot API that enforces Telegram's limits and records
what each user sees. Tests, `jol chat` and the benchmark's HTTP stand-in are built on it.

Only what Jol uses is implemented, but with Telegram's real rules and error texts: 4096
characters per message, 1–64 bytes of callback data, the HTML tags Telegram accepts, at most
100 buttons, "message is not modified", the 48-hour window for deleting messages, and
(optionally) 429 "Too Many Requests" above a global rate.

Faults a test can inject, as Telegram produces them: `fail(method, status)` answers the next
calls of a method with a 5xx (Telegram's front end has bad minutes), `hold_chat(chat, s)`
answers 429 for one chat only (a group over its 20 messages a minute), and
`unparseable_update(shape)` builds an update python-telegram-bot cannot parse.

Forum supergroups (the caseworkers' group of the handoff): `create_forum(chat_id)` makes one
with the bot as an administrator (`rights` can take its rights away, `is_forum=False` turns
topics off), `group_message_update` is a caseworker writing in a topic, `block_bot(user)` is a
user blocking the bot, `kick_bot(chat)` the bot removed from the group. Topics follow
Telegram: `createForumTopic` needs `can_manage_topics` and a forum, names 1–128 characters,
the thread id is the id of the topic's first (service) message; `deleteForumTopic` needs
`can_delete_messages` and removes the topic's messages; `copyMessage` copies without any link
to the original, keeps `protect_content`, and in a topic refuses a caption over 1,023
characters (tdlib/telegram-bot-api#334); a deleted topic answers "message thread not found".
Error texts marked "Telegram's" below are the ones Telegram sends; the rest are worded like
them.
"""

from __future__ import annotations

import html
import itertools
import json
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

from telegram._utils.types import ODVInput
from telegram.request import BaseRequest, RequestData

JSON = dict[str, Any]
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_ANSWER_LIMIT = 200
BUTTON_LIMIT = 100
TOPIC_CAPTION_LIMIT = 1023  # a copy into a forum topic fails above this (tdlib/…#334)
TOPIC_NAME_LIMIT = 128
ADMIN_RIGHTS = frozenset({"can_manage_topics", "can_delete_messages"})
BLOCKED = "Forbidden: bot was blocked by the user"  # Telegram's
THREAD_NOT_FOUND = "message thread not found"  # Telegram's, after "Bad Request: "
DELETE_WINDOW = 48 * 3600
ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span",
                "tg-spoiler", "a", "tg-emoji", "code", "pre", "blockquote"}


class BotAPIError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def bad_request(description: str) -> BotAPIError:
    return BotAPIError(400, f"Bad Request: {description}")


SERVER_ERRORS = {500: "Internal Server Error", 502: "Bad Gateway",
                 503: "Service Unavailable", 504: "Gateway Timeout"}

NOT_MODIFIED = ("message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message")


class _TelegramHTML(HTMLParser):
    """Validates HTML as Telegram does and yields the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.text: list[str] = []
        self.error: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.error = self.error or f"unsupported start tag \"{tag}\""
        if tag == "a" and not dict(attrs).get("href"):
            self.error = self.error or "a link without href"
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.error = self.error or f"unmatched end tag \"{tag}\""
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


_BARE_LT = re.compile(r"<(?![a-zA-Z/])")
_BAD_AMP = re.compile(r"&(?!(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);)")


def visible_text(text: str, parse_mode: str | None) -> str:
    """The text a user would see; raises 400 for HTML Telegram would refuse."""
    if parse_mode is None:
        return text
    if parse_mode.upper() != "HTML":
        raise bad_request(f"unsupported parse_mode {parse_mode}")
    if _BARE_LT.search(text) or _BAD_AMP.search(text):
        raise bad_request("can't parse entities: unescaped '<' or '&' in the text")
    parser = _TelegramHTML()
    parser.feed(text)
    parser.close()
    if parser.error or parser.stack:
        raise bad_request(f"can't parse entities: {parser.error or 'unclosed tag'}")
    return html.unescape("".join(parser.text))


@dataclass
class SentMessage:
    message_id: int
    chat_id: int
    text: str  # as the user sees it (tags stripped)
    html: str  # as sent
    buttons: list[list[tuple[str, str]]]  # rows of (label, callback_data or url)
    date: float
    kind: str = "text"  # text, photo, document, voice, …; "user" for a user's text
    deleted: bool = False
    edits: int = 0
    thread_id: int | None = None  # the forum topic it is in
    protect_content: bool = False
    copied: bool = False  # made by copyMessage (a copy has no link to its original)

    @property
    def button_labels(self) -> list[str]:
        return [label for row in self.buttons for label, _ in row]

    def data_for(self, label: str) -> str:
        for row in self.buttons:
            for text, data in row:
                if text == label:
                    return data
        raise KeyError(f"no button {label!r}; buttons are {self.button_labels}")


@dataclass
class ChatLog:
    chat_id: int
    messages: dict[int, SentMessage] = field(default_factory=dict)
    incoming: dict[int, SentMessage] = field(default_factory=dict)  # what the user sent
    callback_answers: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)  # "send 5", "edit 5", "delete 5", …
    blocked: bool = False  # the user blocked the bot (private chats)
    # Groups only: the title, whether topics are on, the bot's admin rights (empty: a plain
    # member), whether the bot was removed, and the topics by thread id (their names).
    title: str = ""
    forum: bool = False
    rights: frozenset[str] = frozenset()
    kicked: bool = False
    topics: dict[int, str] = field(default_factory=dict)

    def in_topic(self, thread_id: int) -> list[SentMessage]:
        """What is visible in one forum topic, the bot's messages and the members'."""
        every = sorted([*self.messages.values(), *self.incoming.values()],
                       key=lambda m: m.message_id)
        return [m for m in every if m.thread_id == thread_id and not m.deleted]

    @property
    def visible(self) -> list[SentMessage]:
        return [m for m in self.messages.values() if not m.deleted]

    @property
    def last(self) -> SentMessage:
        return self.visible[-1]


def _flag(value: Any) -> bool:
    """A Bot API boolean, as JSON (true) or as a form field ("true")."""
    return value is True or str(value).lower() in ("true", "1")


def _parse_markup(markup: Any) -> list[list[tuple[str, str]]]:
    if markup is None:
        return []
    if isinstance(markup, str):
        markup = json.loads(markup)
    rows = markup.get("inline_keyboard")
    if rows is None:
        return []  # reply keyboards and removals are not inline buttons
    total = sum(len(row) for row in rows)
    if total > BUTTON_LIMIT:
        raise bad_request("reply markup is too long")
    parsed = []
    for row in rows:
        parsed_row = []
        for button in row:
            label = button.get("text", "")
            if not label.strip():
                raise bad_request("BUTTON_TEXT_EMPTY")
            if "callback_data" in button:
                data = button["callback_data"]
                if not 1 <= len(data.encode()) <= 64:
                    raise bad_request("BUTTON_DATA_INVALID")
                parsed_row.append((label, data))
            elif "url" in button:
                parsed_row.append((label, button["url"]))
            else:
                raise bad_request("can't find field \"callback_data\" or \"url\"")
        parsed.append(parsed_row)
    return parsed


class FakeTelegram:
    """The Bot API side of Telegram, in memory. One instance is one bot's view of the world."""

    def __init__(self, *, bot_id: int = 777000, username: str = "jol_local_bot",
                 clock: Callable[[], float] = time.time,
                 global_rate_limit: int | None = None) -> None:
        self.bot_id = bot_id
        self.username = username
        self.clock = clock
        self.chats: dict[int, ChatLog] = {}
        self.commands: dict[str, list[tuple[str, str]]] = {}
        self.webhook: JSON = {}
        self.pending_updates: deque[JSON] = deque()
        self.files: list[tuple[int, str, bytes]] = []  # (chat, filename, bytes) uploaded
        self.rate_limited = 0  # number of 429s answered
        self.calls: Counter[str] = Counter()  # method name (lower case) → calls received
        self._global_rate_limit = global_rate_limit
        self._sent_times: deque[float] = deque()
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._callback_ids = itertools.count(1)
        self._open_callbacks: dict[str, tuple[float, int]] = {}  # query id -> (time, chat)
        self._failures: dict[str, deque[tuple[int, str]]] = {}  # method -> errors to answer
        self._held_chats: dict[int, float] = {}  # chat id -> clock time its 429s end

    # ---- the user's side: build updates ---------------------------------------------------

    def _user(self, user_id: int, first_name: str = "Test", language_code: str | None = "ru",
              username: str | None = None) -> JSON:
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if language_code:
            user["language_code"] = language_code
        if username:
            user["username"] = username
        return user

    def _incoming(self, chat_id: int, user: JSON | None, chat_type: str = "private",
                  **fields: Any) -> JSON:
        chat_log = self.chats.setdefault(chat_id, ChatLog(chat_id))
        message_id = self._next_message_id(chat_id)
        chat: JSON = {"id": chat_id, "type": chat_type}
        if chat_type == "private" and user:
            chat["first_name"] = user["first_name"]
        message: JSON = {"message_id": message_id, "date": int(self.clock()), "chat": chat,
                         **fields}
        if user is not None:
            message["from"] = user
        kind = next((k for k in ("photo", "voice", "sticker", "location", "contact",
                                 "document") if k in fields), "user")
        chat_log.incoming[message_id] = SentMessage(
            message_id, chat_id, fields.get("text", fields.get("caption", "")), "", [],
            self.clock(), kind)
        chat_log.events.append(f"user {message_id}")
        return message

    def message_update(self, user_id: int, text: str, *, language_code: str | None = "ru",
                       first_name: str = "Test", username: str | None = None,
                       chat_id: int | None = None, chat_type: str = "private") -> JSON:
        user = self._user(user_id, first_name, language_code, username)
        fields: JSON = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        message = self._incoming(chat_id or user_id, user, chat_type, **fields)
        return self._update(message=message)

    def media_update(self, user_id: int, kind: str, *, language_code: str | None = "ru",
                     caption: str | None = None, first_name: str = "Test",
                     username: str | None = None) -> JSON:
        """A sticker, photo, voice, location, contact or document from the user."""
        payloads: dict[str, JSON] = {
            "sticker": {"sticker": {"file_id": "s1", "file_unique_id": "s1", "width": 512,
                                    "height": 512, "is_animated": False, "is_video": False,
                                    "type": "regular"}},
            "photo": {"photo": [{"file_id": "p1", "file_unique_id": "p1", "width": 90,
                                 "height": 90}]},
            "voice": {"voice": {"file_id": "v1", "file_unique_id": "v1", "duration": 3}},
            "location": {"location": {"latitude": 55.75, "longitude": 37.61}},
            "contact": {"contact": {"phone_number": "+996555000000", "first_name": "Aigul"}},
            "document": {"document": {"file_id": "d1", "file_unique_id": "d1"}},
        }
        user = self._user(user_id, first_name, language_code, username)
        fields = dict(payloads[kind])
        if caption is not None:
            fields["caption"] = caption
        return self._update(message=self._incoming(user_id, user, **fields))

    # ---- forum supergroups (the caseworkers' side) ------------------------------------------

    def create_forum(self, chat_id: int, title: str = "Caseworkers", *,
                     rights: frozenset[str] = ADMIN_RIGHTS, is_forum: bool = True) -> ChatLog:
        """A supergroup with topics on and the bot an administrator with `rights`."""
        chat = self.chats.setdefault(chat_id, ChatLog(chat_id))
        chat.title, chat.forum, chat.rights = title, is_forum, frozenset(rights)
        return chat

    def kick_bot(self, chat_id: int) -> None:
        self.chats[chat_id].kicked = True

    def block_bot(self, user_id: int) -> None:
        self.chats.setdefault(user_id, ChatLog(user_id)).blocked = True

    def group_message_update(self, chat_id: int, user_id: int, text: str, *,
                             thread_id: int | None = None, first_name: str = "Caseworker",
                             kind: str = "text") -> JSON:
        """A member writes in the group, in topic `thread_id` (None: the General topic)."""
        group = self.chats[chat_id]
        user = self._user(user_id, first_name)
        fields: JSON = {"text": text} if kind == "text" else {
            "photo": [{"file_id": "p2", "file_unique_id": "p2", "width": 90, "height": 90}],
            "caption": text}
        if kind == "text" and text.startswith("/"):
            command = text.split()[0]
            fields["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        message_id = self._next_message_id(chat_id)
        message: JSON = {"message_id": message_id, "date": int(self.clock()), "from": user,
                         "chat": {"id": chat_id, "type": "supergroup", "title": group.title,
                                  "is_forum": group.forum}, **fields}
        if thread_id is not None:
            message["message_thread_id"] = thread_id
            message["is_topic_message"] = True
        group.incoming[message_id] = SentMessage(message_id, chat_id, text, "", [],
                                                 self.clock(), kind, thread_id=thread_id)
        group.events.append(f"user {message_id}")
        return self._update(message=message)

    def edited_update(self, user_id: int, message_id: int, text: str) -> JSON:
        user = self._user(user_id)
        message = {"message_id": message_id, "date": int(self.clock()),
                   "edit_date": int(self.clock()), "chat": {"id": user_id, "type": "private"},
                   "from": user, "text": text}
        return self._update(edited_message=message)

    def channel_post_update(self, chat_id: int, text: str) -> JSON:
        message = self._incoming(chat_id, None, "channel", text=text)
        return self._update(channel_post=message)

    def callback_update(self, user_id: int, message_id: int, data: str, *,
                        language_code: str | None = "ru", chat_id: int | None = None) -> JSON:
        chat_id = chat_id or user_id
        log = self.chats.setdefault(chat_id, ChatLog(chat_id))
        sent = log.messages.get(message_id)
        query_id = str(next(self._callback_ids))
        self._open_callbacks[query_id] = (self.clock(), chat_id)
        query: JSON = {"id": query_id, "from": self._user(user_id, language_code=language_code),
                       "chat_instance": str(chat_id), "data": data}
        if sent is not None and not sent.deleted:
            query["message"] = self._message_json(sent)  # as Telegram: text and buttons too
        else:  # a message that no longer exists, as Telegram reports it
            query["message"] = {"message_id": message_id, "date": 0,
                                "chat": {"id": chat_id, "type": "private"}}
        return self._update(callback_query=query)

    def inline_callback_update(self, user_id: int, data: str) -> JSON:
        """A press on a button of an inline-mode message: Telegram sends no `message`, only
        `inline_message_id`, so the bot knows no chat."""
        query_id = str(next(self._callback_ids))
        self._open_callbacks[query_id] = (self.clock(), user_id)
        self.chats.setdefault(user_id, ChatLog(user_id))
        return self._update(callback_query={
            "id": query_id, "from": self._user(user_id), "chat_instance": "-1",
            "inline_message_id": "AgAAAB9xQwA", "data": data})

    def unparseable_update(self, shape: str, user_id: int = 1) -> JSON:
        """An update whose shape python-telegram-bot 22.8 rejects, with a user's data inside:
        "no-date" (a message without `date`) or "poll" (a poll option without `voter_count`)."""
        if shape == "no-date":
            message = self._incoming(user_id, self._user(user_id, "Aigul"), text="secret words")
            del message["date"]
            return self._update(message=message)
        if shape == "poll":
            return self._update(poll={"id": "1", "question": "secret words", "options": [
                {"text": "a"}], "total_voter_count": 0, "is_closed": False,
                "is_anonymous": True, "type": "regular", "allows_multiple_answers": False})
        raise ValueError(f"unknown shape {shape!r}")

    def _update(self, **payload: JSON) -> JSON:
        return {"update_id": next(self._update_ids), **payload}

    # ---- the bot's side: the Bot API ------------------------------------------------------

    def _bot_user(self) -> JSON:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Jol",
                "username": self.username, "can_join_groups": False,
                "can_read_all_group_messages": False, "supports_inline_queries": False}

    def _next_message_id(self, chat_id: int) -> int:
        counter = self._message_ids.setdefault(chat_id, itertools.count(1))
        return next(counter)

    def _chat(self, params: JSON) -> ChatLog:
        try:
            chat_id = int(params["chat_id"])
        except (KeyError, TypeError, ValueError):
            raise bad_request("chat_id is empty") from None
        chat = self.chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat.blocked:
            raise BotAPIError(403, BLOCKED)
        if chat.kicked:
            raise BotAPIError(403, "Forbidden: bot was kicked from the supergroup chat")
        return chat

    @staticmethod
    def _thread(chat: ChatLog, params: JSON) -> int | None:
        """The topic a message goes to; 400 for a topic that does not exist (any more)."""
        raw = params.get("message_thread_id")
        if raw in (None, ""):
            return None
        thread_id = int(raw)
        if thread_id not in chat.topics:
            raise bad_request(THREAD_NOT_FOUND)
        return thread_id

    def _message(self, chat: ChatLog, params: JSON, action: str) -> SentMessage:
        message = chat.messages.get(int(params.get("message_id", 0)))
        if message is None or message.deleted:
            raise bad_request(f"message to {action} not found")
        return message

    def _check_rate(self) -> None:
        if self._global_rate_limit is None:
            return
        now = self.clock()
        while self._sent_times and now - self._sent_times[0] >= 1.0:
            self._sent_times.popleft()
        if len(self._sent_times) >= self._global_rate_limit:
            self.rate_limited += 1
            raise BotAPIError(429, "Too Many Requests: retry after 1", retry_after=1)
        self._sent_times.append(now)

    def fail(self, method: str, status: int = 500, times: int = 1,
             description: str | None = None) -> None:
        """Answer the next `times` calls of `method` with an error: a 5xx, as Telegram's front
        end has them, or a refusal with Telegram's own `description`."""
        text = description or SERVER_ERRORS.get(status, "Internal Server Error")
        self._failures.setdefault(method.lower(), deque()).extend([(status, text)] * times)

    def hold_chat(self, chat_id: int, seconds: int) -> None:
        """Answer 429 to every call for this chat (and no other) for `seconds`."""
        self._held_chats[chat_id] = self.clock() + seconds

    def _injected_fault(self, method: str, params: JSON) -> None:
        failures = self._failures.get(method)
        if failures:
            raise BotAPIError(*failures.popleft())
        try:
            chat_id = int(params.get("chat_id", 0))
        except (TypeError, ValueError):
            return
        until = self._held_chats.get(chat_id)
        if until is not None:
            wait = until - self.clock()
            if wait <= 0:
                del self._held_chats[chat_id]
                return
            self.rate_limited += 1
            seconds = max(1, round(wait))
            raise BotAPIError(429, f"Too Many Requests: retry after {seconds}",
                              retry_after=seconds)

    def call(self, method: str, params: JSON) -> Any:
        """Run one Bot API method; returns its result or raises BotAPIError."""
        self.calls[method.lower()] += 1
        self._injected_fault(method.lower(), params)
        handler = getattr(self, f"api_{method.lower()}", None)
        if handler is None:
            raise BotAPIError(404, "Not Found: method not found")
        return handler(params)

    def api_getme(self, params: JSON) -> JSON:
        return self._bot_user()

    def api_setmycommands(self, params: JSON) -> bool:
        commands = params.get("commands", [])
        if isinstance(commands, str):
            commands = json.loads(commands)
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command["command"]) or not (
                    1 <= len(command["description"]) <= 256):
                raise bad_request("BOT_COMMAND_INVALID")
        self.commands[self._commands_key(params)] = [
            (c["command"], c["description"]) for c in commands]
        return True

    def _commands_key(self, params: JSON) -> str:
        """"ky", "ru", "" (default), or "@<chat>" for a chat scope."""
        scope = params.get("scope")
        if isinstance(scope, str):
            scope = json.loads(scope)
        key = str(params.get("language_code") or "")
        if scope and scope.get("type") == "chat":
            if int(scope["chat_id"]) not in self.chats:
                raise bad_request("chat not found")
            key += f"@{scope['chat_id']}"
        return key

    def api_deletemycommands(self, params: JSON) -> bool:
        self.commands.pop(self._commands_key(params), None)
        return True

    def _store(self, chat: ChatLog, text: str, html_text: str, markup: Any,
               kind: str = "text", params: JSON | None = None) -> JSON:
        self._check_rate()
        params = params or {}
        thread_id = self._thread(chat, params)
        message = SentMessage(self._next_message_id(chat.chat_id), chat.chat_id, text,
                              html_text, _parse_markup(markup), self.clock(), kind,
                              thread_id=thread_id,
                              protect_content=_flag(params.get("protect_content")))
        chat.messages[message.message_id] = message
        chat.events.append(f"send {message.message_id}")
        return self._message_json(message)

    def _message_json(self, message: SentMessage) -> JSON:
        result: JSON = {"message_id": message.message_id, "date": int(message.date),
                        "chat": {"id": message.chat_id, "type": "private"},
                        "from": self._bot_user()}
        if message.kind == "text":
            result["text"] = message.text
        if message.buttons:
            result["reply_markup"] = {"inline_keyboard": [
                [{"text": t, "callback_data": d} for t, d in row] for row in message.buttons]}
        return result

    @staticmethod
    def _message_text(params: JSON) -> tuple[str, str]:
        """(the text as sent, the text as seen), refused as Telegram refuses it."""
        raw = str(params.get("text", ""))
        text = visible_text(raw, params.get("parse_mode"))
        if not text.strip():
            raise bad_request("message text is empty")
        if len(text) > MESSAGE_LIMIT:
            raise bad_request("message is too long")
        return raw, text

    def api_sendmessage(self, params: JSON) -> JSON:
        chat = self._chat(params)
        raw, text = self._message_text(params)
        return self._store(chat, text, raw, params.get("reply_markup"), params=params)

    def _send_file(self, params: JSON, field_name: str, kind: str) -> JSON:
        chat = self._chat(params)
        caption = visible_text(str(params.get("caption", "")), params.get("parse_mode"))
        if len(caption) > CAPTION_LIMIT:
            raise bad_request("message caption is too long")
        upload = params.get(field_name)
        if not isinstance(upload, tuple):
            raise bad_request(f"there is no {field_name} in the request")
        filename, content = upload
        self.files.append((chat.chat_id, filename, content))
        result = self._store(chat, caption, caption, params.get("reply_markup"), kind, params)
        return result

    def api_sendphoto(self, params: JSON) -> JSON:
        return self._send_file(params, "photo", "photo")

    def api_senddocument(self, params: JSON) -> JSON:
        return self._send_file(params, "document", "document")

    def api_sendchataction(self, params: JSON) -> bool:
        self._chat(params)
        return True

    def api_editmessagetext(self, params: JSON) -> JSON:
        chat = self._chat(params)
        message = self._message(chat, params, "edit")
        raw, text = self._message_text(params)
        buttons = _parse_markup(params.get("reply_markup"))
        if text == message.text and buttons == message.buttons and raw == message.html:
            raise bad_request(NOT_MODIFIED)
        message.text, message.html, message.buttons = text, raw, buttons
        message.edits += 1
        chat.events.append(f"edit {message.message_id}")
        return self._message_json(message)

    def api_editmessagereplymarkup(self, params: JSON) -> JSON:
        chat = self._chat(params)
        message = self._message(chat, params, "edit")
        buttons = _parse_markup(params.get("reply_markup"))
        if buttons == message.buttons:
            raise bad_request(NOT_MODIFIED)
        message.buttons = buttons
        chat.events.append(f"edit {message.message_id}")
        return self._message_json(message)

    def _delete(self, chat: ChatLog, message_id: int) -> bool:
        message = chat.messages.get(message_id) or chat.incoming.get(message_id)
        if message is None or message.deleted:
            raise bad_request("message to delete not found")
        if self.clock() - message.date > DELETE_WINDOW:
            raise bad_request("message can't be deleted for everyone")
        message.deleted = True
        chat.events.append(f"delete {message_id}")
        return True

    def api_deletemessage(self, params: JSON) -> bool:
        return self._delete(self._chat(params), int(params.get("message_id", 0)))

    def api_deletemessages(self, params: JSON) -> bool:
        chat = self._chat(params)
        ids = params.get("message_ids", [])
        if isinstance(ids, str):
            ids = json.loads(ids)
        if not 1 <= len(ids) <= 100:
            raise bad_request("message_ids must hold 1-100 ids")
        deleted = False
        for message_id in ids:  # Telegram skips the ones it cannot delete
            try:
                deleted = self._delete(chat, int(message_id)) or deleted
            except BotAPIError:
                continue
        if not deleted:
            raise bad_request("message to delete not found")
        return True

    def api_answercallbackquery(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        opened = self._open_callbacks.pop(query_id, None)
        if opened is None or self.clock() - opened[0] > 15 * 60:
            raise bad_request("query is too old and response timeout expired or query ID is "
                              "invalid")
        text = str(params.get("text") or "")
        if len(text) > CALLBACK_ANSWER_LIMIT:
            raise bad_request("MESSAGE_TOO_LONG")
        self.chats[opened[1]].callback_answers.append(text)
        return True

    def _group(self, params: JSON) -> ChatLog:
        chat = self._chat(params)
        if chat.chat_id > 0:
            raise bad_request("the chat is not a forum")
        return chat

    def api_getchat(self, params: JSON) -> JSON:
        chat = self._chat(params)
        if chat.chat_id > 0:
            return {"id": chat.chat_id, "type": "private", "first_name": "Test"}
        return {"id": chat.chat_id, "type": "supergroup", "title": chat.title,
                "is_forum": chat.forum}

    def api_getchatmember(self, params: JSON) -> JSON:
        chat = self._chat(params)
        user_id = int(params.get("user_id", 0))
        if user_id != self.bot_id or chat.kicked:
            return {"status": "left", "user": self._user(user_id)}
        if not chat.rights:
            return {"status": "member", "user": self._bot_user()}
        member: JSON = {"status": "administrator", "user": self._bot_user(),
                        "can_be_edited": False, "is_anonymous": False}
        for right in ("can_manage_chat", "can_delete_messages", "can_manage_video_chats",
                      "can_restrict_members", "can_promote_members", "can_change_info",
                      "can_invite_users", "can_post_stories", "can_edit_stories",
                      "can_delete_stories", "can_manage_topics", "can_pin_messages"):
            member[right] = right in chat.rights
        return member

    def api_createforumtopic(self, params: JSON) -> JSON:
        chat = self._group(params)
        if not chat.forum:
            raise bad_request("the chat is not a forum")
        if "can_manage_topics" not in chat.rights:
            raise bad_request("not enough rights to create a topic")
        name = str(params.get("name", ""))
        if not 1 <= len(name) <= TOPIC_NAME_LIMIT:
            raise bad_request("TOPIC_TITLE_EMPTY" if not name else "TOPIC_TITLE_TOO_LONG")
        self._check_rate()
        # The topic's id is the id of its first message, the service message "topic created".
        thread_id = self._next_message_id(chat.chat_id)
        chat.topics[thread_id] = name
        chat.messages[thread_id] = SentMessage(thread_id, chat.chat_id, name, "", [],
                                               self.clock(), "topic_created",
                                               thread_id=thread_id)
        chat.events.append(f"topic {thread_id}")
        return {"message_thread_id": thread_id, "name": name, "icon_color": 7322096}

    def api_deleteforumtopic(self, params: JSON) -> bool:
        chat = self._group(params)
        if "can_delete_messages" not in chat.rights:
            raise bad_request("not enough rights to delete the topic")
        thread_id = int(params.get("message_thread_id", 0))
        if chat.topics.pop(thread_id, None) is None:
            raise bad_request("TOPIC_ID_INVALID")
        for message in [*chat.messages.values(), *chat.incoming.values()]:
            if message.thread_id == thread_id:
                message.deleted = True
        chat.events.append(f"delete {thread_id}")
        return True

    def api_copymessage(self, params: JSON) -> JSON:
        source = self.chats.get(int(params.get("from_chat_id", 0)))
        if source is None:
            raise bad_request("chat not found")
        message_id = int(params.get("message_id", 0))
        original = source.incoming.get(message_id) or source.messages.get(message_id)
        if original is None or original.deleted:
            raise bad_request("message to copy not found")
        if original.kind == "topic_created":
            raise bad_request("message can't be copied")
        chat = self._chat(params)
        thread_id = self._thread(chat, params)
        caption = (visible_text(str(params["caption"]), params.get("parse_mode"))
                   if "caption" in params else original.text)
        media = original.kind not in ("text", "user")
        if media and thread_id is not None and len(caption) > TOPIC_CAPTION_LIMIT:
            raise bad_request("message caption is too long")
        if not media and not caption.strip():
            raise bad_request("message text is empty")
        self._check_rate()
        copy = SentMessage(self._next_message_id(chat.chat_id), chat.chat_id, caption, caption,
                           _parse_markup(params.get("reply_markup")), self.clock(),
                           "text" if not media else original.kind, thread_id=thread_id,
                           protect_content=_flag(params.get("protect_content")), copied=True)
        chat.messages[copy.message_id] = copy
        chat.events.append(f"send {copy.message_id}")
        return {"message_id": copy.message_id}

    def api_setwebhook(self, params: JSON) -> bool:
        self.webhook = {"url": params.get("url", ""), "secret": params.get("secret_token"),
                        "max_connections": int(params.get("max_connections") or 40)}
        return True

    def api_deletewebhook(self, params: JSON) -> bool:
        self.webhook = {}
        return True

    def api_getupdates(self, params: JSON) -> list[JSON]:
        offset = int(params.get("offset") or 0)
        while self.pending_updates and self.pending_updates[0]["update_id"] < offset:
            self.pending_updates.popleft()
        limit = int(params.get("limit") or 100)
        return list(itertools.islice(self.pending_updates, limit))

    def api_close(self, params: JSON) -> bool:
        return True

    def api_logout(self, params: JSON) -> bool:
        return True


class LocalRequest(BaseRequest):
    """A python-telegram-bot transport that talks to a FakeTelegram in the same process."""

    def __init__(self, telegram: FakeTelegram) -> None:
        self.telegram = telegram

    @property
    def read_timeout(self) -> float | None:
        return 1.0

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        return None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        api_method = url.rsplit("/", 1)[-1]
        params: JSON = dict(request_data.parameters) if request_data else {}
        if request_data is not None and request_data.contains_files:
            for name, value in request_data.multipart_data.items():
                if isinstance(value, tuple) and len(value) >= 2:
                    params[name] = (value[0], value[1])
        return encode_response(self.telegram, api_method, params)


def encode_response(telegram: FakeTelegram, method: str, params: JSON) -> tuple[int, bytes]:
    """Run a method and encode the answer as the Bot API does (status, JSON body)."""
    try:
        result = telegram.call(method, params)
    except BotAPIError as error:
        body: JSON = {"ok": False, "error_code": error.code, "description": error.description}
        if error.retry_after is not None:
            body["parameters"] = {"retry_after": error.retry_after}
        return error.code, json.dumps(body).encode()
    return 200, json.dumps({"ok": True, "result": result}).encode()


class LocalUser:
    """One person talking to a real Application through a FakeTelegram, in process.

    `await user.send("/start")`, `await user.press("Россия")`; then `user.chat.last` is
    the message on screen, with `.text` as the user reads it and `.button_labels`.
    """

    def __init__(self, telegram: FakeTelegram, application: Any, user_id: int, *,
                 language_code: str | None = "ru", first_name: str = "Test") -> None:
        self.telegram = telegram
        self.application = application
        self.user_id = user_id
        self.language_code = language_code
        self.first_name = first_name

    @property
    def chat(self) -> ChatLog:
        return self.telegram.chats.setdefault(self.user_id, ChatLog(self.user_id))

    async def feed(self, update: JSON) -> None:
        from telegram import Update  # imported late: only the driver needs it

        await self.application.process_update(Update.de_json(update, self.application.bot))

    async def send(self, text: str) -> SentMessage:
        await self.feed(self.telegram.message_update(
            self.user_id, text, language_code=self.language_code, first_name=self.first_name))
        return self.chat.last

    async def send_media(self, kind: str, caption: str | None = None) -> SentMessage:
        await self.feed(self.telegram.media_update(self.user_id, kind,
                                                   language_code=self.language_code,
                                                   caption=caption,
                                                   first_name=self.first_name))
        return self.chat.last

    async def press(self, label: str, message: SentMessage | None = None) -> SentMessage:
        """Press the button with this label on the given message (default: the last one)."""
        message = message or self.chat.last
        return await self.press_data(message.data_for(label), message.message_id)

    async def press_data(self, data: str, message_id: int | None = None) -> SentMessage:
        message_id = message_id or self.chat.last.message_id
        await self.feed(self.telegram.callback_update(self.user_id, message_id, data,
                                                      language_code=self.language_code))
        return self.chat.last
