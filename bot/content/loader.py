"""Parse and validate a content tree into an immutable ContentSnapshot.

Parsing is pure: the files a source read (bot/content/source.py) in, snapshot and problems out;
nothing here opens a file. Each problem carries the file and line so an NGO editor can find it;
nothing here raises on bad content.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple, TypeGuard, cast

import phonenumbers
import yaml
from babel.messages.catalog import Catalog

from bot import i18n
from bot.buttons import MAX_PAGES, TOPIC_ID_RE, NumbersButton, TopicButton
from bot.content.campaigns import parse_campaigns
from bot.content.model import (
    CONTACT_KINDS,
    Contact,
    ContactKind,
    ContentSnapshot,
    Problem,
    Severity,
    Topic,
    TopicAction,
)
from bot.content.render import (
    FOOTER_ROOM,
    PAGE_LIMIT,
    TELEGRAM_LIMIT,
    markdown_problems,
    page_header,
    paginate,
    render_block,
    render_contacts,
    split_blocks,
    visible_length,
)
from bot.content.search import SearchIndex
from bot.content.selfcheck import parse_selfcheck
from bot.content.source import (
    ROOT,
    CatalogSource,
    ContentFiles,
    ContentSource,
    FolderSource,
    catalog_name,
    size_limit,
    too_big,
)
from bot.content.yamlfile import Located, decode, parse_yaml, read_yaml
from bot.i18n import Catalogs, Texts, read_catalog
from bot.languages import CODE_RE, Languages, parse_languages

# The bot's SOS screen, its hotlines button and the main menu's safety button open these.
REQUIRED_TOPICS = ("sos", "hotlines", "phone-safety")
TITLE_LIMIT = 32
MENU_BUTTON_LIMIT = 12  # a warning: more is hard to use on a phone
TELEGRAM_BUTTON_LIMIT = 100  # an error: Telegram refuses a keyboard with more
MAIN_MENU_EXTRA_BUTTONS = 4  # job-offer check, safety, SOS, language (bot/handlers/screens.py)
NAV_ROW_BUTTONS = 3  # back, menu, SOS under every topic
COMPACT_AFTER = 3  # a longer list of contacts says when they were checked once, at the end
# A top-level section says so: `parent: main`, so a forgotten parent is an error, not a section.
MAIN_MENU_PARENT = "main"
TOPIC_KEYS = {
    "title": "the button label, at most 32 characters",
    "parent": "the id of the section this topic belongs to, or 'main' for the main menu",
    "order": "position among its siblings, smaller first",
    "keywords": "words people type when they look for this topic",
    "reviewed": "the date a person last checked the text (YYYY-MM-DD)",
    "sources": "where the facts come from, one line each",
    "contacts": "ids from contacts.yaml to show under the text",
    "related": "ids of topics offered as buttons under the text",
    "actions": "bot features offered as buttons: " + ", ".join(TopicAction),
}
# Fields with a fixed set of values; None among them makes the field optional. One line here
# and one in Contact(...) add another, e.g. "kind": (None, "emergency", "consular", "hotline").
CONTACT_CHOICES: dict[str, tuple[str | None, ...]] = {
    "status": ("verified", "unverified"),
    "kind": (None, *CONTACT_KINDS),  # optional; SOS by country shows emergency and consular
}
CONTACT_KEYS = {"id", "country", "phone", "name", "hours", "note", "url", "verified_on",
                "source", *CONTACT_CHOICES}
# Digits, spaces, '-' and brackets, with an optional leading '+'; ASCII only on purpose.
_DIALLABLE_RE = re.compile(r"\+?[0-9(][0-9 ()\-]*[0-9]")


class _Report:
    """Collects problems about files of the tree, shown as `<source name>/<file name>`.

    `message` is a catalog id (bot/content/checker_messages.py); keyword values fill its
    placeholders. `current` is the file being read, named if something unexpected breaks.
    """

    def __init__(self, source_name: str) -> None:
        self.source_name = source_name
        self.current = ROOT
        self.problems: list[Problem] = []

    def shown(self, name: str) -> str:
        return f"{self.source_name}/{name}" if name else self.source_name

    def __call__(self, name: str, line: int, message: str, severity: Severity = "error", /,
                 **values: object) -> None:
        text = message.format_map(values) if values else message
        self.problems.append(Problem(self.shown(name), max(line, 1), text, severity, message,
                                     tuple((k, str(v)) for k, v in values.items())))

    def located(self, name: str, problem: Located, severity: Severity = "error") -> None:
        self(name, problem.line, problem.message, severity, **problem.values)

    def other(self, source_name: str) -> _Report:
        """A reporter for another tree (the UI catalogs) that adds to the same problems."""
        other = _Report(source_name)
        other.problems = self.problems
        return other


class _Tree:
    """The files a source read, as text: what every parse function below is given."""

    def __init__(self, files: Mapping[str, bytes], unreadable: Mapping[str, Located]) -> None:
        self.files = files
        self.unreadable = unreadable

    def text(self, name: str) -> str | Located | None:
        """The file's text; None when there is no such file; why, when it cannot be read.
        The size cap is checked here too, for sources that do not check it while reading."""
        if name in self.unreadable:
            return self.unreadable[name]
        data = self.files.get(name)
        if data is None:
            return None
        if len(data) > size_limit(name):
            return too_big(len(data), size_limit(name))
        return decode(data)

    def entry(self, name: str) -> str | Located:
        """The text of a name the source listed (in `files` or in `unreadable`)."""
        return self.text(name) or ""  # only an empty file's text is falsy


def _key_lines(node: yaml.Node | None, first_line: int) -> dict[str, int]:
    """Map each top-level key of a YAML mapping node to its 1-based line in the file."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        str(key.value): first_line + key.start_mark.line
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }


