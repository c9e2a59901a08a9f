"""Free text is a search question: the best topics come back as buttons, or, when one topic
clearly wins (search.clear_winner), that topic opens at once. Small talk (greetings,
thanks, "помогите") is answered before search (handlers/smalltalk.py).

The query is used in memory only: never stored, never logged. When nothing is found, single
common words of it are counted (bot.stats.gaps), and written only once enough different chats
typed the same word that day, so NGO staff learn what content is missing.
"""

from __future__ import annotations

from telegram import Update

from bot import events
from bot.buttons import TopicButton
from bot.content.search import clear_winner, small_talk
from bot.context import JolContext
from bot.handlers.menu import open_topic
from bot.handlers.screens import Keyboard, button, nav_row, reply
from bot.handlers.smalltalk import answer_smalltalk
from bot.stats.gaps import gap_words

MAX_RESULTS = 5


async def search_text(update: Update, context: JolContext) -> None:
    message = update.effective_message
    if message is None or not message.text:
        return
    kind = small_talk(message.text)
    if kind is not None:
        await answer_smalltalk(update, context, kind)
        return
    texts = context.texts
    search = context.content.search
    hits = search.search(message.text, texts.lang, limit=MAX_RESULTS)
    if clear_winner(hits) and await open_topic(update, context, hits[0].topic):
        context.count(events.SEARCH_FOUND, hits[0].topic)
        return
    keyboard: Keyboard = []
    for hit in hits:
        topic = context.content.topic(texts.lang, hit.topic)
        if topic is not None:
            keyboard.append([button(topic.title, TopicButton(topic.id))])
    if keyboard:
        context.count(events.SEARCH_FOUND, hits[0].topic)
        text = texts("Here is what I found. Choose a topic:")
    else:
        context.count(events.SEARCH_NOT_FOUND)
        if update.effective_chat is not None:  # words wait in memory for enough other chats
            context.stats.count_gap_words(update.effective_chat.id, gap_words(message.text))
        text = texts("I found nothing for this question. Try other words, or open the menu. "
                     "If you are in danger, press SOS.")
    keyboard.append(nav_row(texts))
    await reply(update, context, text, keyboard)
