"""Parse and validate content/ into an immutable ContentSnapshot.

Parsing is pure: files in, snapshot and problems out. Each problem carries the file and line so
an NGO editor can find it; nothing here raises on bad content.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import phonenumbers
import yaml

from bot import LANGUAGES
from bot.callbacks import MAX_CALLBACK_BYTES, TOPIC_ID_RE, topic_data
from bot.content.model import (
    CONTACT_KINDS,
    Contact,
    ContentSnapshot,
    Problem,
    Severity,
    Topic,
)
from bot.content.render import (
    PAGE_LIMIT,
    markdown_problems,
    paginate,
    render_block,
    render_contacts,
    split_blocks,
)
from bot.content.search import SearchIndex
from bot.content.selfcheck import parse_selfcheck
from bot.i18n import texts

# The bot's SOS screen, its hotlines button and the main menu's safety button open these.
REQUIRED_TOPICS = ("sos", "hotlines", "phone-safety")
TITLE_LIMIT = 32
MENU_BUTTON_LIMIT = 12
TOPIC_KEYS = {
    "title": "the button label, at most 32 characters",
    "parent": "the id of the section this topic belongs to (omit for a top-level section)",
    "order": "position among its siblings, smaller first",
    "keywords": "words people type when they look for this topic",
    "reviewed": "the date a person last checked the text (YYYY-MM-DD)",
    "sources": "where the facts come from, one line each",
    "contacts": "ids from contacts.yaml to show under the text",
    "related": "ids of topics offered as buttons under the text",
    "actions": "bot features offered as buttons: check, family-check, clear-chat",
}
ACTIONS = ("check", "family-check", "clear-chat")
CONTACT_KEYS = {"id", "country", "phone", "name", "hours", "note", "url", "verified_on",
                "source", "status", "kind"}
_SHORT_NUMBER_RE = re.compile(r"^\d{3,6}$")


class _Report:
    """Collects problems with paths shown relative to the content folder's parent."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def __call__(self, path: Path, line: int, message: str, severity: Severity = "error") -> None:
        try:
            shown = str(path.relative_to(self.root.parent))
        except ValueError:
            shown = str(path)
        self.problems.append(Problem(shown, max(line, 1), message, severity))


def _key_lines(node: yaml.Node | None, first_line: int) -> dict[str, int]:
    """Map each top-level key of a YAML mapping node to its 1-based line in the file."""
    if not isinstance(node, yaml.MappingNode):
        return {}
    return {
        str(key.value): first_line + key.start_mark.line
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }


def _yaml_error_line(error: yaml.YAMLError, first_line: int) -> int:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    return first_line + (mark.line if mark is not None else 0)


def _yaml_error_text(error: yaml.YAMLError) -> str:
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return f"broken YAML: {problem}"


