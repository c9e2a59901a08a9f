"""Talk to a person: the user's side (consent, relay, end) and the caseworkers' side (topics).

Decisions (README, "Talk to a person"; docs/caseworkers.md):
- Nothing opens without consent: /talk and the "💬 Talk to a person" button show who reads,
  when they answer, that this is no emergency service and not end-to-end encrypted, what is
  kept and how long, and how to end. Only "I agree" opens a case.
- While a case is open, the user's messages that are not commands go to the case (taken in
  group -1, before search sees them): text, voice messages and ordinary photos are copied;
  files, locations, contacts and other media are refused with the reason, since they carry
  identifying metadata. Commands keep working; /talk shows the case and "End conversation".
- In the caseworkers' group, a message in a case's topic goes to the user as the bot's
  message; `!…` is a note and stays; `/close` ends the case; `/block [days]` ends it and
  refuses new cases from that chat for a while (7 days by default, at most 30).
- Whatever fails, the person is told in plain words whether their message went through, and
  is shown SOS; nothing is dropped silently.
"""

from __future__ import annotations

import html
import logging
from datetime import datetime

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot import events
from bot.buttons import TalkButton
from bot.context import JolContext
from bot.db.models import OPEN
from bot.handlers.screens import (
    SOS,
    ButtonHandler,
    InlineButton,
    Keyboard,
    answer_callback,
    button,
    nav_row,
    reply,
    show,
)
from bot.handoff.hours import DAYS, WorkingHours, now_utc
from bot.handoff.relay import CASEWORK_LANG, GroupUnusable, Handoff
from bot.handoff.store import AlreadyOpen, OpenCase, new_code
from bot.i18n import Texts, texts
from bot.urgency import is_help_screen

log = logging.getLogger(__name__)

# The buttons: the consent screen, consent given, end the conversation.
TALK = TalkButton()
TALK_AGREE = TalkButton("ok")
TALK_END = TalkButton("end")

BLOCK_DAYS = 7
MAX_BLOCK_DAYS = 30
RELAYED = ("text", "voice", "photo")  # what a user may send into a case


def talk_button(context: JolContext) -> list[list[InlineButton]]:
    """The "💬 Talk to a person" row, when the handoff is configured (else nothing)."""
    if context.services.handoff is None:
        return []
    return [[button("💬 " + context.texts("Talk to a person"), TALK)]]


def offers_talk(topic_id: str, parent: str | None) -> bool:
    """"Talk to a person" is offered after the help and danger screens."""
    return is_help_screen(topic_id, parent)


def _sos_row(texts_: Texts) -> list[InlineButton]:
    return nav_row(texts_, back=None)


def _end_row(texts_: Texts) -> list[InlineButton]:
    return [button("✋ " + texts_("End conversation"), TALK_END), button("🆘 SOS", SOS)]


def _end_markup(lang: str) -> InlineKeyboardMarkup:
    """The End button under each answer the user gets from the caseworkers."""
    texts_ = texts(lang)
    return InlineKeyboardMarkup([[InlineKeyboardButton("✋ " + texts_("End conversation"),
                                                       callback_data=TALK_END.pack())]])


def hours_text(hours: WorkingHours, texts_: Texts) -> str:
    days = ", ".join(texts_(DAYS[a]) if a == b else f"{texts_(DAYS[a])}–{texts_(DAYS[b])}"
                     for a, b in hours.spans())
    return f"{days} {hours.clock()} ({hours.zone})"


def consent_screen(context: JolContext, handoff: Handoff,
                   now: datetime | None = None) -> tuple[str, Keyboard]:
    texts_ = context.texts
    casework = handoff.casework
    at_work = casework.hours.open_at(now or now_utc())
    lines = [
        "<b>💬 " + texts_("Talk to a person") + "</b>",
        texts_("Your messages will be read by caseworkers of {ngo}. They answer {hours}.",
               ngo=html.escape(casework.ngo_name), hours=hours_text(casework.hours, texts_)),
    ]
    if not at_work:
        lines.append("<b>" + texts_("Now is outside their working hours: they will answer "
                                    "later. If you are in danger now, press SOS.") + "</b>")
    lines += [
        texts_("This is not an emergency service. In danger, call the emergency number: "
               "press SOS."),
        texts_("Telegram does not encrypt chats with bots end to end: Telegram itself can "
               "read them."),
        texts_("The caseworkers see only a case code, not your name, username or phone "
               "number. Write your name or address only if you decide to."),
        texts_("What is kept: while the conversation is open, your chat number, encrypted, "
               "only to deliver the answers. When it ends, or after {days} days without "
               "messages, it is deleted together with the conversation in the caseworkers' "
               "chat.", days=handoff.retention_days),
        texts_("I pass on text, voice messages and photos. Files, locations and contacts are "
               "not passed on: they can show who you are and where."),
        texts_("You can end it at any time with the button \"End conversation\" or /talk."),
    ]
    keyboard: Keyboard = [[button("✅ " + texts_("I agree, start"), TALK_AGREE)],
                          _sos_row(texts_)]
    return "\n\n".join(lines), keyboard