def _str_list(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str | int) and not isinstance(v, bool)
                                       for v in value):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return None


def _is_date(value: object) -> TypeGuard[date]:
    return isinstance(value, date) and not isinstance(value, datetime)


def parse_topic(path: str, read: str | Located, lang: str, report: _Report,
                today: date) -> Topic | None:
    """One topic file: `path` is its name in the tree ("ru/russia.md"), `read` its text."""
    topic_id = PurePosixPath(path).stem
    if not TOPIC_ID_RE.match(topic_id):
        report(path, 1, "file name must be a topic id: lowercase latin letters, digits and '-',"
               " at most 40 characters")
        return None
    if topic_id == MAIN_MENU_PARENT:
        report(path, 1, "'main' is reserved for 'parent: main'; choose another file name")
        return None
    if isinstance(read, Located):
        report.located(path, read)
        return None
    # Lines as editors and YAML count them: only \n, \r\n and \r end a line.
    lines = read.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[0].strip() != "---":
        report(path, 1, "the file must start with a '---' line, then the fields, then '---'")
        return None
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        report(path, 1, "the fields are not closed: add a '---' line after them")
        return None
    parsed = parse_yaml("\n".join(lines[1:end]), first_line=2)
    if isinstance(parsed, Located):
        report.located(path, parsed)
        return None
    meta, node = parsed
    if not isinstance(meta, dict):
        report(path, 2, "the fields between '---' lines must be 'name: value' pairs")
        return None
    at = _key_lines(node, 2)

    def line_of(key: str) -> int:
        return at.get(key, 1)

    ok = True
    for key in meta:
        if key not in TOPIC_KEYS:
            report(path, line_of(str(key)), "unknown field '{field}' is ignored (known: {known})",
                   "warning", field=key, known=", ".join(TOPIC_KEYS))

    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        report(path, line_of("title"), "title is required: the text of the topic's button")
        ok = False
        title = ""
    elif len(title.strip()) > TITLE_LIMIT:
        report(path, line_of("title"), "title is {length} characters; a button label may have "
               "at most {limit}", length=len(title.strip()), limit=TITLE_LIMIT)
        ok = False

    parent = meta.get("parent")
    if "parent" not in meta:
        report(path, 1, "parent is missing: write the id of its section, or 'parent: main' for "
               "a section of the main menu")
        ok = False
    elif not isinstance(parent, str) or not TOPIC_ID_RE.match(parent):
        report(path, line_of("parent"), "parent must be a topic id or 'main', got {value}",
               value=repr(parent))
        ok = False
    elif parent == topic_id:
        report(path, line_of("parent"), "a topic cannot be its own parent")
        ok = False
    parent = None if parent == MAIN_MENU_PARENT or not isinstance(parent, str) else parent

    order = meta.get("order", 0)
    if not isinstance(order, int) or isinstance(order, bool):
        report(path, line_of("order"), "order must be a whole number, got {value}",
               value=repr(order))
        ok = False
        order = 0

    keywords = _str_list(meta.get("keywords"))
    if keywords is None:
        report(path, line_of("keywords"), "keywords must be a list: [word, word, …]")
        ok = False
        keywords = ()
    elif not keywords:
        report(path, line_of("keywords"), "no keywords: search will find this topic only by "
               "its text", "warning")

    reviewed = meta.get("reviewed")
    if "reviewed" not in meta:
        report(path, 1, "reviewed is required: the date a person last checked this text, "
               "as YYYY-MM-DD")
        ok = False
        reviewed = today
    elif not _is_date(reviewed):
        report(path, line_of("reviewed"), "reviewed must be a date written as YYYY-MM-DD, "
               "got {value}", value=repr(reviewed))
        ok = False
        reviewed = today
    elif reviewed > today:
        report(path, line_of("reviewed"), "reviewed date {date} is in the future",
               date=reviewed)
        ok = False

    sources = _str_list(meta.get("sources"))
    if not sources:
        report(path, line_of("sources"), "sources are required: a list saying where each fact "
               "comes from")
        ok = False
        sources = ()

    contacts = _str_list(meta.get("contacts"))
    related = _str_list(meta.get("related"))
    actions = _str_list(meta.get("actions"))
    for key, value in (("contacts", contacts), ("related", related), ("actions", actions)):
        if value is None:
            report(path, line_of(key), "{field} must be a list of ids: [id, id]", field=key)
            ok = False
    known_actions = [action.value for action in TopicAction]
    for action in actions or ():
        if action not in known_actions:
            report(path, line_of("actions"), "unknown action '{action}' (known: {known})",
                   action=action, known=", ".join(known_actions))
            ok = False

    rest = lines[end + 1 :]
    blank = next((i for i, line in enumerate(rest) if line.strip()), len(rest))
    body = "\n".join(rest[blank:]).rstrip()
    body_line = end + 2 + blank  # 1-based line of the body's first line
    if not body.strip():
        report(path, end + 1, "the text after the fields is empty")
        ok = False
    for offset, message, severity, values in markdown_problems(body):
        report(path, body_line + offset, message, severity, **values)
        ok = ok and severity == "warning"

    if not ok:
        return None
    return Topic(
        id=topic_id, lang=lang, title=title.strip(), parent=parent, order=order,
        keywords=keywords, reviewed=reviewed, sources=sources, contacts=contacts or (),
        related=related or (), actions=tuple(map(TopicAction, actions or ())), body=body,
        file=path, body_line=body_line, field_lines=at,
    )


