"""The content model: immutable topics, contacts and the problems found while loading them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from bot.content.search import SearchIndex
    from bot.content.selfcheck import SelfCheck
    from bot.i18n import Catalogs
    from bot.languages import Languages

# A "note" informs and never fails a check, not even --strict: it says what a declared choice
# (a partial language showing its fallback's topics) means, with nothing to fix.
Severity = Literal["error", "warning", "note"]
# What a contact is for: SOS shows a country's emergency numbers, then the consular ones.
ContactKind = Literal["emergency", "consular", "hotline"]
CONTACT_KINDS: tuple[ContactKind, ...] = ("emergency", "consular", "hotline")


@dataclass(frozen=True, order=True)
class Problem:
    """One finding of the validator, printed as `path:line: severity: message`.

    `key` is the message's id in bot/content/checker_messages.py (English, with named
    placeholders) and `values` fill them, so `show(lang)` can say it in the editor's language;
    `message` is the English text.
    """

    path: str
    line: int
    message: str
    severity: Severity = "error"
    key: str = field(default="", compare=False)
    values: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity}: {self.message}"

    def show(self, lang: str) -> str:
        """The same line with the message in `lang` (en, ru; others fall back to ru)."""
        from bot.content.checker_messages import translate

        message = translate(self.key or self.message, dict(self.values), lang)
        return f"{self.path}:{self.line}: {self.severity}: {message}"


class TopicAction(StrEnum):
    """A bot feature a topic may offer as a button under its text (`actions:` in content).
    The loader accepts exactly these; bot/handlers/menu.py gives each its button (mypy checks
    that every one has one), and content/README.md names them for editors (a test checks)."""

    CHECK = "check"  # the job-offer self-check
    FAMILY_CHECK = "family-check"  # the same self-check, about a relative's offer
    CLEAR_CHAT = "clear-chat"  # delete the bot's and the user's messages (the safety screen)


@dataclass(frozen=True)
class Topic:
    id: str
    lang: str
    title: str
    parent: str | None
    order: int
    keywords: tuple[str, ...]
    reviewed: date
    sources: tuple[str, ...]
    contacts: tuple[str, ...]
    related: tuple[str, ...]
    actions: tuple[TopicAction, ...]  # bot features offered as buttons under the text
    body: str
    file: str  # its name in the content tree, e.g. "ru/russia.md", for problem lines
    body_line: int
    # The line of each front-matter field, so problems found later point at the field.
    field_lines: Mapping[str, int] = field(default_factory=dict, compare=False, hash=False)
    # Rendered Telegram HTML, one string a page; filled in when the snapshot is built.
    pages: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contact:
    id: str
    country: str
    phone: str
    name: Mapping[str, str]
    hours: Mapping[str, str]
    note: Mapping[str, str]
    url: str | None
    verified_on: date
    source: str
    verified: bool
    line: int
    kind: ContactKind = "hotline"


@dataclass(frozen=True)
class ContentSnapshot:
    """Everything the bot serves, validated and rendered; swapped whole on reload."""

    topics: Mapping[tuple[str, str], Topic]  # (lang, id) -> topic
    children: Mapping[tuple[str, str | None], tuple[str, ...]]  # (lang, parent) -> ids by order
    contacts: Mapping[str, Contact]
    countries: Mapping[str, Mapping[str, str]]
    search: SearchIndex
    selfcheck: SelfCheck
    version: str
    loaded_at: datetime
    languages: Languages
    catalogs: Catalogs  # the UI strings loaded and checked with this content
    warnings: tuple[Problem, ...] = field(default=())
    campaigns: Mapping[str, str] = field(default_factory=dict)  # declared code -> note

    def topic(self, lang: str, topic_id: str) -> Topic | None:
        """The topic in `lang`, or for a partial language in its fallback (then `topic.lang`
        says which, and the screen adds a note)."""
        topic = self.topics.get((lang, topic_id))
        if topic is None:
            for code in self.languages.chain(lang)[1:]:
                topic = self.topics.get((code, topic_id))
                if topic is not None:
                    break
        return topic

    def topic_ids(self) -> list[str]:
        return sorted({topic_id for _, topic_id in self.topics})

    def menu(self, lang: str, parent: str | None = None) -> list[Topic]:
        """Every topic under `parent`: a partial language lists its fallback's too."""
        return [topic for i in self.children.get((lang, parent), ())
                if (topic := self.topic(lang, i)) is not None]
