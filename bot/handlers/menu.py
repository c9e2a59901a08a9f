"""Menu navigation: sections and topics as inline keyboards, edited in place, paged."""

from __future__ import annotations

from typing import assert_never

from telegram import Update

from bot import events
from bot.buttons import ClearChatButton, MainMenuButton, TopicButton
from bot.content.model import Topic, TopicAction
from bot.context import JolContext
from bot.handlers import sos
from bot.handlers.reports import report_button
from bot.handlers.screens import (
    MAIN_MENU,
    ButtonHandler,
    InlineButton,
    Keyboard,
    button,
    fallback_note,
    nav_row,
    out_of_date,
    show,
    show_main_menu,
)
from bot.handlers.talk import offers_talk, talk_button


def action_button(context: JolContext, action: TopicAction) -> InlineButton:
    """A button that starts a bot feature from a topic (content decides which topics)."""
    texts = context.texts
    check = context.content.selfcheck
    match action:
        case TopicAction.CHECK:
            return button("✅ " + texts("Check a job offer"), check.button(family=False))
        case TopicAction.FAMILY_CHECK:
            return button("✅ " + texts("Check a relative's job offer"), check.button(family=True))
        case TopicAction.CLEAR_CHAT:
            return button("🧹 " + texts("Clear this chat"), ClearChatButton())
        case unknown:  # a new TopicAction without its button fails mypy here
            assert_never(unknown)


def topic_screen(context: JolContext, topic: Topic, page: int) -> tuple[str, Keyboard]:
    texts = context.texts
    content = context.content
    page = min(page, len(topic.pages) - 1)
    text = fallback_note(context, topic) + topic.pages[page]
    keyboard: Keyboard = []
    if len(topic.pages) > 1:
        text += "\n\n" + texts("Page {n} of {total}", n=page + 1, total=len(topic.pages))
        row = []
        if page > 0:
            # Not "Back": that one leaves the topic; this one turns a page.
            row.append(button("‹ " + texts("Previous"), TopicButton(topic.id, page - 1)))
        if page < len(topic.pages) - 1:
            row.append(button(texts("Next") + " ▶️", TopicButton(topic.id, page + 1)))
        keyboard.append(row)
    # The user's language, not the topic's: a fallback topic's subtopics may be translated.
    for child in content.menu(texts.lang, topic.id):
        keyboard.append([button(child.title, TopicButton(child.id))])
    for action in topic.actions:
        keyboard.append([action_button(context, action)])
    keyboard += report_button(context, topic)
    for related_id in topic.related:
        related = content.topic(texts.lang, related_id)
        if related is not None:
            keyboard.append([button("➡️ " + related.title, TopicButton(related.id))])
    if offers_talk(topic.id, topic.parent):
        keyboard += talk_button(context)
    back = TopicButton(topic.parent) if topic.parent else MAIN_MENU
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
        context.count(events.TOPIC, topic.id)
    await show(update, context, *topic_screen(context, topic, page))
    return True


async def menu_command(update: Update, context: JolContext) -> None:
    await show_main_menu(update, context)


async def main_menu_pressed(update: Update, context: JolContext, _: MainMenuButton) -> None:
    await show_main_menu(update, context)


async def topic_pressed(update: Update, context: JolContext, pressed: TopicButton) -> None:
    if not await open_topic(update, context, pressed.topic, pressed.page):
        await out_of_date(update, context)


PRESSES = (ButtonHandler(MainMenuButton, main_menu_pressed),
           ButtonHandler(TopicButton, topic_pressed))