@lru_cache(maxsize=1024)
def _parse_topic_text(source_name: str, path: str, text: str, lang: str,
                      today: date) -> tuple[Topic | None, tuple[Problem, ...]]:
    report = _Report(source_name)
    return parse_topic(path, text, lang, report, today), tuple(report.problems)


def _parse_topic_once(path: str, read: str | Located, lang: str, report: _Report,
                      today: date) -> Topic | None:
    """parse_topic, cached by the file's text: a /reload after an edit parses only the files
    that changed (a Topic is immutable, so snapshots can share it)."""
    if isinstance(read, Located):
        return parse_topic(path, read, lang, report, today)
    topic, problems = _parse_topic_text(report.source_name, path, read, lang, today)
    report.problems.extend(problems)
    return topic


def _lang_map(value: Any) -> dict[str, str] | None:
    if value is None:
        return {}
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v.strip() for k, v in value.items()}
    return None


class PhoneError(NamedTuple):
    message: str  # catalog id
    values: dict[str, object]


def normal_phone(phone: str, country: str) -> str | PhoneError:
    """The number in the one form the bot shows, or why it cannot be dialled as written.

    Only what a phone's keypad can dial passes: ASCII digits, a leading '+', and spaces, '-'
    and brackets between them; no letters (O for 0), invisible or non-Latin characters or
    extensions. Full numbers are checked with the phonenumbers library and shown in its
    international form (+996 705 009 102). Short numbers (3-6 digits, like 112 or 189) only by
    form, as digits: the library's list of short numbers lacks some that work, such as 112 in
    Kyrgyzstan, so whether they work is for `status` and `source` to say.
    """
    if not _DIALLABLE_RE.fullmatch(phone):
        return PhoneError("contact '{contact}': phone {phone} cannot be dialled as written: "
                          "use only digits, spaces, '-', brackets and a leading '+' (no "
                          "letters, no extension)",
                          {"phone": repr(phone)})
    digits = re.sub(r"[^0-9]", "", phone)
    if not phone.startswith("+") and 3 <= len(digits) <= 6:
        return digits
    code = phonenumbers.country_code_for_region(country)
    try:
        number = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        return PhoneError("contact '{contact}': phone {phone} is not a valid number for "
                          "{country}; write it as +{code} … or as dialled inside that country",
                          {"phone": repr(phone), "country": country, "code": code})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _with_fallbacks(values: dict[str, str], languages: Languages) -> dict[str, str]:
    """A partial language without its own value gets its fallback's (a contact's name)."""
    return {lang: next(values[c] for c in languages.chain(lang) if values.get(c))
            for lang in languages.codes if any(values.get(c) for c in languages.chain(lang))}


