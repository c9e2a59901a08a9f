""""This number did not work": one tap under a topic's phone numbers, and nothing else.

No text, no identity: a tap counts `contact_failed` for that contact id, at most once per chat
per day (the daily cap), and reaches editors only through the noisy weekly release, in
/content and `jol stats` as "numbers to re-check" once enough different chats reported it.
"""

from __future__ import annotations

from telegram import Update

from bot import events
from bot.buttons import FailedNumberButton, NumbersButton, TopicButton
from bot.content.model import Topic
from bot.context import JolContext
from bot.handlers.screens import (
    ButtonHandler,
    Keyboard,
    button,
    nav_row,
    out_of_date,
    show,
    show_main_menu,
)

LABEL_LIMIT = 40  # phone + short name, readable on a small screen


def report_button(context: JolContext, topic: Topic) -> Keyboard:
    """The topic screen's row for reporting a number, or no row when it shows no numbers."""
    if not any(c in context.content.contacts for c in topic.contacts):
        return []
    return [[button("📵 " + context.texts("A number did not work"),
                    NumbersButton(topic.id))]]


def _label(phone: str, name: str) -> str:
    label = f"{phone} · {name}"
    return label if len(label) <= LABEL_LIMIT else label[: LABEL_LIMIT - 1] + "…"


async def numbers_pressed(update: Update, context: JolContext, pressed: NumbersButton) -> None:
    """The topic's numbers, one button each, to say which one did not work."""
    texts = context.texts
    content = context.content
    topic = content.topic(texts.lang, pressed.topic)
    contacts = [content.contacts[c] for c in (topic.contacts if topic else ())
                if c in content.contacts]
    if topic is None or not contacts:
        await out_of_date(update, context)
        return
    keyboard: Keyboard = [[button(_label(c.phone, c.name.get(texts.lang, "")),
                                  FailedNumberButton(c.id))] for c in contacts]
    keyboard.append(nav_row(texts, TopicButton(topic.id)))
    await show(update, context, texts(
        "Which number did not work? Tap it. We send nothing about you: the NGO only "
        "learns that a number needs checking."), keyboard)


async def failed_number_pressed(update: Update, context: JolContext,
                                pressed: FailedNumberButton) -> None:
    if pressed.contact not in context.content.contacts:
        await out_of_date(update, context)
        return
    chat = update.effective_chat
    if chat is not None:
        # No language: reports of one contact are pooled, so the cells stay larger.
        context.stats.count(events.CONTACT_FAILED, pressed.contact, chat=chat.id)
    await show_main_menu(update, context, context.texts(
        "Thank you. The NGO staff will check this number."))


PRESSES = (ButtonHandler(NumbersButton, numbers_pressed),
           ButtonHandler(FailedNumberButton, failed_number_pressed))
