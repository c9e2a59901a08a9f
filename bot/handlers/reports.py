""""This number did not work": one tap under a topic's phone numbers, and nothing else.

No text, no identity: a tap counts `contact_failed` for that contact id, at most once per chat
per day (the daily cap), and reaches editors only through the noisy weekly release, in
/content and `jol stats` as "numbers to re-check" once enough different chats reported it.
"""

from __future__ import annotations

from telegram import Update

from bot import callbacks, events
from bot.content.model import Topic
from bot.context import JolContext
from bot.handlers.screens import Keyboard, button, nav_row, show, show_main_menu

LABEL_LIMIT = 40  # phone + short name, readable on a small screen


def report_button(context: JolContext, topic: Topic) -> Keyboard:
    """The topic screen's row for reporting a number, or no row when it shows no numbers."""
    if not any(c in context.content.contacts for c in topic.contacts):
        return []
    return [[button("📵 " + context.texts("A number did not work"),
                    callbacks.numbers_data(topic.id))]]


def _label(phone: str, name: str) -> str:
    label = f"{phone} · {name}"
    return label if len(label) <= LABEL_LIMIT else label[: LABEL_LIMIT - 1] + "…"


async def report_button_pressed(update: Update, context: JolContext) -> None:
    parsed = callbacks.parse(update.callback_query.data if update.callback_query else None)
    texts = context.texts
    content = context.content
    if parsed is not None and parsed.action == "nw":
        topic = content.topic(texts.lang, parsed.topic)
        contacts = [content.contacts[c] for c in (topic.contacts if topic else ())
                    if c in content.contacts]
        if topic is not None and contacts:
            keyboard: Keyboard = [
                [button(_label(c.phone, c.name.get(texts.lang, "")),
                        callbacks.failed_number_data(c.id))] for c in contacts]
            keyboard.append(nav_row(texts, callbacks.topic_data(topic.id)))
            await show(update, context, texts(
                "Which number did not work? Tap it. We send nothing about you: the NGO only "
                "learns that a number needs checking."), keyboard)
            return
    if parsed is not None and parsed.action == "nf" and parsed.contact in content.contacts:
        chat = update.effective_chat
        if chat is not None:
            # No language: reports of one contact are pooled, so the cells stay larger.
            context.stats.count(events.CONTACT_FAILED, parsed.contact, chat=chat.id)
        await show_main_menu(update, context, texts(
            "Thank you. The NGO staff will check this number."))
        return
    await show_main_menu(update, context, texts("This button is out of date."))


def is_report_button(data: object) -> bool:
    parsed = callbacks.parse(data if isinstance(data, str) else None)
    return parsed is not None and parsed.action in ("nw", "nf")