def parse_contacts(
    path: str, read: str | Located | None, report: _Report, today: date, stale_after_days: int,
    languages: Languages,
) -> tuple[dict[str, Contact], dict[str, dict[str, str]]] | None:
    if read is None:
        report(path, 1, "contacts.yaml is missing")
        return None
    parsed = read_yaml(read) if isinstance(read, str) else read
    if isinstance(parsed, Located):
        report.located(path, parsed)
        return None
    data, node = parsed
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        report(path, 1, "contacts.yaml must have two parts: 'countries:' and 'contacts:'")
        return None
    top = _key_lines(node, 1)
    ok = True

    countries: dict[str, dict[str, str]] = {}
    raw_countries = data.get("countries")
    if not isinstance(raw_countries, dict):
        report(path, top.get("countries", 1), "'countries:' must map codes to names, "
               "e.g. KG: {ru: Кыргызстан, ky: Кыргызстан}")
        return None
    for code, names in raw_countries.items():
        mapped = _lang_map(names)
        if not (isinstance(code, str) and re.fullmatch(r"[A-Z]{2}", code)) or mapped is None:
            report(path, top.get("countries", 1), "country {code}: use a two-letter code and "
                   "names for ky and ru", code=repr(code))
            ok = False
            continue
        for lang in languages.full:
            if not mapped.get(lang):
                report(path, top.get("countries", 1), "country {code}: no {lang} name",
                       code=code, lang=lang)
                ok = False
        countries[code] = _with_fallbacks(mapped, languages)

    items = data.get("contacts")
    items_node = next((v for k, v in node.value if getattr(k, "value", None) == "contacts"), None)
    if not isinstance(items, list) or not isinstance(items_node, yaml.SequenceNode):
        report(path, top.get("contacts", 1), "'contacts:' must be a list of '- id: …' entries")
        return None
    contacts: dict[str, Contact] = {}
    for item, item_node in zip(items, items_node.value, strict=True):
        start = item_node.start_mark.line + 1
        at = _key_lines(item_node, 1)
        if not isinstance(item, dict):
            report(path, start, "each contact must be a set of 'field: value' lines")
            ok = False
            continue
        entry_ok, contact = _parse_contact(item, at, start, countries, path, report, today,
                                           stale_after_days, languages)
        ok = ok and entry_ok
        if contact is not None:
            if contact.id in contacts:
                report(path, start, "contact id '{id}' is used twice", id=contact.id)
                ok = False
            contacts[contact.id] = contact
    return (contacts, countries) if ok else None


def _parse_contact(
    item: dict[str, Any], at: dict[str, int], start: int, countries: Mapping[str, object],
    path: str, report: _Report, today: date, stale_after_days: int, languages: Languages,
) -> tuple[bool, Contact | None]:
    """One contact; each field is checked on its own, so one more field is one more block."""
    ok = True

    def fail(key: str, message: str, severity: Severity = "error", /,
             **values: object) -> None:
        nonlocal ok
        report(path, at.get(key, start), message, severity, contact=contact_id, **values)
        if severity == "error":
            ok = False

    contact_id = item.get("id")
    if not isinstance(contact_id, str) or not TOPIC_ID_RE.match(contact_id):
        report(path, at.get("id", start), "contact id {value}: use lowercase latin letters, "
               "digits and '-'", value=repr(contact_id))
        return False, None
    for key in item:
        if key not in CONTACT_KEYS:
            fail(str(key), "contact '{contact}': unknown field '{field}' is ignored", "warning",
                 field=key)
    country = item.get("country")
    if not isinstance(country, str) or country not in countries:
        fail("country", "contact '{contact}': country {value} is not listed under "
             "'countries:'", value=repr(country))
        country = ""
    raw_phone = item.get("phone")
    phone = ""
    if raw_phone is None or raw_phone == "":
        fail("phone", "contact '{contact}': phone is required")
    elif not isinstance(raw_phone, str):  # unquoted, YAML drops a leading 0 or reads 1_000
        fail("phone", "contact '{contact}': phone must be written in quotes, e.g. "
             "phone: \"+996 705 009 102\"")
    elif country:
        normal = normal_phone(raw_phone.strip(), country)
        if isinstance(normal, PhoneError):
            fail("phone", normal.message, **normal.values)
        else:
            phone = normal
    names = _lang_map(item.get("name"))
    if not names or any(not names.get(lang) for lang in languages.full):
        fail("name", "contact '{contact}': name needs both ky and ru, e.g. "
             "name: {{ru: …, ky: …}}")
    hours, note = _lang_map(item.get("hours")), _lang_map(item.get("note"))
    for key, value in (("hours", hours), ("note", note)):
        if value is None or (value and any(not value.get(lang) for lang in languages.full)):
            fail(key, "contact '{contact}': {field} needs both ky and ru", field=key)
    url = item.get("url")
    if url is not None and not (isinstance(url, str) and url.startswith("https://")):
        fail("url", "contact '{contact}': url must start with https://")
    verified_on = item.get("verified_on")
    if not _is_date(verified_on):
        fail("verified_on", "contact '{contact}': verified_on is required, as YYYY-MM-DD")
        verified_on = today
    elif verified_on > today:
        fail("verified_on", "contact '{contact}': verified_on {date} is in the future",
             date=verified_on)
    elif (today - verified_on).days > stale_after_days:
        fail("verified_on", "contact '{contact}': checked {days} days ago (more than {limit}); "
             "call it or check the source again", "warning",
             days=(today - verified_on).days, limit=stale_after_days)
    source = item.get("source")
    if not isinstance(source, str) or not source.strip():
        fail("source", "contact '{contact}': source is required: where this number was "
             "confirmed")
    choices: dict[str, str | None] = {}
    for key, allowed in CONTACT_CHOICES.items():
        value = item.get(key)
        if not (value is None or isinstance(value, str)) or value not in allowed:
            fail(key, "contact '{contact}': {field} must be one of: {allowed}", field=key,
                 allowed=", ".join(a for a in allowed if a is not None))
        choices[key] = value if isinstance(value, str) else None
    if not ok:
        return False, None
    return True, Contact(
        id=contact_id, country=country, phone=phone,
        name=_with_fallbacks(names or {}, languages),
        hours=_with_fallbacks(hours or {}, languages),
        note=_with_fallbacks(note or {}, languages), url=url, verified_on=verified_on,
        source=str(source).strip(),
        verified=choices["status"] == "verified", line=start,
        kind=cast(ContactKind, choices["kind"] or "hotline"),
    )


