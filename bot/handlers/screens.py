"""Showing a screen: edit the pressed message in place, or send a new one; shared by features.

Also the buttons every screen carries (Back, Main menu, SOS) so they look the same everywhere.

Screens are sent as plain Bot API calls (`do_api_request`): buttons are plain dicts dumped to
JSON once, and Telegram's reply stays a dict. Building python-telegram-bot objects for each
button and parsing the echoed message back into a `Message` (of which only the id is used)
took about a third of the bot's CPU under load (bench/README.md).
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
import warnings
from typing import Any

from telegram import Message, Update
from telegram.error import BadRequest
from telegram.warnings import PTBUserWarning

from bot import callbacks
from bot.content.model import Topic
from bot.context import JolContext
from bot.i18n import Texts

log = logging.getLogger(__name__)

Button = dict[str, str]
Keyboard = list[list[Button]]
SAFETY_TOPIC = "phone-safety"  # how to hide the chat, with the "clear this chat" button

# do_api_request suggests bot.send_message for a method it knows; here the raw call is the point.
warnings.filterwarnings("ignore", message=r"Please use 'Bot\.(sendMessage|editMessageText)'",
                        category=PTBUserWarning)


def button(text: str, data: str) -> Button:
    return {"text": text, "callback_data": data}


def nav_row(texts: Texts, back: str | None = callbacks.MAIN_MENU) -> list[Button]:
    """Back (when there is somewhere to go back to), Main menu and SOS."""
    row = []
    if back and back != callbacks.MAIN_MENU:
        row.append(button("⬅️ " + texts("Back"), back))
    row.append(button("🏠 " + texts("Menu"), callbacks.MAIN_MENU))
    row.append(button("🆘 SOS", callbacks.SOS))
    return row


def fallback_note(context: JolContext, topic: Topic) -> str:
    """For a topic not yet translated into the user's (partial) language: one line saying in
    which language it is shown instead; nothing otherwise."""
    if topic.lang == context.texts.lang:
        return ""
    language = context.content.languages.by_code.get(topic.lang)
    note = context.texts("This page is not yet translated into your language; here it is in "
                         "{language}.", language=language.name if language else topic.lang)
    return f"<i>{html.escape(note)}</i>\n\n"


def main_menu(context: JolContext) -> tuple[str, Keyboard]:
    """The first screen: the content's sections, then the self-check, safety, SOS, language."""
    texts = context.texts
    keyboard = [[button(t.title, callbacks.topic_data(t.id))]
                for t in context.content.menu(texts.lang)]
    keyboard.append([button("✅ " + texts("Check a job offer"),
                            context.content.selfcheck.data(family=False))])
    keyboard.append([button("🛡 " + texts("Safety"), callbacks.topic_data(SAFETY_TOPIC)),
                     button("🆘 SOS", callbacks.SOS),
                     button("🌐 " + texts("Language"), callbacks.LANGUAGE)])
    text = "<b>" + texts("Main menu") + "</b>\n\n" + texts(
        "Choose a topic, or just type your question in your own words.")
    return text, keyboard


async def show_main_menu(update: Update, context: JolContext, notice: str | None = None) -> None:
    await show(update, context, *main_menu(context), notice=notice)


def _screen(text: str, keyboard: Keyboard | None) -> dict[str, Any]:
    """The parameters every screen is sent with (the bot's Defaults do not apply to raw calls)."""
    params: dict[str, Any] = {"text": text, "parse_mode": "HTML",
                              "link_preview_options": '{"is_disabled":true}'}
    if keyboard:
        params["reply_markup"] = json.dumps({"inline_keyboard": keyboard}, ensure_ascii=False,
                                            separators=(",", ":"))
    return params


_TAG = re.compile(r"<[^>]*>")


def _already_shown(message: Message, text: str, keyboard: Keyboard) -> bool:
    """Whether the pressed message shows this very screen (e.g. SOS pressed on the SOS screen):
    an edit would only earn "message is not modified", a call that counts against flood limits.
    Telegram's copy of the text is plain (tags become entities), so the tags are dropped here."""
    markup = message.reply_markup
    shown = [[(b.text, b.callback_data) for b in row]
             for row in (markup.inline_keyboard if markup else ())]
    wanted = [[(b["text"], b["callback_data"]) for b in row] for row in keyboard]
    return shown == wanted and (message.text or "").strip() == html.unescape(
        _TAG.sub("", text)).strip()


async def show(update: Update, context: JolContext, text: str, keyboard: Keyboard,
               notice: str | None = None) -> None:
    """Edit the message whose button was pressed, else send a new message.

    A press is answered (its spinner stopped, with `notice` if given) at the same time as the
    edit goes out, not one round trip before it.
    """
    if update.callback_query is None:
        await _edit_or_send(update, context, text, keyboard)
        return
    await asyncio.gather(answer_callback(update, context, notice),
                         _edit_or_send(update, context, text, keyboard))


async def _edit_or_send(update: Update, context: JolContext, text: str,
                        keyboard: Keyboard) -> None:
    query = update.callback_query
    if query is not None and isinstance(query.message, Message):
        if _already_shown(query.message, text, keyboard):
            return
        try:
            await context.bot.do_api_request("editMessageText", api_kwargs={
                "chat_id": query.message.chat_id, "message_id": query.message.message_id,
                **_screen(text, keyboard)})
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
    sent = await context.bot.do_api_request("sendMessage", api_kwargs={
        "chat_id": chat.id, **_screen(text, keyboard)})
    context.services.recent.add(chat.id, sent["message_id"])


async def answer_callback(update: Update, context: JolContext, text: str | None = None) -> None:
    """Stop the button's spinner (once per press); an expired query is only logged."""
    if update.callback_query is None or context.callback_answered:
        return
    context.callback_answered = True
    try:
        await update.callback_query.answer(text)
    except BadRequest as error:
        log.info("callback answer failed: %s", error.message)
