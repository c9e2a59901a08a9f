"""Clear this chat: delete the bot's and the user's messages, for a phone others may check.

Telegram lets a bot delete messages in a private chat for 48 hours, both its own and the
user's. The ids are remembered in memory only (bot.context.RecentMessages), never stored.

With several replicas each remembers only the messages it handled. So every id between the
oldest one remembered and the newest is deleted too: in a private chat an id can name nothing
but a message of this conversation, and Telegram skips ids that name none — the messages
another replica sent or received in between go as well. (Kept in PostgreSQL instead, the ids
would tell a seized database which chats talked to the bot in the last two days.)
"""

from __future__ import annotations

import logging

from telegram import Message, Update
from telegram.error import BadRequest

from bot.buttons import ClearChatButton, ClearChatConfirmedButton
from bot.context import JolContext
from bot.handlers.screens import ButtonHandler, answer_callback, button, nav_row, show

log = logging.getLogger(__name__)
BATCH = 100  # deleteMessages takes at most 100 ids


async def remember_incoming(update: Update, context: JolContext) -> None:
    """Group -3: note the id of each message the user sends, so it can be cleared too."""
    message = update.message
    if message is not None and message.chat.type == "private":
        context.services.recent.add(message.chat.id, message.message_id)


async def clear_pressed(update: Update, context: JolContext, _: ClearChatButton) -> None:
    """Ask first: deleting cannot be undone."""
    texts = context.texts
    await show(update, context, texts(
        "Delete the messages of this chat, yours and mine, from the last 48 hours? "
        "This cannot be undone."), [
        [button("🧹 " + texts("Yes, delete"), ClearChatConfirmedButton())],
        nav_row(texts, back=None)])


async def clear_confirmed(update: Update, context: JolContext,
                          _: ClearChatConfirmedButton) -> None:
    await answer_callback(update, context)
    texts = context.texts
    chat = update.effective_chat
    if chat is None:
        return
    if update.callback_query is not None and isinstance(update.callback_query.message, Message):
        context.services.recent.add(chat.id, update.callback_query.message.message_id)
    ordered = list(context.services.recent.pop(chat.id))
    for start in range(0, len(ordered), BATCH):
        try:
            await context.bot.delete_messages(chat.id, ordered[start : start + BATCH])
        except BadRequest as error:
            # Already deleted, or older than 48 hours: nothing more can be done for those.
            log.info("some messages could not be deleted: %s", error.message)
    # One short, neutral line: it says nothing about what the chat was about.
    sent = await context.bot.send_message(chat.id, texts("Done."))
    context.services.recent.add(chat.id, sent.message_id)


PRESSES = (ButtonHandler(ClearChatButton, clear_pressed),
           ButtonHandler(ClearChatConfirmedButton, clear_confirmed))
