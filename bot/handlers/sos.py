"""SOS: the short advice, then one tap for the country the person is in; then, on one short
screen, that country's emergency numbers and the Kyrgyz consular contacts.

Everything shown comes from the `sos` topic: its text is the advice, its `contacts:` are the
numbers. A contact with `kind: emergency` puts its country on the picker; `kind: consular`
ones follow the emergency numbers (the Kyrgyz MFA's always, an embassy's in its country).
The choice is counted only as a counter per country (`sos`, key = the code, "" for the
picker, "-" for "another / don't know"), never with anything that could single a person out.
"""

from __future__ import annotations

from telegram import Update

from bot import events
from bot.buttons import SosButton, TopicButton
from bot.content.model import Contact, ContentSnapshot, Topic
from bot.content.render import (
    checked_dates,
    escape,
    flag,
    paginate,
    render_block,
    render_contact,
    split_blocks,
)
from bot.context import JolContext
from bot.handlers.screens import (
    MAIN_MENU,
    SOS,
    ButtonHandler,
    Keyboard,
    button,
    fallback_note,
    nav_row,
    show,
)
from bot.handlers.talk import talk_button
from bot.i18n import Texts

SOS_TOPIC = "sos"
HOTLINES_TOPIC = "hotlines"
HOME_COUNTRY = "KG"  # the consular department at home answers wherever the person is
UNKNOWN_COUNTRY = SosButton.UNKNOWN
GENERAL_NUMBER = "112"


def _sos_topic(context: JolContext) -> Topic:
    topic = context.content.topic(context.texts.lang, SOS_TOPIC)
    if topic is None:
        raise RuntimeError("content has no sos topic")  # the loader refuses such content
    return topic


def _advice(topic: Topic) -> str:
    """The title and the text of the sos topic, without its list of numbers."""
    return paginate(topic.title, [render_block(b) for _, b in split_blocks(topic.body)])[0]


def _contacts(content: ContentSnapshot, topic: Topic, kind: str) -> list[Contact]:
    found = (content.contacts.get(contact_id) for contact_id in topic.contacts)
    return [c for c in found if c is not None and c.kind == kind]


def sos_countries(content: ContentSnapshot, topic: Topic) -> list[str]:
    """Countries with emergency numbers in the sos topic, in the order they are listed."""
    return list(dict.fromkeys(c.country for c in _contacts(content, topic, "emergency")))


def _country_name(content: ContentSnapshot, country: str, texts: Texts) -> str:
    return content.countries.get(country, {}).get(texts.lang, country)


def picker_screen(context: JolContext) -> tuple[str, Keyboard]:
    texts = context.texts
    content = context.content
    topic = _sos_topic(context)
    text = (fallback_note(context, topic) + _advice(topic) + "\n\n<b>"
            + texts("Which country are you in?") + "</b>")
    choices = [button(f"{flag(c)} {_country_name(content, c, texts)}", SosButton(c))
               for c in sos_countries(content, topic)]
    choices.append(button("🌍 " + texts("Another country / I don't know"),
                          SosButton(UNKNOWN_COUNTRY)))
    keyboard: Keyboard = [choices[i:i + 2] for i in range(0, len(choices), 2)]
    keyboard += talk_button(context)
    keyboard.append(nav_row(texts, back=None))
    return text, keyboard


def country_screen(context: JolContext, country: str) -> tuple[str, Keyboard]:
    """The advice, the emergency numbers of `country` (or how to find them), then consular."""
    texts = context.texts
    content = context.content
    topic = _sos_topic(context)
    emergency = _contacts(content, topic, "emergency")
    consular = [c for c in _contacts(content, topic, "consular")
                if c.country in (HOME_COUNTRY, country)]
    blocks = [fallback_note(context, topic) + _advice(topic)]
    if country == UNKNOWN_COUNTRY:
        general = [c.country for c in emergency if c.phone == GENERAL_NUMBER]
        names = ", ".join(_country_name(content, c, texts) for c in dict.fromkeys(general))
        advice = texts("Call the emergency number of the country you are in.")
        if names:
            advice += " " + texts("The number {number} works in many countries, "
                                  "among them: {countries}.", number=GENERAL_NUMBER,
                                  countries=names)
        blocks.append("<b>" + escape(advice) + "</b>")
        local: list[Contact] = []
    else:
        local = [c for c in emergency if c.country == country]
        name = _country_name(content, country, texts)
        blocks.append(f"<b>{flag(country)} {escape(name)}</b>\n"
                      + "\n".join(render_contact(c, texts, dated=False) for c in local))
    if consular:
        blocks.append("<b>🇰🇬 " + texts("Kyrgyz consular help") + "</b>\n"
                      + "\n".join(render_contact(c, texts, dated=False) for c in consular))
    checked = checked_dates(local + consular, texts)  # once for the screen, not per number
    if checked:
        blocks.append(f"<i>{escape(checked)}</i>")
    keyboard: Keyboard = []
    hotlines = content.topic(texts.lang, HOTLINES_TOPIC)
    if hotlines is not None:
        keyboard.append([button("☎️ " + hotlines.title, TopicButton(HOTLINES_TOPIC))])
    keyboard += talk_button(context)
    keyboard.append([button("🌍 " + texts("Other country"), SOS),
                     button("🏠 " + texts("Menu"), MAIN_MENU)])
    return "\n\n".join(blocks), keyboard


async def show_sos(update: Update, context: JolContext) -> None:
    """The SOS picker: from /sos, the SOS button, SOS words and the sos topic."""
    context.count(events.SOS, "")
    await show(update, context, *picker_screen(context))


async def sos_command(update: Update, context: JolContext) -> None:
    await show_sos(update, context)


async def sos_pressed(update: Update, context: JolContext, pressed: SosButton) -> None:
    country = pressed.country
    if not country:
        await show_sos(update, context)
        return
    if country != UNKNOWN_COUNTRY and country not in sos_countries(context.content,
                                                                  _sos_topic(context)):
        await show(update, context, *picker_screen(context),
                   notice=context.texts("This button is out of date."))
        return
    context.count(events.SOS, country)
    await show(update, context, *country_screen(context, country))


PRESSES = (ButtonHandler(SosButton, sos_pressed),)
