"""Language: resolved before every feature runs (middleware), chosen with /language."""

from __future__ import annotations

import logging

from telegram import Update
from telegram.ext import ApplicationHandlerStop

from bot import callbacks
from bot.context import JolContext
from bot.handlers.screens import button, nav_row, reply, show, show_main_menu

log = logging.getLogger(__name__)


async def resolve_language(update: Update, context: JolContext) -> None:
    """Set context.lang: the remembered choice, else Telegram's language_code if it is one of
    the configured languages (content/languages.yaml).

    With neither, the user is asked first: any message or button shows the language picker,
    except the picker's own buttons.
    """
    chat = update.effective_chat
    if chat is None or chat.type != "private":
        return
    try:
        remembered = await context.services.memory.get(chat.id)
    except Exception as error:  # the database is down: Telegram's language, or ask
        log.warning("language memory unavailable (%s)", type(error).__name__)
        remembered = None
    user = update.effective_user
    code = (user.language_code or "").split("-")[0] if user else ""
    languages = context.content.languages
    # A remembered language that is no longer configured is asked again.
    context.lang = (remembered if remembered in languages else None) or (
        code if code in languages else None)
    if context.lang is None:
        data = update.callback_query.data if update.callback_query else None
        parsed = callbacks.parse(data)
        if parsed is None or parsed.action != "l":
            await ask_language(update, context)
            raise ApplicationHandlerStop


async def ask_language(update: Update, context: JolContext) -> None:
    # Every language at once: the user may not read the others. Each language's own name.
    content = context.content
    text = " / ".join(dict.fromkeys(content.catalogs.texts(lang.code)("Choose your language")
                                    for lang in content.languages))
    buttons = [button(lang.name, callbacks.lang_data(lang.code)) for lang in content.languages]
    keyboard = [buttons[i:i + 2] for i in range(0, len(buttons), 2)] if len(buttons) > 3 else [
        buttons]
    await show(update, context, text, keyboard)


async def language_command(update: Update, context: JolContext) -> None:
    await ask_language(update, context)


async def language_button(update: Update, context: JolContext) -> None:
    parsed = callbacks.parse(update.callback_query.data if update.callback_query else None)
    if parsed is None:
        return
    if parsed.action == "lang":
        await ask_language(update, context)
        return
    chat = update.effective_chat
    if chat is None:
        return
    if parsed.lang not in context.content.languages:  # forged, or a language removed since
        if context.lang is None:
            await ask_language(update, context)
        else:
            await show_main_menu(update, context, context.texts("This button is out of date."))
        return
    context.lang = parsed.lang
    context.services.memory.set(chat.id, parsed.lang)  # in memory now, written in a batch
    context.count("language", parsed.lang)
    await show_main_menu(update, context, context.texts("Language changed"))


async def forget_command(update: Update, context: JolContext) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    texts = context.texts
    try:
        deleted = await context.services.memory.forget(chat.id)
    except Exception as error:  # this process forgot; the database still holds the choice
        log.warning("forget failed (%s)", type(error).__name__)
        await reply(update, context, texts(
            "I could not forget your language choice right now. Please try /forget again "
            "later."), [nav_row(texts)])
        return
    context.count("forget")
    what = (texts("I have deleted the language I remembered for this chat.") if deleted
            else texts("I had nothing remembered for this chat."))
    await reply(update, context, what + "\n\n" + texts(
        "Jol keeps no names, phone numbers or messages. Without knowing who, it only counts "
        "which topics are opened, which numbers are reported as not working, and single "
        "common words of searches that found nothing, only when many different people typed "
        "them."), [nav_row(texts)])


def is_language_button(data: object) -> bool:
    parsed = callbacks.parse(data if isinstance(data, str) else None)
    return parsed is not None and parsed.action in ("l", "lang")