def _check_graph(topics: Mapping[tuple[str, str], Topic], present: set[tuple[str, str]],
                 report: _Report, languages: Languages) -> bool:
    """Translations, parents, related topics and cycles. `present` are the files on disk, so a
    broken file is reported once, by itself, not again by every topic that refers to it.
    Every full language has every topic; a partial one may miss some (`_missing_topics`)."""
    ok = True
    ids_by_lang = {lang: {i for (lng, i) in present if lng == lang} for lang in languages.codes}
    all_ids = set().union(*ids_by_lang.values())
    for (lang, topic_id), topic in sorted(topics.items()):
        parent_line = topic.field_lines.get("parent", 1)
        for other in languages.full:
            if topic_id not in ids_by_lang[other]:
                report(topic.file, 1, "missing translation: {lang}/{id}.md does not exist",
                       lang=other, id=topic_id)
                ok = False
        # Each topic is compared once with its reference: the first full language, or a
        # partial language's fallback, so every mismatch is one line at the odd file.
        reference = (languages.chain(lang)[1] if lang not in languages.full
                     else languages.full[0])
        counterpart = topics.get((reference, topic_id))
        if counterpart is not None and lang != reference and (
                counterpart.parent != topic.parent):
            report(topic.file, parent_line, "parent '{parent}' differs from {lang}/{id}.md "
                   "('{other}')", parent=topic.parent or MAIN_MENU_PARENT,
                   lang=counterpart.lang, id=topic_id,
                   other=counterpart.parent or MAIN_MENU_PARENT)
            ok = False
        # A partial language's menu shows its fallback's topics, so a parent may be one.
        served_from = (lang,) if lang in languages.full else languages.chain(lang)
        if topic.parent is not None and not any(topic.parent in ids_by_lang[served]
                                                for served in served_from):
            report(topic.file, parent_line, "parent '{parent}' does not exist: the topic would "
                   "be unreachable from the menu", parent=topic.parent)
            ok = False
        for ref in topic.related:
            if ref not in all_ids:
                report(topic.file, topic.field_lines.get("related", 1),
                       "related topic '{id}' does not exist", id=ref)
                ok = False
        # Follow the parent chain: a cycle means none of its topics is reachable from the menu.
        seen = {topic_id}
        parent = topic.parent
        while parent is not None and (lang, parent) in topics:
            if parent in seen:
                report(topic.file, parent_line, "menu cycle: '{id}' is inside itself via "
                       "'{parent}'", id=topic_id, parent=parent)
                ok = False
                break
            seen.add(parent)
            parent = topics[(lang, parent)].parent
    return ok


def _missing_topics(present: set[tuple[str, str]], report: _Report,
                    languages: Languages) -> None:
    """One note per partial language, listing the topics it shows in its fallback."""
    for language in languages:
        if language.state == "partial" and language.fallback:
            missing = sorted({i for lang, i in present if lang == language.fallback}
                             - {i for lang, i in present if lang == language.code})
            if missing:
                report(language.code, 1, "'{lang}' is partial: {count} topics "
                       "are shown in '{fallback}' with a note: {ids}", "note",
                       lang=language.code, count=len(missing), fallback=language.fallback,
                       ids=", ".join(missing))


LANGUAGES_FILE = "languages.yaml"


def _folders(tree: _Tree) -> set[str]:
    """The subfolders of the tree: the first part of every name that has one."""
    return {n.split("/", 1)[0] for n in (*tree.files, *tree.unreadable) if "/" in n}


