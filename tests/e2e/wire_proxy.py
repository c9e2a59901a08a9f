"""A Bot API proxy in front of telegram-test-api that fixes the emulator's wire quirks.

The bot talks to this proxy exactly as it talks to Telegram (`JOL_API_BASE_URL`); the proxy
forwards each call to the emulator and repairs what the emulator gets wrong, so that every fix
lives in the test harness and none in `bot/`:

- getMe lacks `is_bot`: added.
- `date` fields are in milliseconds: converted to seconds, everywhere in every answer.
- callback queries lack `chat_instance`: one is added.
- emulated user messages carry the emulator's own `botToken` field: removed.
- getUpdates ignores `offset` and `timeout` (and marks updates read as soon as it returns them):
  the proxy keeps the updates it fetched until the bot confirms them with a higher offset, and
  long-polls the emulator every `poll_interval` seconds for up to `timeout` seconds.
- editMessageText and editMessageReplyMarkup answer `null`, and "succeed" on messages that do
  not exist: the proxy answers the edited message, or 400 "message to edit not found".
- editMessageText without `reply_markup` keeps the old buttons (Telegram removes them): an
  empty inline keyboard is sent along so the emulator drops them too.
- answerCallbackQuery and deleteMessage answer `null`: `true`.
- sendMessage echoes the request's parameters into the message it returns, some of them as
  JSON strings (link_preview_options) that python-telegram-bot cannot parse: only the fields
  Telegram returns are kept.
- errors come with HTTP 200: sent on with the status in their `error_code`.
- unsupported methods answer 500 with a non-Bot-API body: the ones the bot only needs
  acknowledged get `{"ok": true, "result": true}`, deleteMessages is done by deleteMessage
  one by one, and any other is answered 400 and recorded in `unsupported` for the test to fail.

The proxy also records every call (`calls`) and the callback answers per chat, which the test
uses to know when the bot has finished answering, and to show what a user saw as a toast.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import ClientSession, ClientTimeout, web

JSON = dict[str, Any]

# Methods the emulator does not know and the bot only needs acknowledged.
ACKNOWLEDGED = frozenset({
    "setmycommands", "deletemycommands", "setmydescription", "setmyshortdescription",
    "setchatmenubutton", "sendchataction",
})
# Methods whose calls change what a user sees in a chat.
VISIBLE = frozenset({"sendmessage", "editmessagetext", "editmessagereplymarkup",
                     "deletemessage", "deletemessages", "sendphoto", "senddocument"})
BOT_USER: JSON = {"id": 666, "is_bot": True, "first_name": "Test First name",
                  "username": "TestNameBot", "can_join_groups": False,
                  "can_read_all_group_messages": False, "supports_inline_queries": False}
MAX_LONG_POLL = 50.0


@dataclass
class Call:
    """One Bot API call the bot made, as the proxy answered it."""

    method: str  # lower case, e.g. "sendmessage"
    params: JSON
    status: int
    chat_id: int | None
    at: float = field(default_factory=time.monotonic)


def _seconds(value: Any) -> Any:
    """Millisecond timestamps (the emulator's) to seconds, in any JSON value."""
    if isinstance(value, dict):
        fixed = {}
        for key, item in value.items():
            if key in ("date", "edit_date") and isinstance(item, int | float) and item > 10**11:
                item = int(item // 1000)
            fixed[key] = _seconds(item)
        return fixed
    if isinstance(value, list):
        return [_seconds(item) for item in value]
    return value


def _json_param(value: Any) -> Any:
    """PTB sends nested objects as JSON strings; give them back as objects."""
    if isinstance(value, str) and value[:1] in "[{":
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _int(value: Any, default: int = 0) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _chat_id(params: JSON) -> int | None:
    value = params.get("chat_id")
    return _int(value) if value is not None else None


class WireProxy:
    """`await proxy.start()` returns the base URL for JOL_API_BASE_URL ("…/bot")."""

    def __init__(self, emulator_url: str, *, poll_interval: float = 0.1) -> None:
        self.emulator_url = emulator_url.rstrip("/")
        self.poll_interval = poll_interval
        self.calls: list[Call] = []
        self.unsupported: list[str] = []
        self.callback_answers: dict[int, list[str]] = defaultdict(list)
        self._pending: dict[str, list[JSON]] = defaultdict(list)
        self._callback_chats: dict[str, int] = {}
        self._closing = asyncio.Event()
        self._polls = 0
        self._session: ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self, host: str = "127.0.0.1") -> str:
        self._session = ClientSession(timeout=ClientTimeout(total=10))
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, 0))
        port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()
        self.base_url = f"http://{host}:{port}/bot"
        return self.base_url

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    # ---- what the test reads --------------------------------------------------------------

    def chat_calls(self, chat_id: int) -> list[Call]:
        """Calls that concern one chat: sends, edits, deletes, and callback answers."""
        return [c for c in self.calls if c.chat_id == chat_id]

    def polls(self) -> int:
        """How many getUpdates calls the bot has started (long polls end much later)."""
        return self._polls

    # ---- the Bot API side -----------------------------------------------------------------

    async def _params(self, request: web.Request) -> JSON:
        params: JSON = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                params.update(await request.post())
        return params

    async def _upstream(self, path: str, params: JSON) -> tuple[int, Any]:
        assert self._session is not None
        async with self._session.post(f"{self.emulator_url}/{path}", json=params) as response:
            text = await response.text()
            try:
                return response.status, json.loads(text)
            except ValueError:
                return response.status, {"message": text}

    async def _handle(self, request: web.Request) -> web.Response:
        token = request.match_info["token"]
        method = request.match_info["method"]
        params = await self._params(request)
        name = method.lower()
        if name == "getupdates":
            status, body = 200, {"ok": True, "result": await self._get_updates(token, params)}
        elif name in ACKNOWLEDGED:
            status, body = 200, {"ok": True, "result": True}
        elif name == "deletemessages":
            status, body = await self._delete_messages(token, params)
        else:
            status, body = await self._forward(token, method, params)
        chat_id = _chat_id(params)
        if name == "answercallbackquery":
            chat_id = self._callback_chats.get(str(params.get("callback_query_id")))
            if chat_id is not None and status == 200:
                self.callback_answers[chat_id].append(str(params.get("text") or ""))
        self.calls.append(Call(name, params, status, chat_id))
        return web.json_response(body, status=status)

    async def _forward(self, token: str, method: str, params: JSON) -> tuple[int, JSON]:
        name = method.lower()
        if name == "editmessagetext" and "reply_markup" not in params:
            params = {**params, "reply_markup": {"inline_keyboard": []}}
        edit = name in ("editmessagetext", "editmessagereplymarkup") and "chat_id" in params
        if edit and await self._stored(token, params) is None:
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: message to edit not found"}
        status, body = await self._upstream(f"bot{token}/{method}", params)
        if status >= 500 or not isinstance(body, dict) or "ok" not in body:
            message = str(body.get("message", "")) if isinstance(body, dict) else str(body)
            if message.startswith("API method"):
                self.unsupported.append(method)
                return 400, {"ok": False, "error_code": 400,
                             "description": f"Bad Request: {method} is not supported by "
                                            "telegram-test-api"}
            return 500, {"ok": False, "error_code": 500,
                         "description": f"Internal Server Error: {message}"}
        if not body["ok"]:
            code = _int(body.get("error_code"), 400)
            return code, {**body, "error_code": code}
        result = body.get("result")
        if name == "getme" and isinstance(result, dict):
            result = {**BOT_USER, **result, "is_bot": True}
        elif name in ("editmessagetext", "editmessagereplymarkup") and result is None:
            stored = await self._stored(token, params)
            result = self._message(stored or {}, params) if "chat_id" in params else True
        elif name in ("answercallbackquery", "deletemessage", "setwebhook") and result is None:
            result = True
        elif name == "sendmessage" and isinstance(result, dict):
            result = self._sent(result)
        return 200, {**body, "result": _seconds(result)}

    async def _stored(self, token: str, params: JSON) -> JSON | None:
        """The emulator's record of a bot message (chat_id, message_id), or None."""
        _, body = await self._upstream("getUpdatesHistory", {"token": token})
        chat, message_id = str(params.get("chat_id")), _int(params.get("message_id"))
        for item in body.get("result") or []:
            message = item.get("message") or {}
            if (item.get("messageId") == message_id and "chat_id" in message
                    and str(message["chat_id"]) == chat):
                return dict(item)
        return None

    @staticmethod
    def _sent(echo: JSON) -> JSON:
        """A sent message: the emulator echoes the request's parameters into it, some as JSON
        strings (link_preview_options, …) that no Bot API client can read; keep Telegram's."""
        result: JSON = {"message_id": echo["message_id"], "date": echo["date"],
                        "chat": {"id": _int(echo.get("chat_id")), "type": "private"},
                        "from": BOT_USER, "text": str(echo.get("text", ""))}
        markup = _json_param(echo.get("reply_markup"))
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            result["reply_markup"] = markup
        return result

    @staticmethod
    def _message(stored: JSON, params: JSON) -> JSON:
        """The edited message as Telegram would return it."""
        message = stored.get("message") or {}
        result: JSON = {
            "message_id": _int(params.get("message_id")),
            "date": int(stored.get("time", time.time() * 1000) // 1000),
            "edit_date": int(time.time()),
            "chat": {"id": _int(params.get("chat_id")), "type": "private"},
            "from": BOT_USER,
            "text": str(message.get("text", "")),
        }
        markup = _json_param(message.get("reply_markup"))
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            result["reply_markup"] = markup
        return result

    async def _delete_messages(self, token: str, params: JSON) -> tuple[int, JSON]:
        ids = _json_param(params.get("message_ids"))
        if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: message_ids must hold 1-100 ids"}
        deleted = False
        for message_id in ids:
            _, body = await self._upstream(
                f"bot{token}/deleteMessage",
                {"chat_id": params.get("chat_id"), "message_id": message_id})
            deleted = deleted or bool(isinstance(body, dict) and body.get("ok"))
        if not deleted:
            return 400, {"ok": False, "error_code": 400,
                         "description": "Bad Request: message to delete not found"}
        return 200, {"ok": True, "result": True}

    async def _get_updates(self, token: str, params: JSON) -> list[JSON]:
        """Telegram's semantics: updates stay until confirmed by a higher offset; long poll."""
        self._polls += 1
        offset = _int(params.get("offset"))
        limit = min(max(_int(params.get("limit"), 100), 1), 100)
        timeout = min(max(float(params.get("timeout") or 0), 0.0), MAX_LONG_POLL)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        pending = self._pending[token]
        while True:
            status, body = await self._upstream(f"bot{token}/getUpdates", {})
            if status == 200 and isinstance(body, dict):
                pending.extend(self._fix_update(u) for u in body.get("result") or [])
            if offset:
                pending[:] = [u for u in pending if u["update_id"] >= offset]
            if pending or loop.time() >= deadline or self._closing.is_set():
                return pending[:limit]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), self.poll_interval)

    def _fix_update(self, update: JSON) -> JSON:
        update = _seconds(update)
        for kind in ("message", "edited_message", "channel_post"):
            if isinstance(update.get(kind), dict):
                update[kind].pop("botToken", None)
        query = update.get("callback_query")
        if isinstance(query, dict):
            message = query.get("message") or {}
            chat_id = (message.get("chat") or {}).get("id") or (query.get("from") or {}).get("id")
            query.setdefault("chat_instance", f"e2e-{chat_id}")
            if chat_id is not None:
                self._callback_chats[str(query.get("id"))] = int(chat_id)
        return update