def _in_case_screen(texts_: Texts, case: OpenCase) -> tuple[str, Keyboard]:
    return (texts_("You are in conversation {code}. Everything you write here goes to the "
                   "caseworkers: text, voice messages and photos.", code=case.code),
            [_end_row(texts_)])


def _unavailable(texts_: Texts) -> tuple[str, Keyboard]:
    return (texts_("Talking to a person is not available right now. If you are in danger, "
                   "press SOS."), [_sos_row(texts_)])


def _unreachable(texts_: Texts) -> str:
    return texts_("The caseworkers cannot be reached through the bot right now, so your "
                  "message was not passed on. Please try again later. If you are in danger, "
                  "press SOS.")


def _try_again(texts_: Texts) -> str:
    return texts_("Something went wrong and your message was not passed on. Please send it "
                  "again in a minute. If you are in danger, press SOS.")


# ---- the user's side ------------------------------------------------------------------------

async def talk_command(update: Update, context: JolContext) -> None:
    await _show_talk(update, context)


async def talk_button_pressed(update: Update, context: JolContext,
                              pressed: TalkButton) -> None:
    if pressed == TALK_AGREE:
        await _open_case(update, context)
    elif pressed == TALK_END:
        await _end_case(update, context)
    else:
        await _show_talk(update, context)


async def _show_talk(update: Update, context: JolContext) -> None:
    """The consent screen, or the open case's own screen."""
    handoff = context.services.handoff
    chat = update.effective_chat
    if handoff is None or chat is None:
        await show(update, context, *_unavailable(context.texts))
        return
    try:
        case = await handoff.book.for_chat(chat.id)
    except Exception as error:
        log.warning("handoff: cases unavailable (%s)", type(error).__name__)
        await show(update, context, _try_again(context.texts), [_sos_row(context.texts)])
        return
    if case is not None:
        await show(update, context, *_in_case_screen(context.texts, case))
        return
    await show(update, context, *consent_screen(context, handoff))


async def _open_case(update: Update, context: JolContext) -> None:
    handoff = context.services.handoff
    chat = update.effective_chat
    texts_ = context.texts
    if handoff is None or chat is None:
        await show(update, context, *_unavailable(texts_))
        return
    await answer_callback(update, context)
    try:
        case = await handoff.book.for_chat(chat.id)
        blocked = await handoff.book.blocked_until(chat.id) if case is None else None
    except Exception as error:
        log.warning("handoff: cases unavailable (%s)", type(error).__name__)
        await show(update, context, _try_again(texts_), [_sos_row(texts_)])
        return
    if case is not None:
        await show(update, context, *_in_case_screen(texts_, case))
        return
    if blocked is not None:
        await show(update, context, texts_(
            "The caseworkers have paused conversations from this chat until {date}. If you "
            "are in danger, press SOS.", date=texts_.date(blocked)), [_sos_row(texts_)])
        return
    lang = texts_.lang
    code = new_code()
    try:
        topic_id = await handoff.new_topic(context.bot, code, lang)
    except (GroupUnusable, TelegramError):
        await show(update, context, texts_(
            "The caseworkers cannot be reached through the bot right now. Please try again "
            "later. If you are in danger, press SOS."), [_sos_row(texts_)])
        return
    try:
        case = await handoff.book.open(code, chat.id, topic_id, lang)
    except AlreadyOpen:  # a second tap, or another replica, was faster
        await handoff.drop_topic(context.bot, topic_id)
        await _show_talk(update, context)
        return
    except Exception as error:
        log.warning("handoff: a case could not be stored (%s)", type(error).__name__)
        await handoff.drop_topic(context.bot, topic_id)
        await show(update, context, _try_again(texts_), [_sos_row(texts_)])
        return
    handoff.seen_open(chat.id, True)
    context.count(events.CASE_OPENED)
    await handoff.note(context.bot, topic_id, texts(CASEWORK_LANG)(
        "Case {code} · {lang}. The person agreed to talk. Answer in this topic: your messages "
        "go to them from the bot. A message starting with ! is a note for colleagues and is "
        "not sent. /close ends the case; /block pauses this person for {days} days.",
        code=code, lang=lang, days=BLOCK_DAYS))
    text = texts_("Conversation {code} is open. Write here as in any chat: text, voice "
                  "messages and photos go to the caseworkers.", code=code)
    if not handoff.casework.hours.open_at(now_utc()):
        text += "\n\n" + texts_("Now is outside their working hours: they will answer later. "
                                "If you are in danger now, press SOS.")
    await show(update, context, text, [_end_row(texts_)])