def _read_languages(tree: _Tree, catalog_tree: _Tree, report: _Report,
                    catalog_report: _Report) -> tuple[Languages, Catalogs] | None:
    """languages.yaml, each language's folder in the tree and its catalog among the UI
    catalogs; None when any of them is broken.

    A folder that looks like a language but is not listed is a warning: it is not served."""
    report.current = LANGUAGES_FILE
    read = tree.text(LANGUAGES_FILE)
    if read is None:
        report(LANGUAGES_FILE, 1,
               "languages.yaml is missing: list the bot's languages in it, one a line")
        return None
    if isinstance(read, Located):
        report.located(LANGUAGES_FILE, read)
        return None
    languages, problems = parse_languages(read)
    for problem, severity in problems:
        report.located(LANGUAGES_FILE, problem, "warning" if severity == "warning" else "error")
    ok = not any(severity == "error" for _, severity in problems)
    folders = _folders(tree)
    for language in languages:
        if language.code not in folders:  # a link or a file of that name is no folder
            report(LANGUAGES_FILE, language.line, "language '{lang}' has no folder {lang}/ "
                   "beside this file (a link is not followed): add it, or remove this line",
                   lang=language.code)
            ok = False
        if catalog_tree.text(catalog_name(language.code)) is None:
            report(LANGUAGES_FILE, language.line, "language '{lang}' has no catalog {file}: "
                   "add it, or remove this line", lang=language.code,
                   file=f"locales/{catalog_name(language.code)}")
            ok = False
    for folder in sorted(folders):
        if CODE_RE.match(folder) and folder not in languages:
            report(folder, 1, "folder '{lang}' is not a language listed in languages.yaml; "
                   "its topics are not served: add a line there", "warning", lang=folder)
    if not ok:
        return None
    catalogs: dict[str, Catalog] = {}
    for code in languages.codes:
        name = catalog_name(code)
        catalog_report.current = name
        text = catalog_tree.entry(name)
        found = [text] if isinstance(text, Located) else []
        if isinstance(text, str):
            catalog, found = read_catalog(text)
            if catalog is not None:
                catalogs[code] = catalog
        for problem in found:
            catalog_report.located(name, problem)
            ok = False
    if not ok:
        return None
    return languages, Catalogs(catalogs, {code: languages.chain(code)
                                          for code in languages.codes})


# A /reload after one edit re-renders only what changed: a topic's pages are a function of the
# topic (its text, lines included), contacts.yaml's text and the catalogs it is shown with.
_RENDERED_LIMIT = 1024
_rendered: dict[tuple[object, ...], tuple[tuple[str, ...], tuple[Problem, ...]]] = {}


def _render_once(topic: Topic, contacts: Mapping[str, Contact],
                 countries: Mapping[str, Mapping[str, str]], report: _Report, text: Texts,
                 contacts_text: object) -> Topic:
    """_render, memoised; the key holds the catalogs themselves (read_catalog returns the same
    object for the same text), so an entry is never confused with a later catalog's."""
    key = (report.source_name, topic, tuple(topic.field_lines.items()), contacts_text,
           text.lang, text.catalogs)
    found = _rendered.get(key)
    if found is None:
        own = _Report(report.source_name)
        pages = _render(topic, contacts, countries, own, text).pages
        if len(_rendered) >= _RENDERED_LIMIT:
            _rendered.clear()
        found = _rendered[key] = (pages, tuple(own.problems))
    pages, problems = found
    report.problems.extend(problems)
    return replace(topic, pages=pages)


def _render(topic: Topic, contacts: Mapping[str, Contact],
            countries: Mapping[str, Mapping[str, str]], report: _Report, text: Texts) -> Topic:
    """Render the pages and check each against a phone screen and Telegram's limit.

    paginate packs whole blocks up to PAGE_LIMIT, so a page is only longer when one block is:
    checking each block with the title and page footer checks every page.
    """
    blocks = [(topic.body_line + offset, render_block(block))
              for offset, block in split_blocks(topic.body)]
    shown = [contacts[c] for c in topic.contacts]
    contacts_line = topic.field_lines.get("contacts", 1)
    blocks += [(contacts_line, block) for block in
               render_contacts(shown, countries, text, compact=len(shown) > COMPACT_AFTER)]
    room = visible_length(page_header(topic.title)) + 2 + FOOTER_ROOM
    for line, block in blocks:
        length = room + visible_length(block)
        if length > TELEGRAM_LIMIT:
            report(topic.file, line, "this paragraph makes a page of {length} characters; "
                   "Telegram does not send more than {limit}: split it with a blank line",
                   length=length, limit=TELEGRAM_LIMIT)
        elif length > PAGE_LIMIT:
            report(topic.file, line, "this paragraph makes a page of {length} characters; a "
                   "phone screen holds about {limit}: split it with a blank line", "warning",
                   length=length, limit=PAGE_LIMIT)
    pages = paginate(topic.title, [block for _, block in blocks])
    if len(pages) > MAX_PAGES:
        report(topic.file, 1, "the topic has {pages} pages; page buttons reach at most {limit}: "
               "shorten it or split it into several topics", pages=len(pages), limit=MAX_PAGES)
    # The topic's own buttons must pack into Telegram's 64 bytes (bot.buttons checks).
    try:
        TopicButton(topic.id, min(len(pages), MAX_PAGES) - 1).pack()
        NumbersButton(topic.id).pack()
    except ValueError:
        report(topic.file, 1, "topic id too long for a button ({data})", data=repr(topic.id))
    return replace(topic, pages=tuple(pages))


