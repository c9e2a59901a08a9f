"""Render the content's small Markdown subset to Telegram HTML, and split it into pages.

Supported: paragraphs (blank-line separated), **bold**, _italic_, [text](https://…), "- " list
lines and "## " headings. Everything else is text: `<`, `>` and `&` are escaped, so raw HTML in
content is shown, never interpreted. Tags are only ever emitted in pairs, so output is balanced.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence

from bot.content.model import Contact, Severity
from bot.i18n import Texts

# What one screen of a cheap phone shows, in visible characters (text without tags); the
# page footer ("Page 2 of 3") is within it. Telegram itself refuses more than 4096.
PAGE_LIMIT = 1500
TELEGRAM_LIMIT = 4096
FOOTER_ROOM = 30  # "\n\n" and "Page 12 of 12" in the longest language

# No part may run over a '[' or '(' (nor '<' below): each match attempt then stops at the next
# one, so a line of 100,000 '[' is read in linear time instead of freezing the loader.
_INLINE_RE = re.compile(
    r"\[(?P<text>[^\[\]\n]+)\]\((?P<url>[^()\[\]\s]+)\)"
    r"|\*\*(?P<bold>[^*\n]+?)\*\*"
    r"|(?<![\w])_(?P<italic>[^_\n]+?)_(?![\w])"
)
_RAW_HTML_RE = re.compile(r"</?[a-zA-Z][^<>]*>")
_TAG_RE = re.compile(r"<[^>]*>")


def visible_length(html_text: str) -> int:
    """What Telegram counts: text without tags, entities unescaped, in UTF-16 code units
    (an emoji such as ☎️ counts two)."""
    return len(html.unescape(_TAG_RE.sub("", html_text)).encode("utf-16-le")) // 2


def escape(text: str) -> str:
    return html.escape(text, quote=False)


def render_inline(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _INLINE_RE.finditer(text):
        out.append(escape(text[pos : match.start()]))
        if match["url"] is not None:
            url = match["url"]
            if url.startswith("https://"):
                out.append(f'<a href="{html.escape(url, quote=True)}">{escape(match["text"])}</a>')
            else:
                out.append(escape(match[0]))
        elif match["bold"] is not None:
            out.append(f"<b>{render_inline(match['bold'])}</b>")
        else:
            out.append(f"<i>{render_inline(match['italic'])}</i>")
        pos = match.end()
    out.append(escape(text[pos:]))
    return "".join(out)


def render_line(line: str) -> str:
    stripped = line.strip()
    if stripped.startswith("## "):
        return f"<b>{render_inline(stripped[3:].strip())}</b>"
    if stripped.startswith(("- ", "* ")):
        return "• " + render_inline(stripped[2:].strip())
    return render_inline(stripped)


def split_blocks(body: str) -> list[tuple[int, str]]:
    """Blocks of non-blank lines with the 0-based line offset where each starts."""
    blocks: list[tuple[int, str]] = []
    current: list[str] = []
    start = 0
    for offset, line in enumerate(body.split("\n")):
        if line.strip():
            if not current:
                start = offset
            current.append(line)
        elif current:
            blocks.append((start, "\n".join(current)))
            current = []
    if current:
        blocks.append((start, "\n".join(current)))
    return blocks


def render_block(block: str) -> str:
    return "\n".join(render_line(line) for line in block.splitlines())


def markdown_problems(body: str) -> list[tuple[int, str, Severity, dict[str, object]]]:
    """Lint the body: (0-based line offset, catalog id, severity, values) for each suspicious
    construct."""
    problems: list[tuple[int, str, Severity, dict[str, object]]] = []
    for offset, line in enumerate(body.split("\n")):
        if _RAW_HTML_RE.search(line):
            problems.append((offset, "raw HTML is shown as plain text; use **bold** or _italic_",
                             "warning", {}))
        for match in _INLINE_RE.finditer(line):
            if match["url"] is not None and not match["url"].startswith("https://"):
                problems.append((offset, "link must start with https://: {url}", "error",
                                 {"url": match["url"]}))
        if re.match(r"^\s*\d+\.\s", line):
            problems.append((offset, "numbered lists are not supported; write '1)' or use '- '",
                             "error", {}))
    return problems


def flag(country: str) -> str:
    """The flag emoji of an ISO 3166 alpha-2 code."""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in country.upper())


def render_contact(contact: Contact, texts: Texts, dated: bool = True) -> str:
    lang = texts.lang
    line = f"☎️ <b>{escape(contact.phone)}</b> — {escape(contact.name[lang])}"
    if contact.hours.get(lang):
        line += f" ({escape(contact.hours[lang])})"
    lines = [line]
    if contact.note.get(lang):
        lines.append(f"<i>{escape(contact.note[lang])}</i>")
    if contact.url:
        lines.append(f'<a href="{html.escape(contact.url, quote=True)}">{escape(contact.url)}</a>')
    if not contact.verified:
        lines.append("⚠️ " + texts("Not confirmed: this number may not work. Check it first."))
    elif dated:
        lines.append(texts("Number checked against its published source on {date}",
                           date=texts.date(contact.verified_on)))
    return "\n".join(lines)


def checked_dates(contacts: Iterable[Contact], texts: Texts) -> str | None:
    """One line for a list: when its confirmed numbers were checked against their sources."""
    dates = sorted({c.verified_on for c in contacts if c.verified})
    if not dates:
        return None
    if len(dates) == 1:
        return texts("Numbers checked against their published sources on {date}",
                     date=texts.date(dates[0]))
    return texts("Numbers checked against their published sources from {first} to {last}",
                 first=texts.date(dates[0]), last=texts.date(dates[-1]))


def render_contacts(
    contacts: Iterable[Contact], countries: Mapping[str, Mapping[str, str]], texts: Texts,
    compact: bool = False,
) -> list[str]:
    """One block per country, in the order the countries first appear.

    compact: the checked-on date is said once, after the last block, instead of under every
    number (the SOS screen); unconfirmed numbers keep their caution on each line.
    """
    contacts = list(contacts)
    by_country: dict[str, list[Contact]] = {}
    for contact in contacts:
        by_country.setdefault(contact.country, []).append(contact)
    blocks = []
    for country, group in by_country.items():
        name = countries.get(country, {}).get(texts.lang, country)
        entries = "\n\n".join(render_contact(c, texts, dated=not compact) for c in group)
        blocks.append(f"<b>{flag(country)} {escape(name)}</b>\n{entries}")
    dates = checked_dates(contacts, texts) if compact else None
    if blocks and dates:
        blocks[-1] += f"\n\n<i>{escape(dates)}</i>"
    return blocks


def page_header(title: str) -> str:
    return f"<b>{escape(title)}</b>"


def paginate(title: str, blocks: Sequence[str], limit: int = PAGE_LIMIT) -> list[str]:
    """Pack whole blocks (paragraphs) into pages, each starting with the title, of at most
    `limit` visible characters with room for the page footer.

    A block longer than a page is the validator's business (it reports it); here it is
    given a page of its own rather than being cut mid-tag.
    """
    header = page_header(title)
    pages: list[str] = []
    current = header
    for block in blocks:
        candidate = f"{current}\n\n{block}"
        if visible_length(candidate) + FOOTER_ROOM > limit and current != header:
            pages.append(current)
            candidate = f"{header}\n\n{block}"
        current = candidate
    pages.append(current)
    return pages
