"""The bot's languages are data: one line each in content/languages.yaml.

    ky: {name: "Кыргызча", state: full}
    uz: {name: "Oʻzbekcha", state: partial, fallback: ru}

A `full` language has every topic; a `partial` one may miss topics, which are served in its
`fallback` (a full language) with a one-line note. Adding a language is that line, a catalog
bot/locales/<xx>/LC_MESSAGES/messages.po and a folder content/<xx>/ — nothing in the code.
Russian must be listed as full: it is the last fallback of every UI string and the language of
anyone whose language is unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, cast

import yaml

from bot.content.yamlfile import Located, read_yaml

DEFAULT_LANGUAGE = "ru"
CODE_RE = re.compile(r"^[a-z]{2,3}$")  # ISO 639-1 or -3, as Telegram's language_code starts
LANGUAGE_KEYS = {"name": "the language's own name, shown on the picker's button",
                 "state": "full (every topic) or partial (missing topics fall back)",
                 "fallback": "a partial language's missing topics are shown in this one"}
State = Literal["full", "partial"]


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    state: State
    fallback: str | None = None  # only for a partial language: a full one
    line: int = 1  # its line in languages.yaml, for problems about it


@dataclass(frozen=True)
class Languages:
    """The configured languages, in the file's order (the picker shows them so)."""

    by_code: Mapping[str, Language]

    def __iter__(self) -> Iterator[Language]:
        return iter(self.by_code.values())

    def __contains__(self, code: object) -> bool:
        return code in self.by_code

    def __len__(self) -> int:
        return len(self.by_code)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.by_code)

    @property
    def full(self) -> tuple[str, ...]:
        return tuple(lang.code for lang in self if lang.state == "full")

    def chain(self, code: str) -> tuple[str, ...]:
        """Where a string or topic of `code` is looked for, in order: itself, its fallback,
        then Russian."""
        chain = self._chains.get(code)
        return chain if chain is not None else tuple(dict.fromkeys((code, DEFAULT_LANGUAGE)))

    @cached_property
    def _chains(self) -> dict[str, tuple[str, ...]]:
        return {lang.code: tuple(dict.fromkeys(c for c in (lang.code, lang.fallback,
                                                           DEFAULT_LANGUAGE) if c))
                for lang in self}


EXAMPLE = 'uz: {name: "Oʻzbekcha", state: partial, fallback: ru}'


def _parse_entry(code: object, entry: object, line: int,
                 problems: list[tuple[Located, str]]) -> Language | None:
    """One line of languages.yaml; None (and its problem added) when it cannot be used."""

    def refuse(message: str, **values: object) -> None:
        problems.append((Located(line, message, {"lang": code, **values}), "error"))

    if not isinstance(code, str) or not CODE_RE.match(code):
        refuse("language code {lang}: use two or three lowercase latin letters, e.g. uz",
               lang=repr(code))
        return None
    if not isinstance(entry, dict):
        refuse("language '{lang}': write it as {example}", example=EXAMPLE)
        return None
    for key in entry:
        if key not in LANGUAGE_KEYS:
            problems.append((Located(line, "language '{lang}': unknown field '{field}' is "
                                     "ignored (known: {known})",
                                     {"lang": code, "field": key,
                                      "known": ", ".join(LANGUAGE_KEYS)}), "warning"))
    name, state, fallback = entry.get("name"), entry.get("state"), entry.get("fallback")
    if not isinstance(name, str) or not name.strip():
        refuse("language '{lang}': name is required: the language's own name")
    elif state not in ("full", "partial"):
        refuse("language '{lang}': state must be full or partial, got {value}",
               value=repr(state))
    elif state == "full" and fallback is not None:
        refuse("language '{lang}': a full language has every topic and no fallback")
    elif state == "partial" and not isinstance(fallback, str):
        refuse("language '{lang}': a partial language needs a fallback, e.g. fallback: ru")
    else:
        return Language(code, name.strip(), cast(State, state),
                        fallback if isinstance(fallback, str) else None, line)
    return None


def parse_languages(text: str) -> tuple[Languages, list[tuple[Located, str]]]:
    """The languages in `text` and its problems as (located message, severity).

    A broken line is left out, so one typo is one problem, not a crash at start-up."""
    problems: list[tuple[Located, str]] = []
    parsed = read_yaml(text)
    if isinstance(parsed, Located):
        return Languages({}), [(parsed, "error")]
    data, node = parsed
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        return Languages({}), [(Located(1, "languages.yaml must list one language a line, "
                                        "e.g. {example}", {"example": EXAMPLE}), "error")]
    lines = {str(k.value): k.start_mark.line + 1 for k, _ in node.value
             if isinstance(k, yaml.ScalarNode)}
    found: dict[str, Language] = {}
    for code, entry in data.items():
        language = _parse_entry(code, entry, lines.get(str(code), 1), problems)
        if language is not None:
            found[language.code] = language
    for language in found.values():
        if language.fallback is None:
            continue
        target = found.get(language.fallback)
        if target is None or target.state != "full":
            problems.append((Located(language.line, "language '{lang}': fallback '{fallback}' "
                                     "must be a full language listed here",
                                     {"lang": language.code, "fallback": language.fallback}),
                             "error"))
    if found.get(DEFAULT_LANGUAGE, Language("", "", "partial")).state != "full" and not any(
            severity == "error" for _, severity in problems):
        problems.append((Located(1, "ru must be listed as a full language: it is the bot's "
                                 "default and the last fallback"), "error"))
    return Languages(found), problems
