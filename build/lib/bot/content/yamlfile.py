"""Read content files and their YAML safely: one place for every hostile-input rule.

- Only regular files: a FIFO would block the reader forever, a device could be endless, and a
  symbolic link could point anywhere on the machine. Every symbolic link is refused (rather than
  resolved and checked), so what is served is exactly what lies in the content folder.
- A size cap per file, checked before reading and enforced while reading.
- UTF-8, with or without a byte-order mark; a bad byte is reported at its line.
- YAML without anchors and aliases (an "alias bomb" expands a few lines into gigabytes), nested
  at most MAX_DEPTH levels, one document; libyaml's parser when it is installed.
- Nothing raises: every failure is a `Located` problem whose `message` is a catalog id
  (bot/content/checker_messages.py) and `values` fill its placeholders.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

TOPIC_LIMIT = 256 * 1024  # bytes; a whole topic is a few kilobytes
DATA_LIMIT = 1024 * 1024  # contacts.yaml and selfcheck.yaml
MAX_DEPTH = 20  # content needs four levels; the rest is a stack-exhaustion attempt
MAX_EVENTS = 200_000  # YAML nodes per file, far above any real file

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Located:
    """A problem at a 1-based line: catalog id and the values of its placeholders."""

    line: int
    message: str
    values: Mapping[str, object] = field(default_factory=dict)


class _Unreadable(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Safe YAML whose value errors (2026-02-30, a 5000-digit number) name their node."""

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as error:
            raise _Unreadable(node) from error


