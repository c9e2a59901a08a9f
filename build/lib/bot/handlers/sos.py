"""SOS: emergency numbers by country, then hotlines — one tap from every screen."""

from __future__ import annotations

from telegram import Update

from bot import callbacks
from bot.context import JolContext
from bot.handlers.screens import Keyboard, button, nav_row, show

SOS_TOPIC = "sos"
HOTLINES_TOPIC = "hotlines"


def sos_screen(context: JolContext) -> tuple[str, Keyboard]:
    texts = context.texts
    topic = context.content.topic(texts.lang, SOS_TOPIC)
    if topic is None:
        raise RuntimeError("content has no sos topic")  # the loader refuses such content
    text = topic.pages[0]
    keyboard: Keyboard = []
    if len(topic.pages) > 1:
        keyboard.append([button(texts("Next") + " ▶️", callbacks.topic_data(SOS_TOPIC, 1))])
    hotlines = context.content.topic(texts.lang, HOTLINES_TOPIC)
    if hotlines is not None:
        keyboard.append([button("☎️ " + hotlines.title, callbacks.topic_data(HOTLINES_TOPIC))])
    keyboard.append(nav_row(texts, back=None))
    return text, keyboard


async def sos_command(update: Update, context: JolContext) -> None:
    context.count("sos")
    await show(update, context, *sos_screen(context))


async def sos_button(update: Update, context: JolContext) -> None:
    await sos_command(update, context)


def is_sos_button(data: object) -> bool:
    return data == callbacks.SOS
