"""Render the content's small Markdown subset to Telegram HTML, and split it into pages.

Supported: paragraphs (blank-line separated), **bold**, _italic_, [text](https://…), "- " list
lines and "## " headings. Everything else is text: `<`, `>` and `&` are escaped, so raw HTML in
content is shown, never interpreted. Tags are only ever emitted in pairs, so output is balanced.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping, Sequence

from bot.content.model import Contact
from bot.i18n import Texts

# Telegram allows 4096 characters per message; a page leaves room for the title and page footer.
PAGE_LIMIT = 3500

_INLINE_RE = re.compile(
    r"\[(?P<text>[^\]\n]+)\]\((?P<url>[^)\s]+)\)"
    r"|\*\*(?P<bold>[^*\n]+?)\*\*"
    r"|(?<![\w])_(?P<italic>[^_\n]+?)_(?![\w])"
)
_RAW_HTML_RE = re.compile(r"</?[a-zA-Z][^>]*>")


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
    for offset, line in enumerate(body.splitlines()):
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


def markdown_problems(body: str) -> list[tuple[int, str]]:
    """Lint the body: (0-based line offset, message) for each suspicious construct."""
    problems: list[tuple[int, str]] = []
    for offset, line in enumerate(body.splitlines()):
        if _RAW_HTML_RE.search(line):
            problems.append((offset, "raw HTML is shown as plain text; use **bold** or _italic_"))
        for match in _INLINE_RE.finditer(line):
            if match["url"] is not None and not match["url"].startswith("https://"):
                problems.append((offset, f"link must start with https://: {match['url']}"))
        if re.match(r"^\s*\d+\.\s", line):
            problems.append((offset, "numbered lists are not supported; write '1)' or use '- '"))
    return problems


def flag(country: str) -> str:
    """The flag emoji of an ISO 3166 alpha-2 code."""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in country.upper())


def render_contact(contact: Contact, texts: Texts) -> str:
    lang = texts.lang
    line = f"☎️ <b>{escape(contact.phone)}</b> — {escape(contact.name[lang])}"
    if contact.hours.get(lang):
        line += f" ({escape(contact.hours[lang])})"
    lines = [line]
    if contact.note.get(lang):
        lines.append(f"<i>{escape(contact.note[lang])}</i>")
    if contact.url:
        lines.append(f'<a href="{html.escape(contact.url, quote=True)}">{escape(contact.url)}</a>')
    if contact.verified:
        lines.append(texts("Checked on {date}", date=texts.date(contact.verified_on)))
    else:
        lines.append("⚠️ " + texts("Not confirmed: this number may not work. Check it first."))
    return "\n".join(lines)


def render_contacts(
    contacts: Iterable[Contact], countries: Mapping[str, Mapping[str, str]], texts: Texts
) -> list[str]:
    """One block per country, in the order the countries first appear."""
    by_country: dict[str, list[Contact]] = {}
    for contact in contacts:
        by_country.setdefault(contact.country, []).append(contact)
    blocks = []
    for country, group in by_country.items():
        name = countries.get(country, {}).get(texts.lang, country)
        entries = "\n\n".join(render_contact(c, texts) for c in group)
        blocks.append(f"<b>{flag(country)} {escape(name)}</b>\n{entries}")
    return blocks


def paginate(title: str, blocks: Sequence[str], limit: int = PAGE_LIMIT) -> list[str]:
    """Pack blocks into pages of at most `limit` characters, each starting with the title.

    A block longer than a page is the validator's business (it reports it); here it is
    given a page of its own rather than being cut mid-tag.
    """
    header = f"<b>{escape(title)}</b>"
    pages: list[str] = []
    current = header
    for block in blocks:
        candidate = f"{current}\n\n{block}"
        if len(candidate) > limit and current != header:
            pages.append(current)
            candidate = f"{header}\n\n{block}"
        current = candidate
    pages.append(current)
    return pages
