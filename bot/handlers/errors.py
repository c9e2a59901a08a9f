"""The last resort: log the failure without user data, and never leave the user in silence."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot import metrics
from bot.context import JolContext
from bot.handlers.screens import answer_callback, nav_row, reply

log = logging.getLogger(__name__)


async def on_error(update: object, context: JolContext) -> None:
    error = context.error
    if isinstance(error, Forbidden):
        return  # the user blocked the bot: nothing to say, nobody to say it to
    if isinstance(error, BadRequest):  # PTB makes it a NetworkError, but the network is fine
        # Telegram's reason ("reply markup is too long") holds no user data; the request's
        # parameters would, and are never logged.
        metrics.TELEGRAM_REFUSED.inc()
        log.error("Telegram refused a request: %s", error.message)
    elif isinstance(error, RetryAfter | TimedOut | NetworkError):
        log.warning("Telegram unreachable or rate-limited: %s", type(error).__name__)
        return
    else:
        metrics.ERRORS.inc()
        # The exception type and where it happened; never the update, which holds user data.
        log.error("handler failed: %s", type(error).__name__, exc_info=error)
    if isinstance(update, Update) and update.effective_chat is not None and (
            update.effective_chat.type == "private"):
        try:
            await answer_callback(update, context)  # no spinner left turning
            await reply(update, context, context.texts(
                "Sorry, something went wrong. Please try again, or use the menu."),
                [nav_row(context.texts)])
        except Exception as second:
            log.error("could not tell the user about the failure: %s", type(second).__name__)