def read_file(path: Path, limit: int) -> str | Located:
    """The text of a regular file of at most `limit` bytes, or why it cannot be read."""
    try:
        info = os.lstat(path)
    except OSError as error:
        return Located(1, "cannot read the file: {reason}", {"reason": error.strerror})
    if stat.S_ISLNK(info.st_mode):
        return Located(1, "a symbolic link is not read: put the file itself in the content folder")
    if stat.S_ISDIR(info.st_mode):
        return Located(1, "this is a folder, not a file: rename or remove it")
    if not stat.S_ISREG(info.st_mode):
        return Located(1, "not a regular file (a pipe or a device): remove it")
    if info.st_size > limit:
        return Located(1, "the file is {size} KB; at most {limit} KB is read: split it",
                       {"size": info.st_size // 1024, "limit": limit // 1024})
    try:
        # O_NONBLOCK and O_NOFOLLOW: if the file was swapped for a FIFO or a link after lstat,
        # opening it neither waits for a writer nor follows the link.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        return Located(1, "cannot read the file: {reason}", {"reason": error.strerror})
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return Located(1, "not a regular file (a pipe or a device): remove it")
        data = file.read(limit + 1)
    if len(data) > limit:
        return Located(1, "the file is {size} KB; at most {limit} KB is read: split it",
                       {"size": len(data) // 1024, "limit": limit // 1024})
    return decode(data)


def decode(data: bytes) -> str | Located:
    """UTF-8 text without its byte-order mark, or the line of the first byte that is not."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return Located(data[: error.start].count(b"\n") + 1,
                       "not UTF-8 text: save the file as UTF-8")
    return text.removeprefix("\ufeff")


def read_yaml(text: str, first_line: int = 1) -> tuple[Any, yaml.Node | None] | Located:
    """Parse one YAML document into (data, node); lines count from `first_line`."""
    try:
        problem = _prescan(text, first_line)
        if problem is not None:
            return problem
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            duplicate = _duplicate_key(node, first_line)
            if duplicate is not None:
                return duplicate
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _Unreadable as error:
        line = first_line + error.node.start_mark.line
        value = str(getattr(error.node, "value", ""))[:40]
        if error.node.tag == "tag:yaml.org,2002:timestamp":
            return Located(line, "{value} is not a real date: write an existing day as "
                           "YYYY-MM-DD", {"value": value})
        return Located(line, "{value} cannot be read as a value: put it in quotes",
                       {"value": value})
    except yaml.YAMLError as error:
        return _explain(error, text, first_line)
    except Exception as error:  # any parser failure is the file's problem
        return Located(first_line, "the YAML cannot be read ({kind})",
                       {"kind": type(error).__name__})
    return data, node


def _prescan(text: str, first_line: int) -> Located | None:
    """Refuse anchors, aliases, deep nesting and huge files from the event stream, before
    anything is built: events cost constant memory, so a bomb is stopped at its first line."""
    depth = 0
    for count, event in enumerate(yaml.parse(text, Loader=_BaseLoader)):
        line = first_line + (event.start_mark.line if event.start_mark is not None else 0)
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            return Located(line, "YAML anchors and aliases (& and *) are not allowed in "
                           "content: write each value out in full")
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                return Located(line, "nested more than {limit} levels deep",
                               {"limit": MAX_DEPTH})
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        if count > MAX_EVENTS:
            return Located(line, "more than {limit} values in one file", {"limit": MAX_EVENTS})
    return None


def _duplicate_key(root: yaml.Node | None, first_line: int) -> Located | None:
    """YAML keeps the last of two equal keys without a word; an editor meant one of them."""
    stack = [root] if root is not None else []
    while stack:  # depth is capped by _prescan, but a loop needs no stack anyway
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    if key.value in seen:
                        return Located(first_line + key.start_mark.line,
                                       "'{field}' is written twice: keep one",
                                       {"field": key.value})
                    seen.add(key.value)
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return None


# (words in the parser's message, mark to report, plain explanation). Both libyaml's and
# PyYAML's wording are matched, so the message does not depend on which parser is installed.
_EXPLANATIONS = (
    ("tab character", "problem", "a tab character: indent with spaces only"),
    ("unknown escape", "problem",
     "a backslash (\\) inside double quotes: use single quotes around this value"),
    ("could not determine a constructor", "problem",
     "a value starts with '!': put the value in quotes"),
    ("mapping values are not allowed", "problem",
     "a colon inside a value: put the value in quotes, e.g. title: \"SOS: help\"; "
     "or this line is indented more than the one above"),
    ("cannot start any token", "problem",
     "a tab or a stray character (such as @ or `) at the start of a value: "
     "indent with spaces and put the value in quotes"),
    ("while scanning a quoted scalar", "context",
     "a quote opened here is never closed: add the closing quote"),
    ("could not find expected ':'", "context",
     "this line is not 'name: value': add ': ', or a space after '-' in a list"),
    ("flow sequence", "context",
     "a list opened with '[' here is not closed with ']', or a quote inside it is not closed"),
    ("flow mapping", "context", "a curly bracket opened here is not closed"),
    ("single document", "problem",
     "a second '---' line: the fields end at the first one, remove the extra line"),
    ("block", "problem",
     "this line does not fit the lines above: check the indentation and the '-' of lists"),
    ("did not find expected key", "problem",
     "this line does not fit the lines above: check the indentation and the '-' of lists"),
)


_OPEN_QUOTE_RE = re.compile(r"""^\s*(?:-\s+|[^\s:"'][^:]*:\s+)(["'])""")


def _unclosed_quote(text: str, before: int) -> int | None:
    """The 0-based line of a value that opens a quote and does not close it on its line.

    YAML lets a quoted value run on over the next lines, so the parser only stumbles lines
    later. A line is blamed only if closing its quote makes the whole text parse, so a quoted
    value that rightly spans two lines is left alone.
    """
    lines = text.split("\n")
    suspects = 0
    for number, line in enumerate(lines[: before + 1]):
        match = _OPEN_QUOTE_RE.match(line)
        if not match:
            continue
        quote = match[1]
        rest = line[match.end():].replace("\\" + quote, "").replace(quote * 2, "")
        if quote in rest:
            continue
        fixed = "\n".join([*lines[:number], line + quote, *lines[number + 1 :]])
        try:
            for _ in yaml.parse(fixed, Loader=_BaseLoader):
                pass
        except yaml.YAMLError:
            suspects += 1
            if suspects >= 3:  # each try parses the text again: a few are enough
                return None
            continue
        return number
    return None


def _explain(error: yaml.YAMLError, text: str, first_line: int) -> Located:
    problem = str(getattr(error, "problem", None) or "")
    context = str(getattr(error, "context", None) or "")
    marks = {"problem": getattr(error, "problem_mark", None),
             "context": getattr(error, "context_mark", None)}
    where = marks["problem"] or marks["context"]
    if isinstance(error, yaml.reader.ReaderError):  # a character YAML refuses anywhere
        line = text[: error.position].count("\n")
        return Located(first_line + line, "an invisible control character (code {code}): "
                       "delete it and retype this line", {"code": f"{error.character:#06x}"})
    if "nesting depth" in problem:  # libyaml's own limit, deeper than ours
        return Located(first_line + (where.line if where is not None else 0),
                       "nested more than {limit} levels deep", {"limit": MAX_DEPTH})
    quote_line = _unclosed_quote(text, where.line if where is not None else 0)
    if quote_line is not None:
        return Located(first_line + quote_line,
                       "a quote opened here is never closed: add the closing quote")
    for words, which, explanation in _EXPLANATIONS:
        if words in problem or words in context:
            mark = marks[which] or marks["problem"] or marks["context"]
            return Located(first_line + (mark.line if mark is not None else 0), explanation)
    mark = marks["problem"] or marks["context"]
    return Located(first_line + (mark.line if mark is not None else 0),
                   "broken YAML: {problem}", {"problem": problem or type(error).__name__})
