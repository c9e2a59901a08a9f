"""How urgent an update is: under Telegram's flood limits the answers that matter most go first.

    HELP           SOS: /sos, the SOS buttons, "помогите" typed (small talk "sos"); the help
                   and danger screens (topics of the help, danger and trouble sections, and a
                   /start deep link to one); their buttons: "talk to a person", "this number
                   did not work", "clear this chat"
    FIRST_CONTACT  a new chat's first screens: /start, the language choice
    ROUTINE        everything else: menus, other topics, searches, the self-check

An update is classified once, where it is processed (bot.processor), from its command or typed
button; every Bot API call made while it is handled reads the urgency from a context variable,
so the rate limiter (bot.ratelimit) knows it without handlers passing it along. Calls outside
an update (the command menu at start-up) are ROUTINE.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import IntEnum

from telegram import Update

from bot.buttons import (
    Button,
    ClearChatButton,
    ClearChatConfirmedButton,
    FailedNumberButton,
    LanguageButton,
    NumbersButton,
    SosButton,
    TalkButton,
    TopicButton,
)
from bot.content.model import ContentSnapshot
from bot.content.search import small_talk
from bot.languages import DEFAULT_LANGUAGE


class Urgency(IntEnum):
    """Lower goes first."""

    HELP = 0
    FIRST_CONTACT = 1
    ROUTINE = 2


# The help section and the danger ones; "talk to a person" is offered after them too.
HELP_SECTIONS = ("help", "danger", "trouble")
_HELP_BUTTONS = (SosButton, TalkButton, NumbersButton, FailedNumberButton, ClearChatButton,
                 ClearChatConfirmedButton)

_CURRENT: ContextVar[Urgency] = ContextVar("urgency", default=Urgency.ROUTINE)


def is_help_screen(topic_id: str, parent: str | None) -> bool:
    return topic_id in HELP_SECTIONS or (parent or "") in HELP_SECTIONS


def _is_help_topic(content: ContentSnapshot, topic_id: str) -> bool:
    # A topic has the same parent in every language (the loader checks it).
    topic = content.topic(DEFAULT_LANGUAGE, topic_id)
    return topic is not None and is_help_screen(topic.id, topic.parent)


def classify(update: object, content: ContentSnapshot) -> Urgency:
    if not isinstance(update, Update):
        return Urgency.ROUTINE
    if update.callback_query is not None:
        pressed = Button.parse(update.callback_query.data)
        if isinstance(pressed, _HELP_BUTTONS):
            return Urgency.HELP
        if isinstance(pressed, TopicButton) and _is_help_topic(content, pressed.topic):
            return Urgency.HELP
        return Urgency.FIRST_CONTACT if isinstance(pressed, LanguageButton) else Urgency.ROUTINE
    text = update.message.text if update.message is not None else None
    if not text:
        return Urgency.ROUTINE
    if not text.startswith("/"):
        return Urgency.HELP if small_talk(text) == "sos" else Urgency.ROUTINE
    command, _, payload = text[1:].partition(" ")
    command = command.partition("@")[0].lower()
    if command == "sos":
        return Urgency.HELP
    if command == "start":  # a deep link's payload is <topic-id>[--<source>] (handlers.start)
        topic_id = payload.split(" ", 1)[0].partition("--")[0]
        help_link = bool(topic_id) and _is_help_topic(content, topic_id)
        return Urgency.HELP if help_link else Urgency.FIRST_CONTACT
    return Urgency.ROUTINE


def current() -> Urgency:
    """The urgency of the update being handled (ROUTINE outside one)."""
    return _CURRENT.get()


@contextmanager
def handling(urgency: Urgency) -> Iterator[None]:
    """Calls made inside (and in tasks started inside) have this urgency."""
    token = _CURRENT.set(urgency)
    try:
        yield
    finally:
        _CURRENT.reset(token)
