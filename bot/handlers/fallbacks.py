"""Everything that is not a feature: other chats, unknown commands, media, stale buttons.

Decisions (documented in the README):
- Jol works in private chats only. In a group it answers a command with one short note that
  points to a private chat, and ignores everything else; channel posts are ignored. A command
  addressed to another bot (`/start@other_bot`) is that bot's business: no note.
- A press on a button of an inline-mode message (no chat known) is answered and otherwise
  ignored, so the user's client shows no spinner.
- Edited messages are ignored: editing a question does not re-run it.
- Stickers, photos, voice, locations, contacts, files: a short "I understand text" answer and
  the menu. Nothing from them is read or kept.
"""

from __future__ import annotations

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot.context import JolContext
from bot.handlers.screens import nav_row, reply, show_main_menu


async def other_chats(update: Update, context: JolContext) -> None:
    """Group -1: stop anything that is not a private chat before features see it."""
    chat = update.effective_chat
    if chat is not None and chat.type == "private":
        return
    if update.callback_query is not None:
        await update.callback_query.answer()
    message = update.message
    if chat is not None and chat.type in ("group", "supergroup") and message is not None and (
            message.text or "").startswith("/") and _addressed_to_me(message.text or "",
                                                                     context.bot.username):
        content = context.content
        note = " / ".join(dict.fromkeys(content.catalogs.texts(lang)(
            "I work only in a private chat. Open me and press Start.")
            for lang in content.languages.codes))
        await message.reply_text(note)
    raise ApplicationHandlerStop


def _addressed_to_me(command_text: str, username: str) -> bool:
    """`/x` and `/x@this_bot` are for this bot; `/x@other_bot` is not."""
    _, at, addressee = command_text.split(maxsplit=1)[0].partition("@")
    return not at or addressee.lower() == username.lower()


async def unknown_command(update: Update, context: JolContext) -> None:
    texts_ = context.texts
    await reply(update, context, texts_("I don't know this command. Try /menu, /sos or /help."),
                [nav_row(texts_)])


async def not_text(update: Update, context: JolContext) -> None:
    texts_ = context.texts
    await reply(update, context, texts_("I understand only text. Type your question in words, "
                                        "or choose a topic in the menu."), [nav_row(texts_)])


def has_no_data(data: object) -> bool:
    return not data


async def stale_button(update: Update, context: JolContext) -> None:
    """Any button data no feature recognises: forged, or from an older version of the bot."""
    await show_main_menu(update, context, context.texts("This button is out of date."))
