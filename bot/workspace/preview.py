"""A topic as Telegram shows it: the bot's own renderer (bot/content/render.py via the
loader's parse and render steps), its pages and the labels of its buttons; and that Telegram
HTML made safe for a web page.

Telegram HTML is a small tag set. The page gets it re-escaped whole, then only b, i, u, s,
code, pre and <a href="https://…"> are let through, balanced; anything else — a `<script>`
an editor typed, a `javascript:` link — stays visible text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, replace
from datetime import date

from markupsafe import Markup

from bot.content import loader
from bot.content.model import ContentSnapshot, Problem, Topic, TopicAction
from bot.handlers.talk import offers_talk

_TAGS = {"b", "i", "u", "s", "code", "pre"}
_TAG_RE = re.compile(r"<(/?)([a-zA-Z]+)([^<>]*)>")
_HREF_RE = re.compile(r'\s+href="([^"]*)"\s*')


def _text(raw: str) -> str:
    """Telegram HTML's text (entities and all) as page text: unescaped, then escaped again."""
    return html.escape(html.unescape(raw), quote=False)


def safe_telegram_html(text: str) -> Markup:
    """Telegram HTML as safe page HTML: allowed tags kept (balanced), everything else text."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    for match in _TAG_RE.finditer(text):
        out.append(_text(text[pos:match.start()]))
        pos = match.end()
        closing, tag, attributes = match[1], match[2].lower(), match[3]
        if tag in _TAGS and not attributes.strip():
            if not closing:
                stack.append(tag)
                out.append(f"<{tag}>")
                continue
            if stack and stack[-1] == tag:
                stack.pop()
                out.append(f"</{tag}>")
                continue
        elif tag == "a":
            href_match = _HREF_RE.fullmatch(attributes) if attributes else None
            href = html.unescape(href_match[1]) if href_match else ""
            if not closing and href.startswith("https://"):
                stack.append("a")
                out.append(f'<a href="{html.escape(href, quote=True)}" '
                           'rel="noopener noreferrer" target="_blank">')
                continue
            if closing and not attributes and stack and stack[-1] == "a":
                stack.pop()
                out.append("</a>")
                continue
        out.append(html.escape(match[0], quote=False))  # not ours to interpret: text
    out.append(_text(text[pos:]))
    out += [f"</{tag}>" for tag in reversed(stack)]
    return Markup("".join(out).replace("\n", "<br>"))


@dataclass(frozen=True)
class Screen:
    """One page of a topic as the bot sends it."""

    html: Markup
    buttons: list[list[str]]


@dataclass(frozen=True)
class Preview:
    screens: list[Screen]
    problems: list[Problem]


def _buttons(snapshot: ContentSnapshot, topic: Topic, lang: str, page: int,
             talk: bool) -> list[list[str]]:
    """The labels bot/handlers/menu.py's topic_screen puts under this page, in its order."""
    texts = snapshot.catalogs.texts(lang)
    rows: list[list[str]] = []
    if len(topic.pages) > 1:
        row = []
        if page > 0:
            row.append("‹ " + texts("Previous"))
        if page < len(topic.pages) - 1:
            row.append(texts("Next") + " ▶️")
        rows.append(row)
    rows += [[child.title] for child in snapshot.menu(lang, topic.id)]
    labels = {TopicAction.CHECK: "✅ " + texts("Check a job offer"),
              TopicAction.FAMILY_CHECK: "✅ " + texts("Check a relative's job offer"),
              TopicAction.CLEAR_CHAT: "🧹 " + texts("Clear this chat")}
    rows += [[labels[action]] for action in topic.actions]
    if topic.contacts:
        rows.append(["📵 " + texts("A number did not work")])
    for related_id in topic.related:
        related = snapshot.topic(lang, related_id)
        if related is not None:
            rows.append(["➡️ " + related.title])
    if talk and offers_talk(topic.id, topic.parent):
        rows.append(["💬 " + texts("Talk to a person")])
    nav = ["⬅️ " + texts("Back")] if topic.parent else []
    rows.append([*nav, "🏠 " + texts("Menu"), "🆘 SOS"])
    return rows


def preview_topic(snapshot: ContentSnapshot, path: str, text: str, lang: str, *,
                  talk: bool = False, today: date | None = None) -> Preview:
    """Parse and render one topic file's text with the published snapshot's contacts and
    catalogs: fast enough for every keystroke, and the same code the loader runs."""
    report = loader._Report("content")
    topic = loader.parse_topic(path, text, lang, report, today or date.today())
    if topic is None:
        return Preview([], report.problems)
    for contact_id in topic.contacts:
        if contact_id not in snapshot.contacts:
            report(path, topic.field_lines.get("contacts", 1),
                   "contact '{id}' is not in contacts.yaml", id=contact_id)
    known = {c: snapshot.contacts[c] for c in topic.contacts if c in snapshot.contacts}
    texts = snapshot.catalogs.texts(lang)
    topic = loader._render(replace(topic, contacts=tuple(known)), known, snapshot.countries,
                           report, texts)
    screens = []
    for page, body in enumerate(topic.pages):
        shown = body
        if len(topic.pages) > 1:
            shown += "\n\n" + texts("Page {n} of {total}", n=page + 1, total=len(topic.pages))
        buttons = _buttons(snapshot, topic, lang, page, talk)
        screens.append(Screen(safe_telegram_html(shown), buttons))
    return Preview(screens, report.problems)