def _check_menus(served: Mapping[tuple[str, str], Topic],
                 children: Mapping[tuple[str, str | None], list[Topic]],
                 report: _Report, languages: Languages) -> None:
    """Each screen's buttons, counted as bot/handlers/menu.py and screens.py lay them out."""
    for (lang, parent), group in children.items():
        where = served[(lang, parent)].file if parent else lang
        if len(group) > MENU_BUTTON_LIMIT:
            report(where, 1, "{count} topics in one menu; more than {limit} buttons are hard "
                   "to use on a phone", "warning", count=len(group), limit=MENU_BUTTON_LIMIT)
    for lang in languages.codes:
        count = len(children.get((lang, None), ())) + MAIN_MENU_EXTRA_BUTTONS
        if count > TELEGRAM_BUTTON_LIMIT:
            report(lang, 1, "the main menu would have {count} buttons; Telegram "
                   "allows at most {limit}", count=count, limit=TELEGRAM_BUTTON_LIMIT)
    for (lang, _), topic in served.items():
        count = (len(children.get((lang, topic.id), ())) + len(topic.actions)
                 + len(topic.related) + NAV_ROW_BUTTONS + (2 if len(topic.pages) > 1 else 0))
        if count > TELEGRAM_BUTTON_LIMIT:
            report(topic.file, 1, "this screen would have {count} buttons; Telegram allows at "
                   "most {limit}", count=count, limit=TELEGRAM_BUTTON_LIMIT)


