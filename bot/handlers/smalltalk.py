"""Small talk before search: a greeting, a thank-you, an "ok" or a row of emoji gets a short
friendly answer with the main menu (never "nothing found"); a cry for help opens SOS.

What counts as small talk is decided by bot.content.search.small_talk (the word lists are
there, beside the search's stopwords), so `jol search` and the bot agree.
"""

from __future__ import annotations

from telegram import Update

from bot.content.search import SmallTalk
from bot.context import JolContext
from bot.handlers.screens import main_menu, reply
from bot.handlers.sos import show_sos


async def answer_smalltalk(update: Update, context: JolContext, kind: SmallTalk) -> None:
    if kind == "sos":
        await show_sos(update, context)
        return
    texts = context.texts
    if kind == "greeting":
        answer = texts("Hello! I am Jol. I help people work abroad safely.")
    elif kind == "thanks":
        answer = texts("You are welcome! Take care of yourself.")
    else:
        answer = texts("I am here. How can I help?")
    menu_text, keyboard = main_menu(context)
    await reply(update, context, answer + "\n\n" + menu_text, keyboard)