def _str_list(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return tuple(str(v).strip() for v in value if str(v).strip())
    return None


def parse_topic(path: Path, lang: str, report: _Report, today: date) -> Topic | None:
    topic_id = path.stem
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        report(path, 1, f"not UTF-8 text ({error.reason}); save the file as UTF-8")
        return None
    if not TOPIC_ID_RE.match(topic_id):
        report(path, 1, "file name must be a topic id: lowercase latin letters, digits and '-',"
               " at most 40 characters")
        return None
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        report(path, 1, "the file must start with a '---' line, then the fields, then '---'")
        return None
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        report(path, 1, "the fields are not closed: add a '---' line after them")
        return None
    front = "\n".join(lines[1:end])
    try:
        node = yaml.compose(front, Loader=yaml.SafeLoader)
        meta = yaml.safe_load(front)
    except yaml.YAMLError as error:
        report(path, _yaml_error_line(error, 2), _yaml_error_text(error))
        return None
    if not isinstance(meta, dict):
        report(path, 2, "the fields between '---' lines must be 'name: value' pairs")
        return None
    at = _key_lines(node, 2)

    def line_of(key: str) -> int:
        return at.get(key, 1)

    ok = True
    for key in meta:
        if key not in TOPIC_KEYS:
            report(path, line_of(str(key)), f"unknown field '{key}' is ignored "
                   f"(known: {', '.join(TOPIC_KEYS)})", "warning")

    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        report(path, line_of("title"), "title is required: the text of the topic's button")
        ok = False
        title = ""
    elif len(title.strip()) > TITLE_LIMIT:
        report(path, line_of("title"), f"title is {len(title.strip())} characters; "
               f"a button label may have at most {TITLE_LIMIT}")
        ok = False

    parent = meta.get("parent")
    if parent is not None and (not isinstance(parent, str) or not TOPIC_ID_RE.match(parent)):
        report(path, line_of("parent"), f"parent must be a topic id, got {parent!r}")
        ok = False
    if parent == topic_id:
        report(path, line_of("parent"), "a topic cannot be its own parent")
        ok = False

    order = meta.get("order", 0)
    if not isinstance(order, int) or isinstance(order, bool):
        report(path, line_of("order"), f"order must be a whole number, got {order!r}")
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
    if not isinstance(reviewed, date) or isinstance(reviewed, datetime):
        report(path, line_of("reviewed"), "reviewed is required: the date a person last checked "
               "this text, as YYYY-MM-DD")
        ok = False
        reviewed = today
    elif reviewed > today:
        report(path, line_of("reviewed"), f"reviewed date {reviewed} is in the future")
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
            report(path, line_of(key), f"{key} must be a list of ids: [id, id]")
            ok = False
    for action in actions or ():
        if action not in ACTIONS:
            report(path, line_of("actions"), f"unknown action '{action}' (known: "
                   f"{', '.join(ACTIONS)})")
            ok = False

    rest = lines[end + 1 :]
    blank = next((i for i, line in enumerate(rest) if line.strip()), len(rest))
    body = "\n".join(rest[blank:]).rstrip()
    body_line = end + 2 + blank  # 1-based line of the body's first line
    if not body.strip():
        report(path, end + 1, "the text after the fields is empty")
        ok = False
    for offset, message in markdown_problems(body):
        severity: Severity = "warning" if message.startswith("raw HTML") else "error"
        report(path, body_line + offset, message, severity)
        ok = ok and severity == "warning"

    if not ok:
        return None
    return Topic(
        id=topic_id, lang=lang, title=title.strip(), parent=parent, order=order,
        keywords=keywords, reviewed=reviewed, sources=sources, contacts=contacts or (),
        related=related or (), actions=actions or (), body=body, path=path,
        body_line=body_line,
    )


def _lang_map(value: Any) -> dict[str, str] | None:
    if value is None:
        return {}
    if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
        return {str(k): v.strip() for k, v in value.items()}
    return None


def check_phone(phone: str, country: str) -> str | None:
    """None if the number is dialable as written, else the reason it is not.

    Full numbers are checked with the phonenumbers library. Short numbers (3–6 digits, like
    112 or 189) only by form: the library's list of short numbers lacks some that work, such
    as 112 in Kyrgyzstan, so whether they work is for `status` and `source` to say.
    """
    if _SHORT_NUMBER_RE.match(phone):
        return None
    try:
        number = phonenumbers.parse(phone, country)
    except phonenumbers.NumberParseException:
        return f"phone {phone!r} is not a phone number"
    if not phonenumbers.is_valid_number(number):
        return (f"phone {phone!r} is not a valid number for {country}; write it in "
                "international form (+996 …) or as dialled inside that country")
    return None


def parse_contacts(
    path: Path, report: _Report, today: date, stale_after_days: int
) -> tuple[dict[str, Contact], dict[str, dict[str, str]]] | None:
    if not path.exists():
        report(path, 1, "contacts.yaml is missing")
        return None
    try:
        text = path.read_text(encoding="utf-8")
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except UnicodeDecodeError as error:
        report(path, 1, f"not UTF-8 text ({error.reason}); save the file as UTF-8")
        return None
    except yaml.YAMLError as error:
        report(path, _yaml_error_line(error, 1), _yaml_error_text(error))
        return None
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
            report(path, top.get("countries", 1), f"country {code!r}: use a two-letter code "
                   "and names for ky and ru")
            ok = False
            continue
        for lang in LANGUAGES:
            if not mapped.get(lang):
                report(path, top.get("countries", 1), f"country {code}: no {lang} name")
                ok = False
        countries[code] = mapped

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
                                           stale_after_days)
        ok = ok and entry_ok
        if contact is not None:
            if contact.id in contacts:
                report(path, start, f"contact id '{contact.id}' is used twice")
                ok = False
            contacts[contact.id] = contact
    return (contacts, countries) if ok else None