def load_from(
    source: ContentSource, *, catalogs: ContentSource | None = None, today: date | None = None,
    stale_after_days: int = 180, now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[ContentSnapshot | None, list[Problem]]:
    """Read the source's tree (bot/content/source.py) and the UI catalogs (bot/locales unless
    `catalogs` is another source), then `load` them."""
    read = source.read()
    ui = (catalogs or CatalogSource(i18n.LOCALES_DIR)).read()
    return load(read.files, today, name=read.name, unreadable=read.unreadable, catalogs=ui,
                stale_after_days=stale_after_days, now=now)


def load_content(
    content_dir: Path | str, *, today: date | None = None, stale_after_days: int = 180,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[ContentSnapshot | None, list[Problem]]:
    """The content folder `content_dir` and the UI catalogs, read and loaded."""
    return load_from(FolderSource(content_dir), today=today,
                     stale_after_days=stale_after_days, now=now)


def load(
    files: Mapping[str, bytes], today: date | None = None, *, name: str = "content",
    unreadable: Mapping[str, Located] | None = None, catalogs: ContentFiles,
    stale_after_days: int = 180, now: Callable[[], datetime] = lambda: datetime.now(UTC),
    pace: Callable[[], None] = lambda: None,
) -> tuple[ContentSnapshot | None, list[Problem]]:
    """Validate a content tree (tree name -> bytes) with the UI catalogs (a tree of
    `<xx>/LC_MESSAGES/messages.po`, bot/content/source.py's CatalogSource) and build its
    snapshot; the snapshot is None when any error was found. Problems name files as
    `<name>/<tree name>` (the catalogs' as `<catalogs.name>/…`); `unreadable` are the entries
    the source could not read, and why.

    Pure and never raises: anything unexpected becomes a problem naming the file being read.
    `pace` is called between small pieces of the work (bot/content/store.py's Pacer, so that a
    reload in a worker thread leaves the event loop most of the GIL).
    """
    report = _Report(name)
    ui = _Tree(catalogs.files, catalogs.unreadable)
    try:
        return _load(_Tree(files, unreadable or {}), ui, report, report.other(catalogs.name),
                     today or date.today(), stale_after_days, now, pace)
    except Exception as error:  # the last guard: a located line, no traceback
        report(report.current, 1, "internal error while reading {file}: {kind}",
               file=PurePosixPath(report.current).name or name, kind=type(error).__name__)
        return None, sorted(set(report.problems), key=_problem_order)


CONTACTS, SELFCHECK, CAMPAIGNS = "contacts.yaml", "selfcheck.yaml", "campaigns.yaml"


def _load(tree: _Tree, ui: _Tree, report: _Report, catalog_report: _Report, today: date,
          stale_after_days: int, now: Callable[[], datetime], pace: Callable[[], None]
          ) -> tuple[ContentSnapshot | None, list[Problem]]:
    if ROOT in tree.unreadable:  # no folder, or far too many files in it
        report.located(ROOT, tree.unreadable[ROOT])
        return None, report.problems
    configured = _read_languages(tree, ui, report, catalog_report)
    if configured is None:
        return None, sorted(set(report.problems), key=_problem_order)
    languages, catalogs = configured

    digest = hashlib.sha256()  # the version: every file the snapshot is built from
    topics: dict[tuple[str, str], Topic] = {}
    present: set[tuple[str, str]] = set()
    by_folder: dict[str, list[str]] = {}
    for name in sorted({*tree.files, *tree.unreadable}):
        by_folder.setdefault(name.rpartition("/")[0] or ".", []).append(name)
    for lang in languages.codes:
        for path in by_folder.get(lang, ()):
            report.current = path
            if not path.endswith(".md"):
                report(path, 1, "not a topic (topics end in .md); ignored", "warning")
                continue
            present.add((lang, PurePosixPath(path).stem))
            read = tree.entry(path)
            digest.update(f"{path}\0{len(tree.files.get(path, b''))}\0".encode())
            digest.update(tree.files.get(path, b""))
            pace()
            topic = _parse_topic_once(path, read, lang, report, today)
            if topic is None:
                continue
            topics[(lang, topic.id)] = topic
            age = (today - topic.reviewed).days
            if age > stale_after_days:
                report(path, topic.field_lines.get("reviewed", 1), "reviewed {days} days ago "
                       "(more than {limit}); check the text and update 'reviewed'", "warning",
                       days=age, limit=stale_after_days)

    for data_file in (LANGUAGES_FILE, CONTACTS, SELFCHECK, CAMPAIGNS):
        digest.update(f"{data_file}\0{len(tree.files.get(data_file, b''))}\0".encode())
        digest.update(tree.files.get(data_file, b""))
    pace()
    report.current = CONTACTS
    contacts_text = tree.text(CONTACTS)
    parsed = parse_contacts(CONTACTS, contacts_text, report, today, stale_after_days,
                            languages)
    contacts, countries = parsed if parsed else ({}, {})
    pace()
    report.current = SELFCHECK
    selfcheck = parse_selfcheck(SELFCHECK, tree.text(SELFCHECK), {i for _, i in present},
                                report, languages)
    report.current = CAMPAIGNS
    campaigns = parse_campaigns(CAMPAIGNS, tree.text(CAMPAIGNS), report)
    report.current = ROOT

    pace()
    graph_ok = _check_graph(topics, present, report, languages)
    _missing_topics(present, report, languages)
    for lang in languages.full:
        for required in REQUIRED_TOPICS:
            if (lang, required) not in present:
                report(f"{lang}/{required}.md", 1,
                       "this topic is required: the bot's SOS and safety buttons open it")
                graph_ok = False
    used: set[str] = set()
    for topic in topics.values():
        for ref in topic.contacts:
            used.add(ref)
            if parsed and ref not in contacts:
                report(topic.file, topic.field_lines.get("contacts", 1),
                       "contact '{id}' is not in contacts.yaml", id=ref)
    for contact_id, contact in contacts.items():
        if contact_id not in used:
            report(CONTACTS, contact.line, "contact '{id}' is not shown in any topic",
                   "warning", id=contact_id)

    if any(p.severity == "error" for p in report.problems) or not parsed or not graph_ok or (
            selfcheck is None) or campaigns is None:
        return None, sorted(set(report.problems), key=_problem_order)

    rendered = {}
    for key, topic in topics.items():
        pace()
        report.current = topic.file
        rendered[key] = _render_once(topic, contacts, countries, report,
                                     catalogs.texts(topic.lang), contacts_text)
    # What each language serves: its own topics, and a partial one its fallback's for the rest.
    served: dict[tuple[str, str], Topic] = {}
    for lang in languages.codes:
        for topic_id in sorted({i for _, i in rendered}):
            found = next((rendered[(c, topic_id)] for c in languages.chain(lang)
                          if (c, topic_id) in rendered), None)
            if found is not None:
                served[(lang, topic_id)] = found
    children: dict[tuple[str, str | None], list[Topic]] = {}
    for (lang, _), topic in served.items():
        children.setdefault((lang, topic.parent), []).append(topic)
    _check_menus(served, children, report, languages)
    problems = sorted(set(report.problems), key=_problem_order)
    if any(p.severity == "error" for p in problems):
        return None, problems
    snapshot = ContentSnapshot(
        topics=rendered,
        children={key: tuple(t.id for t in sorted(group, key=lambda t: (t.order, t.id)))
                  for key, group in children.items()},
        contacts=contacts,
        countries=countries,
        search=SearchIndex.build(rendered.values(), pace),
        selfcheck=selfcheck,
        version=digest.hexdigest()[:12],
        loaded_at=now(),
        warnings=tuple(problems),
        campaigns=campaigns,
        languages=languages,
        catalogs=catalogs,
    )
    return snapshot, problems


def _problem_order(problem: Problem) -> tuple[str, int, str]:
    return (problem.path, problem.line, problem.message)