async def _end_case(update: Update, context: JolContext) -> None:
    handoff = context.services.handoff
    chat = update.effective_chat
    texts_ = context.texts
    if handoff is None or chat is None:
        await show(update, context, *_unavailable(texts_))
        return
    try:
        case = await handoff.book.for_chat(chat.id)
        closed = case is not None and await handoff.book.close(case.code)
    except Exception as error:
        log.warning("handoff: a case could not be closed (%s)", type(error).__name__)
        await show(update, context, texts_("I could not end the conversation right now. "
                                           "Please press the button again in a minute."),
                   [_end_row(texts_)])
        return
    handoff.seen_open(chat.id, False)
    # A new message, never an edit: the button may sit under a caseworker's answer, which the
    # person should keep seeing.
    await answer_callback(update, context)
    if case is None or not closed:
        await reply(update, context, texts_("There is no open conversation."),
                    [nav_row(texts_, back=None)])
        return
    context.services.stats.count(events.CASE_CLOSED, "", case.lang, chat=chat.id)
    await handoff.note(context.bot, case.topic_id, texts(CASEWORK_LANG)(
        "The person ended the conversation. The topic will be deleted at the next clean-up."))
    await reply(update, context, texts_(
        "The conversation is over. The bot has deleted what it kept for it; the caseworkers' "
        "copy is deleted within an hour. To talk again: /talk."), [nav_row(texts_, back=None)])


def _kind(message: Message) -> str:
    if message.text:
        return "text"
    if message.voice:
        return "voice"
    if message.photo:
        return "photo"
    if message.document or message.location or message.venue or message.contact:
        return "identifying"
    return "other"


async def from_user(update: Update, context: JolContext) -> None:
    """Group -1: a private message while the chat has an open case goes to the case."""
    handoff = context.services.handoff
    message = update.message
    if handoff is None or message is None:
        return
    chat_id = message.chat_id
    texts_ = context.texts
    try:
        case = await handoff.book.for_chat(chat_id)
    except Exception as error:
        log.warning("handoff: cases unavailable (%s)", type(error).__name__)
        if handoff.maybe_open(chat_id):  # in a case: say it did not go, rather than search
            await reply(update, context, _try_again(texts_), [_end_row(texts_)])
            raise ApplicationHandlerStop from None
        return
    handoff.seen_open(chat_id, case is not None)
    if case is None:
        return
    kind = _kind(message)
    if kind not in RELAYED:
        why = (texts_("For your safety I do not pass on files, locations or contacts: they can "
                      "show who you are and where. Send a photo as a photo, not as a file, or "
                      "write it in words.") if kind == "identifying" else
               texts_("I can pass on only text, voice messages and photos. This message was "
                      "not passed on."))
        await reply(update, context, why, [_end_row(texts_)])
        raise ApplicationHandlerStop
    if not handoff.rate.admit(case.code):
        await reply(update, context, texts_(
            "Too many messages in a short time: this one was not passed on. Wait a minute and "
            "send it again."), [_end_row(texts_)])
        raise ApplicationHandlerStop
    try:
        case = await handoff.to_topic(context.bot, case, message)
    except GroupUnusable:
        await reply(update, context, _unreachable(texts_), [_end_row(texts_)])
        raise ApplicationHandlerStop from None
    except Exception as error:
        log.warning("handoff: a message was not relayed (%s)", type(error).__name__)
        await reply(update, context, _try_again(texts_), [_end_row(texts_)])
        raise ApplicationHandlerStop from None
    try:
        await handoff.book.touch(case.code)
    except Exception as error:  # delivered; only the idle clock missed a day
        log.warning("handoff: activity not noted (%s)", type(error).__name__)
    raise ApplicationHandlerStop


