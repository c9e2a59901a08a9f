"""Small talk before search: a greeting, a thank-you, an "ok" or a row of emoji gets a short
friendly answer with the main menu (never "nothing found"); a cry for help opens SOS.

A message counts as small talk only when every word of it is in the lists below (so
"помогите найти работу в Корее" is still a search question, and "спасибо" never opens SOS).
Words are compared as search skeletons (bot/content/search.py), so "rahmat", "рахмат" and
"рахмаат" are one word, and so are "саламатсызбы" typed with or without Kyrgyz letters.
Editors who find a missing word add it here, in either script, lower case.
"""

from __future__ import annotations

import re
from typing import Literal

from telegram import Update

from bot.content.search import skeleton
from bot.context import JolContext
from bot.handlers.screens import main_menu, reply
from bot.handlers.sos import show_sos

Kind = Literal["sos", "greeting", "thanks", "ok"]

SOS_EMOJI = "🆘"
WORDS: dict[Kind, str] = {
    # A cry for help, alone or with "please" / "urgently": the SOS screen.
    "sos": """
        sos сос помогите помоги помогити спасите спаси help жардам жардам бериңиз
        бериңизчи бергиле бериңиздер жардамга куткаргыла куткаргылачы куткар
        срочно тез шашылыш
    """,
    "greeting": """
        привет приветствую здравствуйте здравствуй здрасте здрасьте добрый день утро вечер
        доброе салам саламатсызбы саламатсыңбы ассалому ассаламу алейкум алейкуму
        кандайсыз кандайсың кандай жакшысызбы жакшысыңбы кайырлуу таң кеч күн
        как дела hi hello hey
    """,
    "thanks": """
        спасибо спс благодарю благодарен благодарна рахмат рахмет чоң ыракмат сизге сага
        thanks thank you большое огромное
    """,
    "ok": """
        ок окей ok okay да ага хорошо понятно ясно понял поняла ладно ооба макул жакшы
        түшүндүм түшүнүктүү мейли болуптур нет жок
    """,
}
# What people thank for: allowed beside a thank-you word only ("помощь" alone is no thanks).
THANKED_FOR = """
    за помощь помощи информацию информации ответ ответы совет советы бот боту
    жардамың жардамыңыз жардам үчүн маалымат маалыматыңыз жообуңуз кеңешиңиз
"""
# Words that may come with any of the above without changing what it is.
FILLER = """
    пожалуйста пж пжл плиз вам вас тебе тебя мне очень всем сиз сен мага эже байке агай апа
    бир ой эй please
"""
_WORD_RE = re.compile(r"[^\W_]+")
_SKELETONS = {kind: frozenset(skeleton(w) for w in text.split()) for kind, text in WORDS.items()}
_FILLER = frozenset(skeleton(w) for w in FILLER.split())
_THANKED_FOR = frozenset(skeleton(w) for w in THANKED_FOR.split())


def classify(text: str) -> Kind | None:
    """What kind of small talk a message is, or None for a question to search."""
    if SOS_EMOJI in text:
        return "sos"
    found = {skeleton(w) for w in _WORD_RE.findall(text[:200])}
    if not found:
        return "ok" if text.strip() else None  # only emoji or punctuation
    found -= _FILLER
    sos, greeting, thanks, ok = (_SKELETONS[k] for k in ("sos", "greeting", "thanks", "ok"))
    if found & sos and found <= sos | greeting | ok:
        return "sos"  # "салам, жардам бериңиз" is a cry for help, not a greeting
    if found & thanks and found <= greeting | thanks | ok | _THANKED_FOR:
        return "thanks"  # "спасибо за помощь", "жардамыңыз үчүн рахмат"
    if found <= greeting | thanks | ok:
        return "thanks" if found & thanks else "greeting" if found & greeting else "ok"
    return None


async def answer_smalltalk(update: Update, context: JolContext, kind: Kind) -> None:
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