def _parse_contact(
    item: dict[str, Any], at: dict[str, int], start: int, countries: Mapping[str, object],
    path: Path, report: _Report, today: date, stale_after_days: int,
) -> tuple[bool, Contact | None]:
    ok = True

    def fail(key: str, message: str, severity: Severity = "error") -> None:
        nonlocal ok
        report(path, at.get(key, start), message, severity)
        if severity == "error":
            ok = False

    contact_id = item.get("id")
    if not isinstance(contact_id, str) or not TOPIC_ID_RE.match(contact_id):
        fail("id", f"contact id {contact_id!r}: use lowercase latin letters, digits and '-'")
        return False, None
    label = f"contact '{contact_id}'"
    for key in item:
        if key not in CONTACT_KEYS:
            fail(str(key), f"{label}: unknown field '{key}' is ignored", "warning")
    country = item.get("country")
    if country not in countries:
        fail("country", f"{label}: country {country!r} is not listed under 'countries:'")
    phone = str(item.get("phone", "")).strip()
    if not phone:
        fail("phone", f"{label}: phone is required")
    elif isinstance(country, str) and country in countries:
        finding = check_phone(phone, country)
        if finding:
            fail("phone", f"{label}: {finding}")
    names = _lang_map(item.get("name"))
    if not names or any(not names.get(lang) for lang in LANGUAGES):
        fail("name", f"{label}: name needs both ky and ru, e.g. name: {{ru: …, ky: …}}")
    hours, note = _lang_map(item.get("hours")), _lang_map(item.get("note"))
    for key, value in (("hours", hours), ("note", note)):
        if value is None or (value and any(not value.get(lang) for lang in LANGUAGES)):
            fail(key, f"{label}: {key} needs both ky and ru")
    url = item.get("url")
    if url is not None and not (isinstance(url, str) and url.startswith("https://")):
        fail("url", f"{label}: url must start with https://")
    verified_on = item.get("verified_on")
    if not isinstance(verified_on, date):
        fail("verified_on", f"{label}: verified_on is required, as YYYY-MM-DD")
        verified_on = today
    elif verified_on > today:
        fail("verified_on", f"{label}: verified_on {verified_on} is in the future")
    elif (today - verified_on).days > stale_after_days:
        fail("verified_on", f"{label}: checked {(today - verified_on).days} days ago "
             f"(more than {stale_after_days}); call it or check the source again", "warning")
    source = item.get("source")
    if not isinstance(source, str) or not source.strip():
        fail("source", f"{label}: source is required: where this number was confirmed")
    status = item.get("status")
    if status not in ("verified", "unverified"):
        fail("status", f"{label}: status must be 'verified' or 'unverified'")
    kind = item.get("kind", "hotline")
    if kind not in CONTACT_KINDS:
        fail("kind", f"{label}: kind must be one of {', '.join(CONTACT_KINDS)}")
    if not ok:
        return False, None
    return True, Contact(
        id=contact_id, country=str(country), phone=phone, name=names or {}, hours=hours or {},
        note=note or {}, url=url, verified_on=verified_on, source=str(source).strip(),
        verified=status == "verified", line=start, kind=kind,
    )


def _check_graph(topics: Mapping[tuple[str, str], Topic], present: set[tuple[str, str]],
                 report: _Report) -> bool:
    """Translations, parents, related topics and cycles. `present` are the files on disk, so a
    broken file is reported once, by itself, not again by every topic that refers to it."""
    ok = True
    ids_by_lang = {lang: {i for (lng, i) in present if lng == lang} for lang in LANGUAGES}
    all_ids = set().union(*ids_by_lang.values())
    for (lang, topic_id), topic in sorted(topics.items()):
        for other in LANGUAGES:
            if topic_id not in ids_by_lang[other]:
                report(topic.path, 1, f"missing translation: {other}/{topic_id}.md does not exist")
                ok = False
        counterpart = next((topics[(o, topic_id)] for o in LANGUAGES
                            if o != lang and (o, topic_id) in topics), None)
        if counterpart is not None and counterpart.parent != topic.parent and (
                lang < counterpart.lang):  # report the pair once
            report(topic.path, 1, f"parent '{topic.parent}' differs from "
                   f"{counterpart.lang}/{topic_id}.md ('{counterpart.parent}')")
            ok = False
        if topic.parent is not None and topic.parent not in ids_by_lang[lang]:
            report(topic.path, 1, f"parent '{topic.parent}' does not exist: the topic would be "
                   "unreachable from the menu")
            ok = False
        for ref in topic.related:
            if ref not in all_ids:
                report(topic.path, 1, f"related topic '{ref}' does not exist")
                ok = False
        # Follow the parent chain: a cycle means none of its topics is reachable from the menu.
        seen = {topic_id}
        parent = topic.parent
        while parent is not None and (lang, parent) in topics:
            if parent in seen:
                report(topic.path, 1, f"menu cycle: '{topic_id}' is inside itself via "
                       f"'{parent}'")
                ok = False
                break
            seen.add(parent)
            parent = topics[(lang, parent)].parent
    return ok