# ---- the caseworkers' side ------------------------------------------------------------------

def _command(text: str, username: str) -> str:
    """"/close" of "/close@this_bot 3"; "" for no command, or one for another bot."""
    if not text.startswith("/"):
        return ""
    name, _, addressee = text.split()[0].partition("@")
    return name.lower() if not addressee or addressee.lower() == username.lower() else ""


async def from_caseworkers(update: Update, context: JolContext) -> None:
    """Group -1, the caseworkers' group: a topic's messages go to its case's person."""
    handoff = context.services.handoff
    message = update.message
    if handoff is None or message is None:
        raise ApplicationHandlerStop
    thread = message.message_thread_id if message.is_topic_message else None
    text = message.text or message.caption or ""
    if thread is None or text.startswith("!") or not (message.text or
                                                       message.effective_attachment):
        raise ApplicationHandlerStop  # the General topic, a note, or a service message
    command = _command(text, context.bot.username)
    bot = context.bot
    try:
        case = await handoff.book.for_topic(thread)
    except Exception as error:
        log.warning("handoff: cases unavailable (%s)", type(error).__name__)
        await handoff.note(bot, thread, texts(CASEWORK_LANG)(
            "The bot's database is unavailable: nothing was sent. Try again in a minute."))
        raise ApplicationHandlerStop from None
    if case is None or case.status != OPEN or case.chat_id is None:
        await handoff.note(bot, thread, texts(CASEWORK_LANG)(
            "This topic is not an open case any more: nothing was sent."))
        raise ApplicationHandlerStop
    if command in ("/close", "/block"):
        await _close_from_group(update, context, handoff, case, command, text)
    elif command:
        await handoff.note(bot, thread, texts(CASEWORK_LANG)(
            "Unknown command. In a case topic: /close, /block [days], !note."))
    else:
        problem = await handoff.to_user(bot, case, message, _end_markup(case.lang))
        if problem:
            await handoff.note(bot, thread, problem)
        else:
            try:
                await handoff.book.touch(case.code)
            except Exception as error:
                log.warning("handoff: activity not noted (%s)", type(error).__name__)
    raise ApplicationHandlerStop


async def _close_from_group(update: Update, context: JolContext, handoff: Handoff,
                            case: OpenCase, command: str, text: str) -> None:
    bot = context.bot
    chat_id = case.chat_id
    assert chat_id is not None
    user_texts = texts(case.lang)
    days = 0
    if command == "/block":
        argument = text.split()[1] if len(text.split()) > 1 else str(BLOCK_DAYS)
        if not argument.isdigit() or not 1 <= int(argument) <= MAX_BLOCK_DAYS:
            await handoff.note(bot, case.topic_id, texts(CASEWORK_LANG)(
                "Write /block and a number of days from 1 to {most}, e.g. /block 7.",
                most=MAX_BLOCK_DAYS))
            return
        days = int(argument)
    try:
        if days:
            await handoff.book.block(chat_id, days)
        closed = await handoff.book.close(case.code)
    except Exception as error:
        log.warning("handoff: a case could not be closed (%s)", type(error).__name__)
        await handoff.note(bot, case.topic_id, texts(CASEWORK_LANG)(
            "The bot's database is unavailable: the case is still open. Try again in a minute."))
        return
    handoff.seen_open(chat_id, False)
    if not closed:
        return
    context.services.stats.count(events.CASE_CLOSED, "", case.lang, chat=chat_id)
    if days:
        said = texts(case.lang)("The caseworkers have ended this conversation and paused new ones "
                          "from this chat for {days} days. If you are in danger, press SOS.",
                          days=days)
    else:
        said = texts(case.lang)("The caseworker has ended the conversation. To talk again: /talk.")
    keyboard = {"inline_keyboard": [nav_row(user_texts, back=None)]}
    try:
        await bot.do_api_request("sendMessage", api_kwargs={
            "chat_id": chat_id, "text": said, "reply_markup": keyboard})
        told = ""
    except TelegramError:
        told = " " + texts(CASEWORK_LANG)(
            "The person could not be told (the bot is blocked or the chat is gone).")
    await handoff.note(bot, case.topic_id, texts(CASEWORK_LANG)(
        "Case closed. The topic will be deleted at the next clean-up (within an hour).") + told)


PRESSES = (ButtonHandler(TalkButton, talk_button_pressed),)
