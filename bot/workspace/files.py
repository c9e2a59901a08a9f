"""Content files as the workspace's forms see them, and back: a topic's front matter and body,
one contact's block in contacts.yaml, and which form field a problem's line belongs to.

A topic file is written from its fields in a fixed shape (the loader's keys in their order,
unknown keys kept after them), so every field's line is known and a problem found by the
loader at `file:line` is shown next to that field. A contact is edited in place: only its own
block of contacts.yaml is rewritten, the comments around it stay.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import yaml

from bot.content.loader import TOPIC_KEYS

LIST_KEYS = ("keywords", "sources", "contacts", "related", "actions")
FLOW_KEYS = ("keywords", "contacts", "related", "actions")  # short words: `[a, b]` on one line
BODY = "body"
CONTACT_FIELDS = ("kind", "country", "phone", "name", "hours", "note", "url", "verified_on",
                  "source", "status")
PER_LANGUAGE = ("name", "hours", "note")


@dataclass
class TopicFields:
    """A topic file's fields: front matter values (lists for LIST_KEYS) and the body."""

    meta: dict[str, Any] = field(default_factory=dict)
    body: str = ""
    broken: str | None = None  # the file could not be split into fields: its raw text


def _yaml(value: Any) -> Any:
    return yaml.safe_load(value) if isinstance(value, str) else value


def read_topic(text: str) -> TopicFields:
    """The fields of a topic file; a file the workspace cannot split keeps its text whole."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        return TopicFields(broken=text)
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        return TopicFields(broken=text)
    try:
        meta = yaml.safe_load("\n".join(lines[1:end])) or {}
    except yaml.YAMLError:
        return TopicFields(broken=text)
    if not isinstance(meta, dict):
        return TopicFields(broken=text)
    return TopicFields({str(k): v for k, v in meta.items()}, "\n".join(lines[end + 1:]))


def _dump(key: str, value: Any) -> str:
    if key in FLOW_KEYS and isinstance(value, list):
        flow = yaml.safe_dump(value, allow_unicode=True, width=1 << 20, default_flow_style=True)
        return f"{key}: {flow.strip()}"
    return yaml.safe_dump({key: value}, allow_unicode=True, sort_keys=False, width=1 << 20,
                          default_flow_style=False).rstrip("\n")


def write_topic(fields: TopicFields) -> tuple[str, dict[str, int]]:
    """The file's text and the line where each field starts (BODY: the body's first line)."""
    if fields.broken is not None:
        return fields.broken, {}
    keys = [k for k in TOPIC_KEYS if k in fields.meta] + [
        k for k in fields.meta if k not in TOPIC_KEYS]
    lines = ["---"]
    at: dict[str, int] = {}
    for key in keys:
        at[key] = len(lines) + 1
        lines += _dump(key, fields.meta[key]).split("\n")
    lines.append("---")
    at[BODY] = len(lines) + 1
    body = fields.body.replace("\r\n", "\n").strip("\n")
    return "\n".join(lines) + "\n" + body + "\n", at


def field_of(line: int, at: Mapping[str, int]) -> str | None:
    """The field a problem's line falls in; None for the file as a whole (line 1)."""
    best = None
    for name, start in sorted(at.items(), key=lambda item: item[1]):
        if start <= line:
            best = name
    return best if line > 1 else None


def _split_list(raw: str, key: str) -> list[str]:
    if key == "sources":
        return [line.strip() for line in raw.splitlines() if line.strip()]
    return [part.strip() for part in re.split(r"[,\n]", raw) if part.strip()]


def shown_value(key: str, value: Any) -> str:
    """A field's value as a form shows it: lists one per line (sources) or comma-separated."""
    if isinstance(value, list):
        return ("\n" if key == "sources" else ", ").join(str(v) for v in value)
    return "" if value is None else str(value)


