"""Retention: closed cases, and cases idle past JOL_CASE_RETENTION_DAYS, leave no trace.

Each due case loses its forum topic (with every message in it) and then its row; a topic the
bot cannot delete (rights lost) keeps its row, with the chat already forgotten, for the next
run, so no topic is ever left without a record of it. A person whose idle case is purged is
told once. Expired blocks are deleted too. Runs at start and then hourly, in every replica
(idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from telegram.error import TelegramError

from bot import events
from bot.db.models import OPEN
from bot.i18n import texts

if TYPE_CHECKING:
    from telegram import Bot

    from bot.context import Services
    from bot.handoff.relay import Handoff

log = logging.getLogger(__name__)

PURGE_SECONDS = 3600


async def purge_cases(handoff: Handoff, bot: Bot, services: Services | None = None) -> int:
    """Delete every case due; returns how many are gone (row and topic)."""
    book = handoff.book
    purged = 0
    for case in await book.due_for_purge(handoff.retention_days):
        if case.status == OPEN:
            await book.close(case.code)
            if case.chat_id is not None:
                handoff.seen_open(case.chat_id, False)
                if services is not None:
                    services.stats.count(events.CASE_CLOSED, "", case.lang, chat=case.chat_id)
                with contextlib.suppress(TelegramError):
                    await bot.do_api_request("sendMessage", api_kwargs={
                        "chat_id": case.chat_id, "text": texts(case.lang)(
                            "Your conversation with the caseworkers was closed after {days} "
                            "days without messages. To talk again: /talk.",
                            days=handoff.retention_days)})
        if await handoff.drop_topic(bot, case.topic_id):
            await book.delete(case.code)
            purged += 1
    await book.delete_expired_blocks()
    return purged


async def purge_loop(services: Services, bot: Bot, stopping: asyncio.Event) -> None:
    handoff = services.handoff
    if handoff is None:
        return
    while not stopping.is_set():
        try:
            await handoff.check(bot)
            purged = await purge_cases(handoff, bot, services)
            if purged:
                log.info("handoff: purged %d cases (rows and topics)", purged)
        except Exception as error:
            log.error("handoff: purge failed (%s)", type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=PURGE_SECONDS)
