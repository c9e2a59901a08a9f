"""/start with deep links, /help and /about.

Deep-link payload grammar (t.me/<bot>?start=<payload>, at most 64 of A-Z a-z 0-9 _ -):
    <topic-id>              open that topic, e.g. `check-agency`
    <topic-id>--<source>    open it and count the start under a campaign source, e.g.
                            `check-agency--osh_bus_2026`
    --<source>              the main menu, counted under the source
Anything else falls back to the normal start; an unknown topic id too (the source still counts).
A source is counted by name only when it is declared in content/campaigns.yaml; any other is
counted as "other", so nothing a person typed into a link is ever stored.
"""

from __future__ import annotations

import re

from telegram import Update

from bot import events
from bot.buttons import TOPIC_ID_RE
from bot.content.campaigns import campaign_cell
from bot.context import JolContext
from bot.handlers.menu import open_topic
from bot.handlers.screens import nav_row, reply, show_main_menu
from bot.handlers.talk import talk_button

_PAYLOAD_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SOURCE_RE = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def parse_payload(payload: str) -> tuple[str, str]:
    """(topic id or "", campaign source or "") of a deep-link payload; ("", "") if malformed."""
    if not _PAYLOAD_RE.match(payload):
        return "", ""
    topic, separator, source = payload.partition("--")
    if separator and not _SOURCE_RE.match(source):
        return "", ""
    if topic and not TOPIC_ID_RE.match(topic):
        return "", source.lower() if separator else ""
    return topic, source.lower()


async def start_command(update: Update, context: JolContext) -> None:
    payload = context.args[0] if context.args else ""
    topic_id, source = parse_payload(payload)
    opened = bool(topic_id) and await open_topic(update, context, topic_id)
    context.count(events.START, campaign_cell(source, context.content.campaigns))
    if not opened:
        await show_main_menu(update, context)


async def help_command(update: Update, context: JolContext) -> None:
    texts = context.texts
    lines = [
        "<b>" + texts("How to use Jol") + "</b>",
        "",
        texts("Press the buttons, or type a question in your own words: "
              "for example «паспорт» or «Кореяга кантип барам»."),
        "",
        "/menu — " + texts("main menu"),
        "/sos — " + texts("emergency numbers and hotlines"),
        "/check — " + texts("check a job offer for the signs of a scam"),
        "/language — " + texts("change the language"),
        "/forget — " + texts("delete what the bot remembers about this chat"),
        "/about — " + texts("what Jol is and how it protects you"),
    ]
    if context.services.handoff is not None:
        lines.insert(-1, "/talk — " + texts("talk to a person from an NGO, anonymously"))
    user = update.effective_user
    if user is not None and user.id in context.services.settings.admin_ids:
        lines += [
            "",
            "<b>" + texts("For NGO staff") + "</b>",
            "/stats — " + texts("anonymous statistics"),
            "/reload — " + texts("check and apply the content"),
            "/content — " + texts("loaded content and its warnings"),
            "/workspace — " + texts("a sign-in link to the editors' workspace"),
        ]
    await reply(update, context, "\n".join(lines), [*talk_button(context), nav_row(texts)])


async def about_command(update: Update, context: JolContext) -> None:
    texts = context.texts
    content = context.content
    newest = max(t.reviewed for t in content.topics.values())
    text = "\n\n".join([
        "<b>" + texts("About Jol") + "</b>",
        texts("Jol («the road») helps people from Kyrgyzstan work abroad legally and safely: "
              "the rules by country, the signs of a scam or of trafficking, and whom to call."),
        texts("Privacy: Jol does not store your name, your phone number, your chat or what "
              "you type. Without knowing who, it counts which topics people open, which "
              "numbers people report as not working, and single common words of searches "
              "that found nothing, a word only when many different people typed it. Only "
              "weekly totals leave the bot, and they are slightly changed on purpose."),
        texts("The texts are kept up to date by NGO staff. Latest review: {date}.",
              date=texts.date(newest)),
    ])
    await reply(update, context, text, [nav_row(texts)])
