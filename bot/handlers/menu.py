"""Menu navigation: sections and topics as inline keyboards, edited in place, paged."""

from __future__ import annotations

from telegram import Update

from bot import callbacks
from bot.content.model import Topic
from bot.context import JolContext
from bot.handlers import sos
from bot.handlers.reports import report_button
from bot.handlers.screens import (
    Button,
    Keyboard,
    button,
    nav_row,
    show,
    show_main_menu,
)
from bot.handlers.talk import offers_talk, talk_button


def action_button(context: JolContext, action: str) -> Button:
    """A button that starts a bot feature from a topic (content decides which topics)."""
    texts = context.texts
    check = context.content.selfcheck
    if action == "check":
        return button("✅ " + texts("Check a job offer"), check.data(family=False))
    if action == "family-check":
        return button("✅ " + texts("Check a relative's job offer"), check.data(family=True))
    return button("🧹 " + texts("Clear this chat"), callbacks.CLEAR_CHAT)


def topic_screen(context: JolContext, topic: Topic, page: int) -> tuple[str, Keyboard]:
    texts = context.texts
    content = context.content
    page = min(page, len(topic.pages) - 1)
    text = topic.pages[page]
    keyboard: Keyboard = []
    if len(topic.pages) > 1:
        text += "\n\n" + texts("Page {n} of {total}", n=page + 1, total=len(topic.pages))
        row = []
        if page > 0:
            # Not "Back": that one leaves the topic; this one turns a page.
            row.append(button("‹ " + texts("Previous"),
                              callbacks.topic_data(topic.id, page - 1)))
        if page < len(topic.pages) - 1:
            row.append(button(texts("Next") + " ▶️", callbacks.topic_data(topic.id, page + 1)))
        keyboard.append(row)
    for child in content.menu(topic.lang, topic.id):
        keyboard.append([button(child.title, callbacks.topic_data(child.id))])
    for action in topic.actions:
        keyboard.append([action_button(context, action)])
    keyboard += report_button(context, topic)
    for related_id in topic.related:
        related = content.topic(topic.lang, related_id)
        if related is not None:
            keyboard.append([button("➡️ " + related.title, callbacks.topic_data(related.id))])
    if offers_talk(topic.id, topic.parent):
        keyboard += talk_button(context)
    back = callbacks.topic_data(topic.parent) if topic.parent else callbacks.MAIN_MENU
    keyboard.append(nav_row(texts, back))
    return text, keyboard


async def open_topic(update: Update, context: JolContext, topic_id: str, page: int = 0) -> bool:
    """Show a topic; False if it does not exist (any more) in the current content.

    The sos topic's first page is the SOS screen, which asks for the country first."""
    topic = context.content.topic(context.texts.lang, topic_id)
    if topic is None or page >= len(topic.pages):
        return False
    if topic.id == sos.SOS_TOPIC and page == 0:
        await sos.show_sos(update, context)
        return True
    if page == 0:
        context.count("topic", topic.id)
    await show(update, context, *topic_screen(context, topic, page))
    return True


async def menu_command(update: Update, context: JolContext) -> None:
    await show_main_menu(update, context)


async def menu_button(update: Update, context: JolContext) -> None:
    parsed = callbacks.parse(update.callback_query.data if update.callback_query else None)
    if parsed is not None and parsed.action == "t":
        if not await open_topic(update, context, parsed.topic, parsed.page):
            await show_main_menu(update, context, context.texts("This button is out of date."))
        return
    await show_main_menu(update, context)


def is_menu_button(data: object) -> bool:
    parsed = callbacks.parse(data if isinstance(data, str) else None)
    return parsed is not None and parsed.action in ("t", callbacks.MAIN_MENU)
