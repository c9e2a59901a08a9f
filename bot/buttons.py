"""Buttons: one frozen dataclass per kind, packed into short ASCII callback data, parsed strictly.

Each kind declares its `prefix` and typed fields; callback data is the prefix, then the fields
joined by ":" (trailing fields at their default are left out). The wire formats never change
lightly: buttons stay on users' phones for months.

    m                   MainMenuButton
    t:<id>[:<page>]     TopicButton: open a topic (page counts from 0, written only from 1)
    sos                 SosButton(): the advice and a country picker
    sos:<CC> | sos:-    SosButton(country): SOS for one country (ISO 3166 alpha-2), or "another
                        / I don't know" (the handler checks the country against the content)
    lang                LanguagePickerButton
    l:<code>            LanguageButton: 2-3 lowercase letters (the handler checks it is offered)
    clear | clear!      ClearChatButton: ask to delete this chat's messages | delete them
    q:<ver>[<d><answers>[<view>]]
                        CheckButton, a step of the job-offer self-check: <ver> is 4 hex digits
                        naming the version of selfcheck.yaml, <d> one character naming the
                        destination (0-9a-z), then one letter per answer so far (y/n/u); with
                        every answer, the result; <view> "*" shows all the reasons, "<" the
                        short result again (not counted twice). No server state.
    fq:...              FamilyCheckButton: the same self-check, phrased for a relative
    nw:<topic-id>       NumbersButton: which of this topic's phone numbers did not work
    nf:<contact-id>     FailedNumberButton: count "this number did not work" for that contact

`Button.parse` gives the typed button, or None for anything that does not pack back to exactly
the same string (forged, non-canonical such as `t:x:01`, or from an older version): those get
"this button is out of date". A second kind with a taken prefix is an error at import.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, ClassVar, Self

MAX_CALLBACK_BYTES = 64  # Telegram's limit for callback data
MAX_PAGES = 100  # pages 0-99: the page number has at most two digits
# Single dashes only: "--" separates a topic from a campaign source in deep links.
TOPIC_ID_RE = re.compile(r"^(?=.{1,40}$)[a-z0-9]+(-[a-z0-9]+)*$")
CHECK_MAX_ANSWERS = 20
_PREFIX_RE = re.compile(r"^[a-z]+!?$")
_COUNTRY_RE = re.compile(r"^(?:[A-Z]{2}|-|)$")
_LANGUAGE_RE = re.compile(r"^[a-z]{2,3}$")
_CHECK_RE = re.compile(rf"^(?P<version>[0-9a-f]{{4}})(?:(?P<destination>[0-9a-z])"
                       rf"(?P<answers>[ynu]{{0,{CHECK_MAX_ANSWERS}}})(?P<view>[*<]?))?$")

_KINDS: dict[str, type[Button]] = {}


class Button:
    """The base of every kind; a kind is a frozen dataclass with a `prefix` of its own."""

    prefix: ClassVar[str]
    # (name, default or MISSING, is an int) per field, worked out on first use.
    _layout: ClassVar[tuple[tuple[str, Any, bool], ...] | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        prefix = cls.__dict__.get("prefix")
        if not isinstance(prefix, str) or not _PREFIX_RE.match(prefix):
            raise TypeError(f"{cls.__name__} needs a prefix of its own: lowercase letters")
        if prefix in _KINDS:
            raise TypeError(f"button prefix {prefix!r} of {cls.__name__} is taken by "
                            f"{_KINDS[prefix].__name__}")
        _KINDS[prefix] = cls

    @classmethod
    def _fields(cls) -> tuple[tuple[str, Any, bool], ...]:
        if cls._layout is None:
            cls._layout = tuple((f.name, f.default, f.type in (int, "int"))
                                for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        return cls._layout

    def pack_fields(self) -> str:
        """What follows "<prefix>:" ("" for none): the fields, trailing defaults left out."""
        layout = self._fields()
        values = [getattr(self, name) for name, _, _ in layout]
        while values and values[-1] == layout[len(values) - 1][1]:
            values.pop()
        return ":".join(map(str, values))

    @classmethod
    def unpack_fields(cls, fields: str) -> Self:
        """The button from what follows "<prefix>:"; ValueError or TypeError when malformed."""
        layout = cls._fields()
        parts = fields.split(":") if fields else []
        if len(parts) > len(layout):
            raise ValueError("too many fields")
        values: list[Any] = []
        for (_, _, is_int), part in zip(layout, parts, strict=False):
            if is_int and not part.isdigit():
                raise ValueError("not a number")
            values.append(int(part) if is_int else part)
        return cls(*values)

    def pack(self) -> str:
        """The callback data; ValueError if it would not fit Telegram's 64 bytes."""
        fields = self.pack_fields()
        data = f"{self.prefix}:{fields}" if fields else self.prefix
        if len(data.encode()) > MAX_CALLBACK_BYTES:
            raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
        return data

    @staticmethod
    def kind_of(data: object) -> type[Button] | None:
        """The kind a button's data claims to be (by its prefix), before checking its fields."""
        if not isinstance(data, str):
            return None
        return _KINDS.get(data.partition(":")[0])

    @staticmethod
    def parse(data: object) -> Button | None:
        """The typed button, or None for data this version of the bot does not produce."""
        if not isinstance(data, str) or not data.isascii() or len(data) > MAX_CALLBACK_BYTES:
            return None
        prefix, _, fields = data.partition(":")
        kind = _KINDS.get(prefix)
        if kind is None:
            return None
        try:
            button = kind.unpack_fields(fields)
            return button if button.pack() == data else None
        except (ValueError, TypeError):
            return None

    @staticmethod
    def kinds() -> tuple[type[Button], ...]:
        return tuple(_KINDS.values())


