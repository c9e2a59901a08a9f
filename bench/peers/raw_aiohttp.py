"""The fastest bot Python can reasonably be: a raw aiohttp long-polling loop, no framework.

Not a peer to beat but the benchmark's ceiling: with this bot the limit is the harness itself
(the stand-in and the simulated users share one core). Same behaviour as the echo peers.
Reads TELEGRAM_BOT_TOKEN and JOL_API_BASE_URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from typing import Any

import aiohttp

KEYBOARD = {"inline_keyboard": [[{"text": "Ещё раз", "callback_data": "again"}]]}


async def main() -> None:
    api = os.environ["JOL_API_BASE_URL"] + os.environ["TELEGRAM_BOT_TOKEN"]
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)

    async with aiohttp.ClientSession() as http:
        async def call(method: str, **params: Any) -> Any:
            async with http.post(f"{api}/{method}", json=params) as answer:
                return (await answer.json()).get("result")

        async def handle(update: dict[str, Any]) -> None:
            if "message" in update:
                message = update["message"]
                await call("sendMessage", chat_id=message["chat"]["id"],
                           text=message.get("text") or "…", reply_markup=KEYBOARD)
            elif "callback_query" in update:
                query = update["callback_query"]
                await call("answerCallbackQuery", callback_query_id=query["id"])
                await call("sendMessage", chat_id=query["from"]["id"],
                           text=f"Нажато: {query.get('data')}", reply_markup=KEYBOARD)

        async def poll() -> None:
            offset = 0
            tasks: set[asyncio.Task[None]] = set()
            while True:
                for update in await call("getUpdates", offset=offset, timeout=10) or []:
                    offset = update["update_id"] + 1
                    task = asyncio.create_task(handle(update))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)

        polling = asyncio.create_task(poll())
        await stopping.wait()
        polling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await polling


if __name__ == "__main__":
    asyncio.run(main())
