"""The Bot API transport on aiohttp: one keep-alive session for every call the bot makes.

python-telegram-bot's default transport (httpx) costs several times more CPU per request than
aiohttp; under load the bot spends its time in the HTTP client rather than in its handlers
(see bench/README.md for the numbers). This class keeps PTB's contract (`BaseRequest`): it
returns (HTTP status, body) and leaves it to PTB to turn statuses into errors, so a 429 with
`retry_after` still becomes `RetryAfter` and a 400 `BadRequest` with Telegram's own text.

`RetryTransient` wraps any transport (this one, or the in-process fake in tests) and retries
the Bot API's transient 5xx answers with a capped exponential backoff: a 502 from Telegram's
front end means the call did not run, and losing the answer would be worse than waiting.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot import metrics

# Error texts from aiohttp may carry the request URL, and the URL carries the bot token.
_TOKEN_IN_URL = re.compile(r"/bot[^/\s]+/")


# Internal Server Error, Bad Gateway, Service Unavailable, Gateway Timeout.
TRANSIENT_STATUSES = frozenset({500, 502, 503, 504})


def _redact(text: str) -> str:
    return _TOKEN_IN_URL.sub("/bot<token>/", text)


class AiohttpRequest(BaseRequest):
    """A `telegram.request.BaseRequest` on one shared `aiohttp.ClientSession`.

    Timeouts are in seconds, `None` meaning "wait for ever", and are the defaults for calls
    that do not pass their own (PTB passes `read_timeout` for long polling, for instance).
    aiohttp has no separate write timeout, so the write timeout bounds the whole request
    together with the others: a call never lasts longer than pool + connect + write + read.
    """

    __slots__ = ("_connect_timeout", "_media_write_timeout", "_pool_size", "_pool_timeout",
                 "_read_timeout", "_session", "_write_timeout")

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be at least 1")
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        # PTB may initialize one instance twice at once (as `request` and as
        # `get_updates_request`); nothing here awaits, so the second call sees the first's session.
        if self._session is not None and not self._session.closed:
            return
        connector = aiohttp.TCPConnector(
            limit=self._pool_size,
            limit_per_host=0,  # one host (the Bot API): the pool size is the only limit
            keepalive_timeout=60,
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": self.USER_AGENT},
            timeout=aiohttp.ClientTimeout(total=None),  # each call sets its own, see do_request
            cookie_jar=aiohttp.DummyCookieJar(),
            trust_env=False,
        )

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    def _timeout(
        self,
        read: ODVInput[float],
        write: ODVInput[float],
        connect: ODVInput[float],
        pool: ODVInput[float],
        uploads_files: bool,
    ) -> aiohttp.ClientTimeout:
        read_s = self._read_timeout if isinstance(read, DefaultValue) else read
        connect_s = self._connect_timeout if isinstance(connect, DefaultValue) else connect
        pool_s = self._pool_timeout if isinstance(pool, DefaultValue) else pool
        if isinstance(write, DefaultValue):
            write_s = self._media_write_timeout if uploads_files else self._write_timeout
        else:
            write_s = write
        parts = (pool_s, connect_s, write_s, read_s)
        return aiohttp.ClientTimeout(
            # aiohttp's `connect` covers waiting for a pooled connection and opening a new one.
            connect=None if pool_s is None or connect_s is None else pool_s + connect_s,
            sock_connect=connect_s,
            sock_read=read_s,
            total=None if any(p is None for p in parts) else sum(p or 0.0 for p in parts),
        )

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
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")

        body: aiohttp.FormData | bytes | None = None
        headers: dict[str, str] = {}
        uploads_files = request_data is not None and request_data.contains_files
        if request_data is not None and uploads_files:
            body = aiohttp.FormData()
            for name, value in request_data.json_parameters.items():
                body.add_field(name, value)
            for name, (filename, content, mimetype) in request_data.multipart_data.items():
                body.add_field(name, content, filename=filename, content_type=mimetype)
        elif request_data is not None:
            body = request_data.json_payload
            headers["Content-Type"] = "application/json"

        timeout = self._timeout(read_timeout, write_timeout, connect_timeout, pool_timeout,
                                uploads_files)
        try:
            async with session.request(method, url, data=body, headers=headers,
                                       timeout=timeout) as response:
                return response.status, await response.read()
        except TimeoutError as error:  # aiohttp's own timeout errors are subclasses
            raise TimedOut(_redact(str(error)) or "Timed out") from error
        except aiohttp.ClientError as error:
            message = f"aiohttp.{type(error).__name__}: {_redact(str(error))}"
            raise NetworkError(message) from error


class RetryTransient(BaseRequest):
    """Retries a call that Telegram answered with a transient 5xx: after 0.25, 0.5, 1 and 2 s
    (under 4 s in all, so shutdown stays quick), then gives the last answer to PTB."""

    __slots__ = ("_first_wait", "_inner", "_retries")

    def __init__(self, inner: BaseRequest, retries: int = 4, first_wait: float = 0.25) -> None:
        self._inner = inner
        self._retries = retries
        self._first_wait = first_wait

    @property
    def read_timeout(self) -> float | None:
        return self._inner.read_timeout

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()

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
        attempt = 0
        while True:
            status, body = await self._inner.do_request(
                url, method, request_data, read_timeout=read_timeout,
                write_timeout=write_timeout, connect_timeout=connect_timeout,
                pool_timeout=pool_timeout)
            if status not in TRANSIENT_STATUSES or attempt >= self._retries:
                return status, body
            metrics.TELEGRAM_5XX.labels(str(status)).inc()
            await asyncio.sleep(self._first_wait * 2 ** attempt)
            attempt += 1