def _require(ok: object, what: str) -> None:
    if not ok:
        raise ValueError(f"bad {what}")


@dataclass(frozen=True)
class MainMenuButton(Button):
    prefix = "m"


@dataclass(frozen=True)
class TopicButton(Button):
    prefix = "t"
    topic: str
    page: int = 0

    def __post_init__(self) -> None:
        _require(TOPIC_ID_RE.match(self.topic), "topic id")
        _require(0 <= self.page < MAX_PAGES, "page")


@dataclass(frozen=True)
class SosButton(Button):
    prefix = "sos"
    country: str = ""  # "": the picker; "-": another country / I don't know
    UNKNOWN: ClassVar[str] = "-"

    def __post_init__(self) -> None:
        _require(_COUNTRY_RE.match(self.country), "country")


@dataclass(frozen=True)
class LanguagePickerButton(Button):
    prefix = "lang"


@dataclass(frozen=True)
class LanguageButton(Button):
    prefix = "l"
    lang: str

    def __post_init__(self) -> None:
        _require(_LANGUAGE_RE.match(self.lang), "language code")


@dataclass(frozen=True)
class ClearChatButton(Button):
    prefix = "clear"


@dataclass(frozen=True)
class ClearChatConfirmedButton(Button):
    prefix = "clear!"


@dataclass(frozen=True)
class CheckButton(Button):
    """A step of the self-check; all its state is here, so any replica can answer it."""

    prefix = "q"
    family: ClassVar[bool] = False
    version: str
    destination: str = ""  # the destination's code; "" before it is chosen
    answers: str = ""  # y/n/u, one per question answered
    view: str = ""  # the result's view: "" (first showing), "*" (all reasons) or "<" (again)

    def __post_init__(self) -> None:
        # Parsing the packed state back to the same fields rules out every malformed step
        # (an answer without a destination, a two-letter destination, a stray view mark).
        match = _CHECK_RE.match(self.pack_fields())
        _require(match is not None and (match["destination"] or "") == self.destination
                 and (match["answers"] or "") == self.answers, "self-check step")

    def pack_fields(self) -> str:
        return f"{self.version}{self.destination}{self.answers}{self.view}"

    @classmethod
    def unpack_fields(cls, fields: str) -> Self:
        match = _CHECK_RE.match(fields)
        if match is None:
            raise ValueError("not a self-check step")
        return cls(match["version"], match["destination"] or "", match["answers"] or "",
                   match["view"] or "")


@dataclass(frozen=True)
class FamilyCheckButton(CheckButton):
    prefix = "fq"
    family: ClassVar[bool] = True


@dataclass(frozen=True)
class NumbersButton(Button):
    prefix = "nw"
    topic: str

    def __post_init__(self) -> None:
        _require(TOPIC_ID_RE.match(self.topic), "topic id")


@dataclass(frozen=True)
class FailedNumberButton(Button):
    prefix = "nf"
    contact: str  # contact ids follow the topic id grammar

    def __post_init__(self) -> None:
        _require(TOPIC_ID_RE.match(self.contact), "contact id")


@dataclass(frozen=True)
class TalkButton(Button):
    """Talk to a person (bot/handlers/talk.py): "" the consent screen, "ok" consent given,
    "end" end the conversation."""

    prefix = "talk"
    step: str = ""

    def __post_init__(self) -> None:
        _require(self.step in ("", "ok", "end"), "talk step")