def topic_from_form(old: TopicFields, form: Mapping[str, str], lang: str) -> TopicFields:
    """The fields a form posted for `lang` (`title_ru`, `keywords_ru`, `body_ru` …) over the
    file's old ones: a key the form leaves empty is dropped, a key it does not show is kept."""
    meta = dict(old.meta)
    for key in (*TOPIC_KEYS, *[k for k in old.meta if k not in TOPIC_KEYS]):
        name = f"{key}_{lang}"
        if name not in form:
            continue
        raw = form[name].strip()
        if not raw:
            meta.pop(key, None)
        elif key in LIST_KEYS:
            meta[key] = _split_list(raw, key)
        elif key == "order" and re.fullmatch(r"-?\d+", raw):
            meta[key] = int(raw)
        elif key == "reviewed":
            try:
                meta[key] = date.fromisoformat(raw)
            except ValueError:
                meta[key] = raw  # the loader says what is wrong with it, at its line
        elif key in TOPIC_KEYS:
            meta[key] = raw
        else:
            try:
                meta[key] = _yaml(raw)
            except yaml.YAMLError:
                meta[key] = raw
    body = form.get(f"body_{lang}", old.body)
    return TopicFields(meta, body.replace("\r\n", "\n"))


# --- contacts.yaml ---------------------------------------------------------------------------

_ITEM_RE = re.compile(r"^(?P<indent>\s*)- id:\s*(?P<id>\S+)\s*$")


def contact_block(text: str, contact_id: str) -> tuple[int, int, int] | None:
    """(first line index, end index, indent) of a contact's block in contacts.yaml: its
    `- id:` line and every line indented deeper after it."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        match = _ITEM_RE.match(line)
        if match and match["id"].strip("'\"") == contact_id:
            indent = len(match["indent"])
            end = index + 1
            while end < len(lines) and lines[end].strip() and (
                    len(lines[end]) - len(lines[end].lstrip()) > indent):
                end += 1
            return index, end, indent
    return None


def read_contacts(text: str) -> list[dict[str, Any]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return []
    contacts = data.get("contacts") if isinstance(data, dict) else None
    return [c for c in contacts or [] if isinstance(c, dict) and "id" in c]


def write_contact(text: str, contact_id: str, values: Mapping[str, Any]
                  ) -> tuple[str, dict[str, int]]:
    """contacts.yaml with the contact's block rewritten from `values` (or appended), and the
    1-based line of each of its fields."""
    lines = text.rstrip("\n").split("\n")
    found = contact_block(text.rstrip("\n"), contact_id)
    if found is None:
        start, end, indent = len(lines) + 1, len(lines) + 1, 2
        lines.append("")
    else:
        start, end, indent = found
    pad = " " * indent
    block = [f"{pad}- id: {contact_id}"]
    at = {"id": start + 1}
    for key in CONTACT_FIELDS:
        value = values.get(key)
        if value in (None, "", {}):
            continue
        at[key] = start + len(block) + 1
        dumped = yaml.safe_dump({key: value}, allow_unicode=True, sort_keys=False,
                                width=1 << 20, default_flow_style=True).strip()
        block.append(f"{pad}  {dumped[1:-1]}")  # `{key: value}` without the braces
    lines[start:end] = block
    return "\n".join(lines) + "\n", at


def contact_from_form(old: Mapping[str, Any], form: Mapping[str, str],
                      languages: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {k: v for k, v in old.items() if k != "id"}
    for key in CONTACT_FIELDS:
        if key in PER_LANGUAGE:
            per = {lang: form[f"{key}_{lang}"].strip() for lang in languages
                   if form.get(f"{key}_{lang}", "").strip()}
            if any(f"{key}_{lang}" in form for lang in languages):
                values[key] = per
        elif key in form:
            raw = form[key].strip()
            if key == "verified_on":
                try:
                    values[key] = date.fromisoformat(raw)
                except ValueError:
                    values[key] = raw
            else:
                values[key] = raw
    return values
