"""Showing a screen: edit the pressed message in place, or send a new one; shared by features.

Also the buttons every screen carries (Back, Main menu, SOS) so they look the same everywhere.
"""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest

from bot import callbacks
from bot.context import JolContext
from bot.i18n import Texts

log = logging.getLogger(__name__)

Keyboard = list[list[InlineKeyboardButton]]
SAFETY_TOPIC = "phone-safety"  # how to hide the chat, with the "clear this chat" button


def button(text: str, data: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=data)


def nav_row(texts: Texts, back: str | None = callbacks.MAIN_MENU) -> list[InlineKeyboardButton]:
    """Back (when there is somewhere to go back to), Main menu and SOS."""
    row = []
    if back and back != callbacks.MAIN_MENU:
        row.append(button("⬅️ " + texts("Back"), back))
    row.append(button("🏠 " + texts("Menu"), callbacks.MAIN_MENU))
    row.append(button("🆘 SOS", callbacks.SOS))
    return row


def main_menu(context: JolContext) -> tuple[str, Keyboard]:
    """The first screen: the content's sections, then the self-check, safety, SOS, language."""
    texts = context.texts
    keyboard = [[button(t.title, callbacks.topic_data(t.id))]
                for t in context.content.menu(texts.lang)]
    keyboard.append([button("✅ " + texts("Check a job offer"),
                            context.content.selfcheck.data("", family=False))])
    keyboard.append([button("🛡 " + texts("Safety"), callbacks.topic_data(SAFETY_TOPIC)),
                     button("🆘 SOS", callbacks.SOS),
                     button("🌐 " + texts("Language"), callbacks.LANGUAGE)])
    text = "<b>" + texts("Main menu") + "</b>\n\n" + texts(
        "Choose a topic, or just type your question in your own words.")
    return text, keyboard


async def show_main_menu(update: Update, context: JolContext) -> None:
    await show(update, context, *main_menu(context))


async def show(update: Update, context: JolContext, text: str, keyboard: Keyboard) -> None:
    """Edit the message whose button was pressed, else send a new message."""
    markup = InlineKeyboardMarkup(keyboard) if keyboard else None
    query = update.callback_query
    if query is not None and isinstance(query.message, Message):
        try:
            await query.message.edit_text(text, reply_markup=markup)
            return
        except BadRequest as error:
            if "not modified" in error.message:
                return  # the same screen pressed twice: already showing
            # The message is gone or can no longer be edited: fall through and send anew.
            log.info("edit failed (%s); sending a new message", error.message)
    await reply(update, context, text, keyboard)


async def reply(update: Update, context: JolContext, text: str,
                keyboard: Keyboard | None = None) -> None:
    """Send a new message to the chat, remembering its id for "clear this chat"."""
    chat = update.effective_chat
    if chat is None:
        return
    markup = InlineKeyboardMarkup(keyboard) if keyboard else None
    sent = await context.bot.send_message(chat.id, text, reply_markup=markup)
    context.services.recent.add(chat.id, sent.message_id)


async def answer_callback(update: Update, text: str | None = None) -> None:
    """Stop the button's spinner; an expired query is not worth failing the update for."""
    if update.callback_query is None:
        return
    try:
        await update.callback_query.answer(text)
    except BadRequest as error:
        log.info("callback answer failed: %s", error.message)