def _render(topic: Topic, contacts: Mapping[str, Contact],
            countries: Mapping[str, Mapping[str, str]], report: _Report) -> Topic:
    text = texts(topic.lang)
    blocks: list[str] = []
    for offset, block in split_blocks(topic.body):
        rendered = render_block(block)
        if len(rendered) > PAGE_LIMIT - len(topic.title) - 20:
            report(topic.path, topic.body_line + offset, f"paragraph is {len(rendered)} "
                   f"characters after formatting; a message page holds about {PAGE_LIMIT}: "
                   "split it with a blank line")
        blocks.append(rendered)
    blocks += render_contacts((contacts[c] for c in topic.contacts), countries, text)
    pages = paginate(topic.title, blocks)
    last = topic_data(topic.id, len(pages) - 1)
    if len(last.encode()) > MAX_CALLBACK_BYTES:
        report(topic.path, 1, f"topic id too long for a button ({last!r})")
    return replace(topic, pages=tuple(pages))


def load_content(
    content_dir: Path, *, today: date | None = None, stale_after_days: int = 180,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> tuple[ContentSnapshot | None, list[Problem]]:
    """Load and validate everything; the snapshot is None when any error was found."""
    today = today or date.today()
    content_dir = content_dir.resolve()
    report = _Report(content_dir)
    if not content_dir.is_dir():
        report(content_dir, 1, "content folder does not exist")
        return None, report.problems

    digest = hashlib.sha256()
    topics: dict[tuple[str, str], Topic] = {}
    present: set[tuple[str, str]] = set()
    for lang in LANGUAGES:
        folder = content_dir / lang
        if not folder.is_dir():
            report(folder, 1, f"folder for language '{lang}' is missing")
            continue
        for path in sorted(folder.iterdir()):
            if path.suffix != ".md":
                if not path.name.startswith("."):
                    report(path, 1, "not a topic (topics end in .md); ignored", "warning")
                continue
            digest.update(path.name.encode() + path.read_bytes())
            present.add((lang, path.stem))
            topic = parse_topic(path, lang, report, today)
            if topic is not None:
                topics[(lang, topic.id)] = topic
                age = (today - topic.reviewed).days
                if age > stale_after_days:
                    report(path, 1, f"reviewed {age} days ago (more than {stale_after_days}); "
                           "check the text and update 'reviewed'", "warning")

    contacts_path = content_dir / "contacts.yaml"
    for data_file in (contacts_path, content_dir / "selfcheck.yaml"):
        if data_file.exists():
            digest.update(data_file.read_bytes())
    parsed = parse_contacts(contacts_path, report, today, stale_after_days)
    contacts, countries = parsed if parsed else ({}, {})

    selfcheck = parse_selfcheck(content_dir / "selfcheck.yaml", {i for _, i in present},
                                report)
    graph_ok = _check_graph(topics, present, report)
    for lang in LANGUAGES:
        for required in REQUIRED_TOPICS:
            if (lang, required) not in present:
                report(content_dir / lang / f"{required}.md", 1,
                       "this topic is required: the bot's SOS and safety buttons open it")
                graph_ok = False
    used: set[str] = set()
    for topic in topics.values():
        for ref in topic.contacts:
            used.add(ref)
            if parsed and ref not in contacts:
                report(topic.path, 1, f"contact '{ref}' is not in contacts.yaml")
    for contact_id, contact in contacts.items():
        if contact_id not in used:
            report(contacts_path, contact.line, f"contact '{contact_id}' is not shown in any "
                   "topic", "warning")

    if any(p.severity == "error" for p in report.problems) or not parsed or not graph_ok or (
            selfcheck is None):
        return None, sorted(set(report.problems), key=_problem_order)

    rendered = {key: _render(t, contacts, countries, report) for key, t in topics.items()}
    children: dict[tuple[str, str | None], list[Topic]] = {}
    for (lang, _), topic in rendered.items():
        children.setdefault((lang, topic.parent), []).append(topic)
    for (lang, parent), group in children.items():
        if len(group) > MENU_BUTTON_LIMIT:
            where = rendered[(lang, parent)].path if parent else content_dir / lang
            report(where, 1, f"{len(group)} topics in one menu; more than {MENU_BUTTON_LIMIT} "
                   "buttons are hard to use on a phone", "warning")
    problems = sorted(set(report.problems), key=_problem_order)
    if any(p.severity == "error" for p in problems):
        return None, problems
    snapshot = ContentSnapshot(
        topics=rendered,
        children={key: tuple(t.id for t in sorted(group, key=lambda t: (t.order, t.id)))
                  for key, group in children.items()},
        contacts=contacts,
        countries=countries,
        search=SearchIndex.build(rendered.values()),
        selfcheck=selfcheck,
        version=digest.hexdigest()[:12],
        loaded_at=now(),
        warnings=tuple(problems),
    )
    return snapshot, problems


def _problem_order(problem: Problem) -> tuple[str, int, str]:
    return (problem.path, problem.line, problem.message)
