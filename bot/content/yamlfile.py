"""Content YAML, parsed safely and once: one place for every hostile-input rule of the text.

(Reading files safely is bot/content/source.py's job; this module only sees their bytes.)
- UTF-8, with or without a byte-order mark; a bad byte is reported at its line.
- One pass of libyaml's parser (the pure-Python one if libyaml is missing): the nodes are built
  from its events by a composer that refuses, at the first offending event, anchors and aliases
  (an "alias bomb" expands a few lines into gigabytes), nesting deeper than MAX_DEPTH levels,
  more than MAX_EVENTS values and a key written twice; so a hostile file costs no more memory
  than its first bad line, and the nodes keep every value's line for messages.
- Nothing raises: every failure is a `Located` problem whose `message` is a catalog id
  (bot/content/checker_messages.py) and `values` fill its placeholders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

TOPIC_LIMIT = 256 * 1024  # bytes; a whole topic is a few kilobytes
DATA_LIMIT = 1024 * 1024  # contacts.yaml and selfcheck.yaml
MAX_DEPTH = 20  # content needs four levels; the rest is a stack-exhaustion attempt
MAX_EVENTS = 200_000  # YAML nodes per file, far above any real file

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # events for hints
try:  # libyaml's parser, when PyYAML was built with it
    from yaml._yaml import CParser as _Parser
except ImportError:  # pragma: no cover - the pure-Python parser gives the same events
    class _Parser(yaml.reader.Reader, yaml.scanner.Scanner,  # type: ignore[no-redef]
                  yaml.parser.Parser):
        def __init__(self, stream: str) -> None:
            yaml.reader.Reader.__init__(self, stream)
            yaml.scanner.Scanner.__init__(self)
            yaml.parser.Parser.__init__(self)


@dataclass(frozen=True)
class Located:
    """A problem at a 1-based line: catalog id and the values of its placeholders."""

    line: int
    message: str
    values: Mapping[str, object] = field(default_factory=dict)


class _Unreadable(Exception):
    def __init__(self, node: yaml.Node) -> None:
        self.node = node


class _Refused(Exception):
    """The composer stopped at a value content may not have (0-based line)."""

    def __init__(self, line: int, message: str, values: Mapping[str, object] | None = None):
        self.line, self.message, self.values = line, message, values or {}


class _Line:
    """Where a node starts, as the messages need it: the 0-based line."""

    __slots__ = ("line",)

    def __init__(self, line: int) -> None:
        self.line = line


class _Loader(Composer, _Parser, SafeConstructor, Resolver):
    """PyYAML's composer over libyaml's events (Composer first, so its methods build the
    nodes), guarded; safe construction whose value errors (2026-02-30, a 5000-digit number)
    name their node."""

    def __init__(self, text: str) -> None:
        _Parser.__init__(self, text)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        Composer.__init__(self)
        self.depth = 0
        self.count = 0
        self._lines: dict[int, _Line] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        event: Any = self.peek_event()
        line = event.start_mark.line if event.start_mark is not None else 0
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise _Refused(line, "YAML anchors and aliases (& and *) are not allowed in "
                           "content: write each value out in full")
        self.count += 1
        if self.count > MAX_EVENTS:
            raise _Refused(line, "more than {limit} values in one file", {"limit": MAX_EVENTS})
        if not isinstance(event, yaml.CollectionStartEvent):
            return self._slim(super().compose_node(parent, index))
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise _Refused(line, "nested more than {limit} levels deep", {"limit": MAX_DEPTH})
        try:
            return self._slim(super().compose_node(parent, index))
        finally:
            self.depth -= 1

    def _slim(self, node: Any) -> Any:
        """Keep of a node's position only its line: parsed files stay cached for the next
        reload (read_yaml), and two full marks a node were a third of their memory."""
        line = node.start_mark.line
        node.start_mark = self._lines.get(line) or self._lines.setdefault(line, _Line(line))
        node.end_mark = None
        return node

    def compose_mapping_node(self, anchor: Any) -> Any:
        """YAML keeps the last of two equal keys without a word; an editor meant one of them."""
        node = super().compose_mapping_node(anchor)
        seen: set[str] = set()
        for key, _ in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    raise _Refused(key.start_mark.line, "'{field}' is written twice: keep one",
                                   {"field": key.value})
                seen.add(key.value)
        return node

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as error:
            raise _Unreadable(node) from error


def decode(data: bytes) -> str | Located:
    """UTF-8 text without its byte-order mark, or the line of the first byte that is not."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return Located(data[: error.start].count(b"\n") + 1,
                       "not UTF-8 text: save the file as UTF-8")
    return text.removeprefix("\ufeff")


def parse_yaml(text: str, first_line: int = 1) -> tuple[Any, yaml.Node | None] | Located:
    """Parse one YAML document into (data, node); lines count from `first_line`."""
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            data = loader.construct_document(node) if node is not None else None
        finally:
            loader.dispose()
    except _Refused as refused:
        return Located(first_line + refused.line, refused.message, refused.values)
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


# Cached by the text, so a /reload parses only the data files that changed: callers only read
# the result (it may be shared by several snapshots). A topic's front matter is parsed with
# parse_yaml: the parsed topic is cached by its text instead (loader._parse_topic_text), and
# its YAML nodes would keep ~1.5 MB that nothing reads again.
read_yaml = lru_cache(maxsize=32)(parse_yaml)


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
