"""Callback data: short ASCII strings parsed strictly.

Grammar (every form fits Telegram's 64-byte limit; content check verifies it per topic):
    m               main menu
    t:<id>[:<page>] open a topic (page counts from 0)
    sos             SOS: the advice and a country picker
    sos:<CC>        SOS for one country (ISO 3166 alpha-2, e.g. sos:KG);  sos:-  another / I
                    don't know (the country is checked against the content by the handler)
    lang            the language picker;  l:<ky|ru>  choose a language
    clear           ask to delete this chat's messages;  clear!  delete them
    q:<ver><answers>   the job-offer self-check: <ver> is 4 hex digits naming the questions'
                       version, then one letter per answer so far (y/n/u); no server state
    fq:<ver><answers>  the same self-check, phrased for a relative
Anything else (forged, or from an older version) parses to None and gets "button out of date".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot import LANGUAGES

MAX_CALLBACK_BYTES = 64
# Single dashes only: "--" separates a topic from a campaign source in deep links.
TOPIC_ID_RE = re.compile(r"^(?=.{1,40}$)[a-z0-9]+(-[a-z0-9]+)*$")
_COUNTRY_RE = re.compile(r"^(?:[A-Z]{2}|-)$")
_CHECK_RE = re.compile(r"^(?P<version>[0-9a-f]{4})(?P<answers>[ynu]{0,20})$")


@dataclass(frozen=True)
class Callback:
    action: str
    topic: str = ""
    page: int = 0
    lang: str = ""
    answers: str = ""
    version: str = ""
    country: str = ""  # SOS: an ISO country code, or "-" for another / don't know


def topic_data(topic_id: str, page: int = 0) -> str:
    return f"t:{topic_id}" if page == 0 else f"t:{topic_id}:{page}"


def lang_data(lang: str) -> str:
    return f"l:{lang}"


def sos_data(country: str) -> str:
    return f"{SOS}:{country}"


def check_data(answers: str, family: bool = False) -> str:
    return f"{'fq' if family else 'q'}:{answers}"


MAIN_MENU = "m"
SOS = "sos"
LANGUAGE = "lang"
CLEAR_CHAT = "clear"
CLEAR_CHAT_CONFIRMED = "clear!"
_SIMPLE = {MAIN_MENU, SOS, LANGUAGE, CLEAR_CHAT, CLEAR_CHAT_CONFIRMED}


def parse(data: str | None) -> Callback | None:
    """Parse callback data; None for anything not produced by this module."""
    if not data or len(data.encode()) > MAX_CALLBACK_BYTES or not data.isascii():
        return None
    if data in _SIMPLE:
        return Callback(action=data)
    head, _, rest = data.partition(":")
    if head == "t":
        topic, _, page = rest.partition(":")
        if not TOPIC_ID_RE.match(topic):
            return None
        if page and not (page.isdigit() and len(page) <= 2 and not page.startswith("0")):
            return None
        return Callback(action="t", topic=topic, page=int(page or 0))
    if head == SOS and _COUNTRY_RE.match(rest):
        return Callback(action=SOS, country=rest)
    if head == "l" and rest in LANGUAGES:
        return Callback(action="l", lang=rest)
    check = _CHECK_RE.match(rest)
    if head in ("q", "fq") and check:
        return Callback(action=head, answers=check["answers"], version=check["version"])
    return None
