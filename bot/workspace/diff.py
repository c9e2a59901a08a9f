"""What changed between two content trees, per file, per field and per language, as a
reviewer reads it: a topic's title in Kyrgyz, a contact's phone, a line of selfcheck.yaml."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from bot.workspace.files import BODY, read_contacts, read_topic, shown_value


@dataclass(frozen=True)
class Change:
    file: str
    field: str  # "title", "body", "phone", "name_ky", "" for a whole file
    lang: str  # the topic's language folder, or "" for data files
    before: str
    after: str


def _text(files: Mapping[str, bytes], name: str) -> str:
    return files[name].decode("utf-8", "replace") if name in files else ""


def _flat(contact: Mapping[str, Any]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in contact.items():
        if isinstance(value, dict):
            flat.update({f"{key}_{lang}": str(v) for lang, v in value.items()})
        elif key != "id":
            flat[key] = str(value)
    return flat


def changes(before: Mapping[str, bytes], after: Mapping[str, bytes]) -> list[Change]:
    found: list[Change] = []
    for name in sorted(set(before) | set(after)):
        old, new = _text(before, name), _text(after, name)
        if old == new:
            continue
        path = PurePosixPath(name)
        lang = str(path.parent) if str(path.parent) != "." else ""
        if name.endswith(".md"):
            a, b = read_topic(old) if old else None, read_topic(new) if new else None
            if a is None or b is None or a.broken is not None or b.broken is not None:
                found.append(Change(name, "", lang, old, new))
                continue
            for key in [*dict.fromkeys([*a.meta, *b.meta])]:
                x, y = shown_value(key, a.meta.get(key)), shown_value(key, b.meta.get(key))
                if x != y:
                    found.append(Change(name, key, lang, x, y))
            if a.body.strip() != b.body.strip():
                found.append(Change(name, BODY, lang, a.body.strip(), b.body.strip()))
        elif name == "contacts.yaml":
            olds = {str(c["id"]): _flat(c) for c in read_contacts(old)}
            news = {str(c["id"]): _flat(c) for c in read_contacts(new)}
            for contact_id in sorted(set(olds) | set(news)):
                was, now = olds.get(contact_id, {}), news.get(contact_id, {})
                for key in sorted(set(was) | set(now)):
                    if was.get(key, "") != now.get(key, ""):
                        found.append(Change(f"{name} · {contact_id}", key, "",
                                            was.get(key, ""), now.get(key, "")))
            if not any(c.file.startswith(name) for c in found):  # comments only
                found.append(Change(name, "", "", "", _unified(old, new)))
        else:
            found.append(Change(name, "", lang, "", _unified(old, new)))
    return found


def _unified(old: str, new: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(True), new.splitlines(True), n=1))
