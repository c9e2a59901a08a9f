"""Callback data: short ASCII strings parsed strictly.

Grammar (every form fits Telegram's 64-byte limit; content check verifies it per topic):
    m               main menu
    t:<id>[:<page>] open a topic (page counts from 0)
    sos             SOS: the advice and a country picker
    sos:<CC>        SOS for one country (ISO 3166 alpha-2, e.g. sos:KG);  sos:-  another / I
                    don't know (the country is checked against the content by the handler)
    lang            the language picker;  l:<code>  choose a language (a configured one:
                    content/languages.yaml; the handler checks)
    clear           ask to delete this chat's messages;  clear!  delete them
    q:<ver>            the job-offer self-check's first question: where is the job? <ver> is
                       4 hex digits naming the version of selfcheck.yaml
    q:<ver><d><answers>[<view>]
                       a step of the self-check: <d> is one character naming the destination
                       (its place in the list, 0-9a-z), then one letter per answer so far
                       (y/n/u); with all answers, the result; <view> "*" shows all the reasons,
                       "<" the short result again (not counted twice). No server state.
    fq:…               the same self-check, phrased for a relative
    nw:<topic-id>      which of this topic's phone numbers did not work: a list to tap
    nf:<contact-id>    count "this number did not work" for that contact (ids as topic ids)
Anything else (forged, or from an older version) parses to None and gets "button out of date".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.languages import CODE_RE

MAX_CALLBACK_BYTES = 64
MAX_PAGES = 100  # pages 0-99: the page number has at most two digits
# Single dashes only: "--" separates a topic from a campaign source in deep links.
TOPIC_ID_RE = re.compile(r"^(?=.{1,40}$)[a-z0-9]+(-[a-z0-9]+)*$")
_COUNTRY_RE = re.compile(r"^(?:[A-Z]{2}|-)$")
CHECK_MAX_ANSWERS = 20
_CHECK_RE = re.compile(rf"^(?P<version>[0-9a-f]{{4}})(?:(?P<destination>[0-9a-z])"
                       rf"(?P<answers>[ynu]{{0,{CHECK_MAX_ANSWERS}}})(?P<view>[*<]?))?$")


@dataclass(frozen=True)
class Callback:
    action: str
    topic: str = ""
    page: int = 0
    lang: str = ""
    answers: str = ""
    version: str = ""
    destination: str = ""  # the self-check's destination code; "" before it is chosen
    view: str = ""  # the self-check result's view: "" (first showing), "*" or "<"
    contact: str = ""
    country: str = ""  # SOS: an ISO country code, or "-" for another / don't know


def topic_data(topic_id: str, page: int = 0) -> str:
    return f"t:{topic_id}" if page == 0 else f"t:{topic_id}:{page}"


def lang_data(lang: str) -> str:
    return f"l:{lang}"


def sos_data(country: str) -> str:
    return f"{SOS}:{country}"


def check_data(state: str, family: bool = False) -> str:
    """A self-check step; `state` is <ver>[<d><answers>[<view>]] (see the grammar above)."""
    data = f"{'fq' if family else 'q'}:{state}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data over {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def numbers_data(topic_id: str) -> str:
    return f"nw:{topic_id}"


def failed_number_data(contact_id: str) -> str:
    return f"nf:{contact_id}"


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
        if page and not (page.isascii() and page.isdigit() and int(page) < MAX_PAGES
                         and not page.startswith("0")):
            return None
        return Callback(action="t", topic=topic, page=int(page or 0))
    if head == "nw" and TOPIC_ID_RE.match(rest):
        return Callback(action="nw", topic=rest)
    if head == "nf" and TOPIC_ID_RE.match(rest):
        return Callback(action="nf", contact=rest)
    if head == SOS and _COUNTRY_RE.match(rest):
        return Callback(action=SOS, country=rest)
    if head == "l" and CODE_RE.match(rest):  # the handler checks it is configured
        return Callback(action="l", lang=rest)
    check = _CHECK_RE.match(rest)
    if head in ("q", "fq") and check:
        return Callback(action=head, answers=check["answers"] or "", version=check["version"],
                        destination=check["destination"] or "", view=check["view"] or "")
    return None
