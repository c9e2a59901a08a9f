"""A Bot API stand-in over real HTTP, for end-to-end tests and the benchmark.

Each bot token gets its own FakeTelegram (bot/fake_telegram.py), so Telegram's limits and error
texts are the same as in the offline tests; this module adds what only HTTP needs: the
`/bot{token}/{method}` routes, long-polling getUpdates, webhook delivery, and a control API
through which simulated users write to the bot and wait for its answers.

Bot API (as Telegram serves it; the base URL for python-telegram-bot is `{url}/bot`):
    GET|POST /bot{token}/{method}     JSON, form-encoded or multipart body (or query string);
                                      answers {"ok": true, "result": …} or
                                      {"ok": false, "error_code", "description"[, "parameters"]}

Control API (for simulated users; JSON in, JSON out):
    POST /control/{token}/update      body: an update (update_id is filled in when missing)
                                      → {"update_id"}
    POST /control/{token}/message     {"user_id", "text"[, "language_code", "first_name"]}
                                      → {"update_id", "chat_id", "message_id", "events"}
    POST /control/{token}/callback    {"user_id", "message_id", "data"[, "language_code"]}
                                      → {"update_id", "chat_id", "events", "answers"}
    GET  /control/{token}/wait?chat_id=N[&after=K][&answers=A][&timeout=S]
                                      waits (up to S seconds, default 10) until the chat has
                                      more than K events (default 0) — or, with `answers`,
                                      more than A answered button presses — then
                                      → {"chat_id", "events": [the new ones], "count",
                                         "timed_out", "messages": [those the new events touch],
                                         "callback_answers": [all so far]}
    GET  /control/{token}/chat?chat_id=N
                                      → {"chat_id", "count", "messages": [visible ones],
                                         "callback_answers"}
    POST /control/{token}/fail        {"method", "status" (default 500), "times" (default 1)}:
                                      the next calls of that method answer a 5xx → {}
    POST /control/{token}/revoke      from now on the token is rejected (401 Unauthorized),
                                      as after /revoke in @BotFather → {}
    POST /control/{token}/hold        {"chat_id", "seconds"}: calls for that chat alone answer
                                      429 with retry_after for that long → {}
    GET  /control/{token}/stats       → {"calls", "errors", "rate_limited", "pending_updates",
                                         "webhook", "webhook_retries", "held_calls"}
    POST /control/{token}/media       {"user_id", "kind" (photo, voice, sticker, location,
                                      contact, document)[, "caption", "language_code",
                                      "first_name", "username"]} → like /message
    POST /control/{token}/block       {"user_id"}: the user blocks the bot (403 from now) → {}
  Forum supergroups (the handoff's caseworkers):
    POST /control/{token}/forum       {"chat_id"[, "title", "rights": [...], "is_forum"]}: a
                                      supergroup with topics, the bot an admin → {}
    GET  /control/{token}/forum?chat_id=N
                                      → {"chat_id", "title", "topics": {thread id: name},
                                         "messages": [every message, the bot's and members',
                                         with "thread_id", "protect_content", "copied"]}
    POST /control/{token}/group_message {"chat_id", "user_id", "text"[, "thread_id", "kind"]}:
                                      a member writes in a topic → {"update_id", "events"}

`events` counts a chat's history: "user 3" (the user wrote message 3), "send 4", "edit 4",
"delete 4". A client remembers `events` from /message or /callback and passes it as `after`,
so /wait returns exactly the bot's reaction to that action.

    POST /control/{token}/pause       {"tag", "paused" (default true)[, "webhook_timeout"]}: Bot
                                      API calls made by the path /{tag}/bot{token}/… wait until
                                      resumed (one replica's answers held; a caller that dies
                                      meanwhile made no call); webhook_timeout: seconds before an
                                      unanswered delivery is tried again (default 60) → {}

Webhooks: after setWebhook (loopback URLs only) queued updates are POSTed to the URL with the
secret in `X-Telegram-Bot-Api-Secret-Token`, up to `max_connections` (default 40) at once and
one at a time per chat, each retried with backoff on a refused connection, a non-2xx answer or
no answer within 60 s, as Telegram does; getUpdates then answers 409 Conflict.

A base URL with a tag, `http://host:port/{tag}/bot`, is served like `/bot`: replicas of one
bot given different tags can be told apart (see /pause).

`--flood` makes every bot answer 429 (retry_after 1) above 30 messages a second.

Run: `python -m bot.standin --port 8081 [--flood]`; in code: `start_standin(host, port)`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import logging
import re
import signal
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from bot.fake_telegram import (
    ADMIN_RIGHTS,
    JSON,
    ChatLog,
    FakeTelegram,
    SentMessage,
    encode_response,
)

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
FLOOD_LIMIT = 30  # messages a second, all chats together, as Telegram allows
MAX_POLL_TIMEOUT = 50.0  # seconds; Telegram caps long polls too
_TOKEN = re.compile(r"^(\d{1,20}):[A-Za-z0-9_-]{1,64}$")


WEBHOOK_TIMEOUT = 60.0  # seconds Telegram waits for a webhook's answer before trying again


def _update_chat(update: JSON) -> int:
    """The chat an update belongs to (its delivery order is kept per chat); 0 if none."""
    for kind in ("message", "edited_message", "channel_post", "callback_query"):
        item = update.get(kind)
        if isinstance(item, dict):
            chat = (item.get("message") or item).get("chat") or item.get("from") or {}
            return int(chat.get("id", 0))
    return 0


def _is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _error(code: int, description: str) -> tuple[int, bytes]:
    body = {"ok": False, "error_code": code, "description": description}
    return code, json.dumps(body).encode()


def message_json(message: SentMessage) -> JSON:
    """A message as a control client sees it: the text a user reads and the buttons."""
    return {"message_id": message.message_id, "kind": message.kind, "text": message.text,
            "html": message.html, "buttons": message.buttons, "edits": message.edits,
            "deleted": message.deleted, "thread_id": message.thread_id,
            "protect_content": message.protect_content, "copied": message.copied}


class StandInBot:
    """One bot's Telegram: its FakeTelegram, the updates waiting for it, and who waits on what.

    Simulated users in the same process (the benchmark) use this class directly: `push` an
    update, then `wait_for_chat` until the bot has reacted.
    """

    def __init__(self, token: str, *, flood: bool = False,
                 http: ClientSession | None = None) -> None:
        match = _TOKEN.match(token)
        bot_id = int(match.group(1)) if match else 777000
        self.token = token
        self.telegram = FakeTelegram(bot_id=bot_id, username=f"standin_{bot_id}_bot",
                                     global_rate_limit=FLOOD_LIMIT if flood else None)
        self.calls: Counter[str] = Counter()  # Bot API method -> calls
        self.errors: Counter[str] = Counter()  # "sendMessage 400: Bad Request: …" -> answers
        # chat id -> edits refused as "message is not modified": the screen a button asked
        # for was already shown, so the user sees no change, and that is the whole answer.
        self.unchanged: Counter[int] = Counter()
        self._http = http
        self._arrived = asyncio.Event()  # set while updates wait to be fetched
        self._watchers: dict[int, asyncio.Event] = {}  # chat id -> woken on its next change
        self._queries: dict[str, int] = {}  # open callback query id -> its chat
        self._delivery: asyncio.Task[None] | None = None
        self._delivering: set[int] = set()  # id() of the updates being POSTed
        self.webhook_retries = 0  # deliveries that failed and were tried again
        self.webhook_timeout = WEBHOOK_TIMEOUT  # seconds before a delivery is tried again
        self.held_calls = 0  # Bot API calls that waited for a pause to end
        # Bot API calls that came by a tagged path (/{tag}/bot…) wait while their tag is paused:
        # a test holds one replica's answers, then kills it — Telegram never saw them.
        self.paused: dict[str, asyncio.Event] = {}

    # ---- the user's side --------------------------------------------------------------------

    def push(self, update: JSON) -> None:
        """Queue an update for getUpdates, or for webhook delivery when one is set."""
        query = update.get("callback_query")
        if query:  # so that answering it wakes whoever waits on that chat
            chat = (query.get("message") or {}).get("chat") or query.get("from") or {}
            self._queries[str(query.get("id"))] = int(chat.get("id", 0))
        self.telegram.pending_updates.append(update)
        self._arrived.set()

    def message(self, user_id: int, text: str, language_code: str | None = "ru",
                first_name: str = "Test", username: str | None = None) -> JSON:
        """The user writes `text` in their private chat with the bot; returns the update."""
        update = self.telegram.message_update(user_id, text, language_code=language_code,
                                              first_name=first_name, username=username)
        self.push(update)
        return update

    def press(self, user_id: int, message_id: int, data: str,
              language_code: str | None = "ru") -> JSON:
        """The user presses a button with `data` on message `message_id`; returns the update."""
        update = self.telegram.callback_update(user_id, message_id, data,
                                               language_code=language_code)
        self.push(update)
        return update

    def chat(self, chat_id: int) -> ChatLog:
        return self.telegram.chats.setdefault(chat_id, ChatLog(chat_id))

    async def wait_until(self, chat_id: int, ready: Callable[[ChatLog], bool],
                         timeout: float) -> bool:
        """Wait until `ready(chat)` holds, checked whenever the bot touches that chat (sends,
        edits, deletes, answers a button press there); False if `timeout` ran out first."""
        chat = self.chat(chat_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not ready(chat):
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            watcher = self._watchers.setdefault(chat_id, asyncio.Event())
            try:
                async with asyncio.timeout(remaining):
                    await watcher.wait()
            except TimeoutError:
                return ready(chat)
        return True

    async def wait_for_chat(self, chat_id: int, after: int, timeout: float) -> bool:
        """Wait until the chat has more than `after` events; False if `timeout` ran out."""
        return await self.wait_until(chat_id, lambda chat: len(chat.events) > after, timeout)

    def _changed(self, chat_id: int) -> None:
        watcher = self._watchers.pop(chat_id, None)
        if watcher is not None:
            watcher.set()

    # ---- the bot's side ---------------------------------------------------------------------

    async def call(self, method: str, params: JSON) -> tuple[int, bytes]:
        """Answer one Bot API call as Telegram would: (HTTP status, JSON body)."""
        self.calls[method] += 1
        lowered = method.lower()
        if lowered == "getupdates":
            status, body = await self._get_updates(params)
        elif lowered == "setwebhook" and not _is_loopback(str(params.get("url", ""))):
            status, body = _error(400, "Bad Request: bad webhook: the stand-in delivers "
                                       "only to loopback addresses")
        elif lowered == "getwebhookinfo":
            info = {"url": self.telegram.webhook.get("url", ""),
                    "has_custom_certificate": False,
                    "pending_update_count": len(self.telegram.pending_updates)}
            status, body = 200, json.dumps({"ok": True, "result": info}).encode()
        else:
            if lowered == "deletewebhook" and str(params.get("drop_pending_updates")) in (
                    "True", "true", "1"):
                self.telegram.pending_updates.clear()
            status, body = encode_response(self.telegram, method, params)
            if lowered in ("setwebhook", "deletewebhook") and status == 200:
                self._webhook_changed()
        if lowered == "answercallbackquery":
            chat_id = self._queries.pop(str(params.get("callback_query_id")), 0)
        else:
            try:
                chat_id = int(params.get("chat_id", 0))
            except (TypeError, ValueError):
                chat_id = 0
        if status != 200:
            description = str(json.loads(body).get("description", ""))
            self.errors[f"{method} {status}: {description[:60]}"] += 1
            if "message is not modified" in description:
                self.unchanged[chat_id] += 1
        if chat_id:
            self._changed(chat_id)
        return status, body

    async def _get_updates(self, params: JSON) -> tuple[int, bytes]:
        if self.telegram.webhook.get("url"):
            return _error(409, "Conflict: can't use getUpdates method while webhook is active; "
                               "use deleteWebhook to delete the webhook first")
        try:
            timeout = min(float(params.get("timeout") or 0), MAX_POLL_TIMEOUT)
        except (TypeError, ValueError):
            return _error(400, "Bad Request: wrong timeout")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            status, body = encode_response(self.telegram, "getUpdates", params)
            # drops the confirmed updates
            remaining = deadline - loop.time()
            if status != 200 or self.telegram.pending_updates or remaining <= 0:
                return status, body
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()

    # ---- webhook delivery -------------------------------------------------------------------

    def _webhook_changed(self) -> None:
        if self._delivery is not None:
            self._delivery.cancel()
            self._delivery = None
        if self.telegram.webhook.get("url"):
            self._delivery = asyncio.create_task(self._deliver(), name=f"webhook {self.token}")
            self._arrived.set()  # deliver what was already waiting

    async def _deliver(self) -> None:
        """POST waiting updates as Telegram does: up to `max_connections` at once, one at a
        time per chat (so a chat's updates keep their order), each retried with backoff until
        the bot answers 2xx — a refused connection, a 5xx, a 503 or no answer in time all mean
        "try again" (another replica behind a balancer may take it)."""
        assert self._http is not None, "webhook delivery needs the stand-in's HTTP session"
        url = str(self.telegram.webhook["url"])
        secret = self.telegram.webhook.get("secret")
        headers = {SECRET_HEADER: str(secret)} if secret else {}
        connections = asyncio.Semaphore(self.telegram.webhook.get("max_connections") or 40)
        pending = self.telegram.pending_updates
        busy_chats: set[int] = set()  # chats with an update being delivered
        http = self._http

        async def deliver(update: JSON, chat: int) -> None:
            failures = 0
            try:
                while True:
                    try:
                        async with connections, http.post(
                                url, json=update, headers=headers,
                                timeout=ClientTimeout(total=self.webhook_timeout)) as response:
                            if 200 <= response.status < 300:
                                break
                    except (ClientError, TimeoutError):
                        pass
                    failures += 1
                    self.webhook_retries += 1
                    await asyncio.sleep(min(1.0, 0.05 * 2 ** min(failures, 5)))
                pending.remove(update)
            finally:
                busy_chats.discard(chat)
                self._delivering.discard(id(update))
                self._arrived.set()

        tasks: set[asyncio.Task[None]] = set()
        try:
            while True:
                started = False
                for update in list(pending):
                    chat = _update_chat(update)
                    if chat in busy_chats or id(update) in self._delivering:
                        continue
                    busy_chats.add(chat)
                    self._delivering.add(id(update))
                    task = asyncio.create_task(deliver(update, chat))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                    started = True
                if not started:
                    self._arrived.clear()
                    await self._arrived.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        if self._delivery is not None:
            self._delivery.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._delivery
            self._delivery = None


class StandIn:
    """All bots the stand-in serves, one per token, created on their first call."""

    def __init__(self, *, flood: bool = False) -> None:
        self.flood = flood
        self.bots: dict[str, StandInBot] = {}
        self.revoked: set[str] = set()
        self.http: ClientSession | None = None  # for webhook delivery; opened by the app

    def bot(self, token: str) -> StandInBot:
        bot = self.bots.get(token)
        if bot is None:
            bot = self.bots[token] = StandInBot(token, flood=self.flood, http=self.http)
        return bot

    async def close(self) -> None:
        for bot in self.bots.values():
            await bot.close()
        if self.http is not None:
            await self.http.close()
            self.http = None


STANDIN = web.AppKey("standin", StandIn)


async def _params(request: web.Request) -> JSON:
    """Bot API parameters from the query string and a JSON, form or multipart body; a file
    becomes (filename, bytes), as LocalRequest passes it."""
    params: JSON = dict(request.query)
    if not request.body_exists:
        return params
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("the JSON body is not an object")
        params.update(body)
        return params
    form = await request.post()
    for name, value in form.items():
        if isinstance(value, web.FileField):
            params[name] = (value.filename, value.file.read())
        else:
            params[name] = value
    return params


async def bot_api(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        status, body = _error(404, "Not Found")
    elif token in request.app[STANDIN].revoked:
        status, body = _error(401, "Unauthorized")
    else:
        try:
            params = await _params(request)
        except ValueError:  # malformed JSON included
            status, body = _error(400, "Bad Request: can't parse the request body")
        else:
            bot = request.app[STANDIN].bot(token)
            paused = bot.paused.get(request.match_info.get("tag", ""))
            if paused is not None:
                # Held until resumed; a caller that goes away meanwhile (killed) cancels this
                # handler, and the call never happened.
                bot.held_calls += 1
                await paused.wait()
            status, body = await bot.call(request.match_info["method"], params)
    return web.Response(status=status, body=body, content_type="application/json")


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise web.HTTPBadRequest(text=f"{name} must be a whole number") from None


async def _json_body(request: web.Request) -> JSON:
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="the body must be JSON") from None
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="the body must be a JSON object")
    return body


def _control_bot(request: web.Request) -> StandInBot:
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        raise web.HTTPNotFound(text="not a bot token")
    return request.app[STANDIN].bot(token)


async def control_update(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    update = await _json_body(request)
    if "update_id" not in update:
        update = bot.telegram._update(**update)
    bot.push(update)
    return web.json_response({"update_id": update["update_id"]})


async def control_message(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    body = await _json_body(request)
    user_id = _int(body.get("user_id"), "user_id")
    update = bot.message(user_id, str(body.get("text", "")), body.get("language_code", "ru"),
                         str(body.get("first_name", "Test")), body.get("username"))
    return web.json_response({"update_id": update["update_id"], "chat_id": user_id,
                              "message_id": update["message"]["message_id"],
                              "events": len(bot.chat(user_id).events)})


async def control_callback(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    body = await _json_body(request)
    user_id = _int(body.get("user_id"), "user_id")
    update = bot.press(user_id, _int(body.get("message_id"), "message_id"),
                       str(body.get("data", "")), body.get("language_code", "ru"))
    chat = bot.chat(user_id)
    return web.json_response({"update_id": update["update_id"], "chat_id": user_id,
                              "events": len(chat.events), "answers": len(chat.callback_answers)})


async def control_wait(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    chat_id = _int(request.query.get("chat_id"), "chat_id")
    after = _int(request.query.get("after", 0), "after")
    try:
        timeout = min(float(request.query.get("timeout", 10)), MAX_POLL_TIMEOUT)
    except ValueError:
        raise web.HTTPBadRequest(text="timeout must be a number of seconds") from None
    answers = request.query.get("answers")
    if answers is None:
        arrived = await bot.wait_for_chat(chat_id, after, timeout)
    else:  # a button press may be answered without changing any message
        known = _int(answers, "answers")
        arrived = await bot.wait_until(
            chat_id, lambda c: len(c.events) > after or len(c.callback_answers) > known, timeout)
    chat = bot.chat(chat_id)
    new_events = chat.events[after:]
    touched = {int(event.split()[1]) for event in new_events if not event.startswith("user")}
    messages = [message_json(chat.messages[i]) for i in sorted(touched) if i in chat.messages]
    return web.json_response({"chat_id": chat_id, "events": new_events,
                              "count": len(chat.events), "timed_out": not arrived,
                              "messages": messages,
                              "callback_answers": chat.callback_answers})


async def control_chat(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    chat = bot.chat(_int(request.query.get("chat_id"), "chat_id"))
    return web.json_response({"chat_id": chat.chat_id, "count": len(chat.events),
                              "messages": [message_json(m) for m in chat.visible],
                              "callback_answers": chat.callback_answers})


async def control_fail(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    body = await _json_body(request)
    status = _int(body.get("status", 500), "status")
    if not 500 <= status <= 599:
        raise web.HTTPBadRequest(text="status must be a 5xx")
    bot.telegram.fail(str(body.get("method", "sendMessage")), status,
                      _int(body.get("times", 1), "times"))
    return web.json_response({})


async def control_revoke(request: web.Request) -> web.Response:
    token = request.match_info["token"]
    if not _TOKEN.match(token):
        raise web.HTTPNotFound(text="not a bot token")
    request.app[STANDIN].revoked.add(token)
    return web.json_response({})


async def control_hold(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    body = await _json_body(request)
    bot.telegram.hold_chat(_int(body.get("chat_id"), "chat_id"),
                           _int(body.get("seconds"), "seconds"))
    return web.json_response({})


async def control_pause(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    body = await _json_body(request)
    if "webhook_timeout" in body:
        bot.webhook_timeout = float(body["webhook_timeout"])
    tag = str(body.get("tag", ""))
    if not tag:
        raise web.HTTPBadRequest(text="tag is required")
    if body.get("paused", True):
        bot.paused.setdefault(tag, asyncio.Event())
    else:
        event = bot.paused.pop(tag, None)
        if event is not None:
            event.set()
    return web.json_response({})


async def control_stats(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    return web.json_response({"calls": dict(bot.calls), "errors": dict(bot.errors),
                              "rate_limited": bot.telegram.rate_limited,
                              "pending_updates": len(bot.telegram.pending_updates),
                              "webhook": bot.telegram.webhook.get("url", ""),
                              "webhook_retries": bot.webhook_retries,
                              "held_calls": bot.held_calls})


async def control_media(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    body = await _json_body(request)
    user_id = _int(body.get("user_id"), "user_id")
    kind = str(body.get("kind", ""))
    if kind not in ("photo", "voice", "sticker", "location", "contact", "document"):
        raise web.HTTPBadRequest(text="kind must be photo, voice, sticker, location, contact "
                                      "or document")
    update = bot.telegram.media_update(
        user_id, kind, language_code=body.get("language_code", "ru"),
        caption=body.get("caption"), first_name=str(body.get("first_name", "Test")),
        username=body.get("username"))
    bot.push(update)
    return web.json_response({"update_id": update["update_id"], "chat_id": user_id,
                              "message_id": update["message"]["message_id"],
                              "events": len(bot.chat(user_id).events)})


async def control_block(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    body = await _json_body(request)
    bot.telegram.block_bot(_int(body.get("user_id"), "user_id"))
    return web.json_response({})


async def control_forum(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    if request.method == "POST":
        body = await _json_body(request)
        rights = body.get("rights")
        bot.telegram.create_forum(
            _int(body.get("chat_id"), "chat_id"), str(body.get("title", "Caseworkers")),
            rights=frozenset(rights) if isinstance(rights, list) else ADMIN_RIGHTS,
            is_forum=body.get("is_forum", True) is not False)
        return web.json_response({})
    chat = bot.chat(_int(request.query.get("chat_id"), "chat_id"))
    every = sorted([*chat.messages.values(), *chat.incoming.values()],
                   key=lambda m: m.message_id)
    return web.json_response({"chat_id": chat.chat_id, "title": chat.title,
                              "topics": {str(k): v for k, v in chat.topics.items()},
                              "messages": [message_json(m) for m in every]})


async def control_group_message(request: web.Request) -> web.Response:
    bot = _control_bot(request)
    body = await _json_body(request)
    chat_id = _int(body.get("chat_id"), "chat_id")
    if chat_id not in bot.telegram.chats:
        raise web.HTTPBadRequest(text="create the forum first (POST /control/{token}/forum)")
    thread = body.get("thread_id")
    update = bot.telegram.group_message_update(
        chat_id, _int(body.get("user_id"), "user_id"), str(body.get("text", "")),
        thread_id=None if thread is None else _int(thread, "thread_id"),
        kind=str(body.get("kind", "text")))
    bot.push(update)
    return web.json_response({"update_id": update["update_id"],
                              "events": len(bot.chat(chat_id).events)})


def build_app(*, flood: bool = False) -> web.Application:
    app = web.Application(client_max_size=50 * 1024 * 1024)  # Telegram's upload limit
    standin = StandIn(flood=flood)
    app[STANDIN] = standin

    async def open_http(app: web.Application) -> None:
        standin.http = ClientSession(timeout=ClientTimeout(total=10))

    async def close_all(app: web.Application) -> None:
        await standin.close()

    app.on_startup.append(open_http)
    app.on_cleanup.append(close_all)
    app.router.add_route("*", "/bot{token}/{method}", bot_api)
    app.router.add_route("*", "/{tag:[a-z0-9-]+}/bot{token}/{method}", bot_api)
    app.router.add_post("/control/{token}/update", control_update)
    app.router.add_post("/control/{token}/message", control_message)
    app.router.add_post("/control/{token}/callback", control_callback)
    app.router.add_get("/control/{token}/wait", control_wait)
    app.router.add_get("/control/{token}/chat", control_chat)
    app.router.add_post("/control/{token}/fail", control_fail)
    app.router.add_post("/control/{token}/hold", control_hold)
    app.router.add_post("/control/{token}/pause", control_pause)
    app.router.add_post("/control/{token}/revoke", control_revoke)
    app.router.add_get("/control/{token}/stats", control_stats)
    app.router.add_post("/control/{token}/media", control_media)
    app.router.add_post("/control/{token}/block", control_block)
    app.router.add_route("*", "/control/{token}/forum", control_forum)
    app.router.add_post("/control/{token}/group_message", control_group_message)
    return app


async def start_standin(host: str = "127.0.0.1", port: int = 0, *,
                        flood: bool = False) -> tuple[web.AppRunner, str]:
    """Serve the stand-in; returns the runner (`runner.app[STANDIN]` is the StandIn; call
    `await runner.cleanup()` to stop) and the Bot API base URL for python-telegram-bot,
    `http://host:port/bot` (PTB appends `{token}/{method}`). Port 0 picks a free port."""
    # handler_cancellation: a long poll whose client went away ends at once, so cleanup does
    # not wait out its timeout.
    runner = web.AppRunner(build_app(flood=flood), access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    if ":" in bound_host:
        bound_host = f"[{bound_host}]"
    return runner, f"http://{bound_host}:{bound_port}/bot"


async def _serve(host: str, port: int, flood: bool) -> None:
    runner, base_url = await start_standin(host, port, flood=flood)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    print(f"Bot API stand-in on {base_url}  (JOL_API_BASE_URL={base_url})"
          f"{'  flood limit: 30 messages/s' if flood else ''}", flush=True)
    try:
        await stopping.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bot.standin",
                                     description="A Bot API stand-in over HTTP, for tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--flood", action="store_true",
                        help=f"answer 429 above {FLOOD_LIMIT} messages a second")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    asyncio.run(_serve(args.host, args.port, args.flood))


if __name__ == "__main__":
    main()
