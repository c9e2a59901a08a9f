"""Every statistics event, declared once: its name, its report label and what its key means.

The counter refuses anything not declared here, the release builds its fixed key space from
`key` (bot.stats.release), the daily cap reserves `reserved` cells (bot.stats.cap) and the
reports give each event a section titled by `label` (bot.stats.reports). Adding an event is
one line below (and its label in the catalogs); tests/test_events.py walks the code for every
`count(...)` and fails on an event that is not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Key(StrEnum):
    """What an event's key means, and so which keys its release covers (from the content)."""

    NONE = "none"  # no key: one cell per language
    TOPIC = "topic"  # a topic id
    CAMPAIGN = "campaign"  # a declared campaign source, "" (none) or "other"
    LANGUAGE = "language"  # the language chosen: the cell's own language
    LEVEL = "level"  # a self-check risk level
    DESTINATION = "destination"  # a self-check destination (where the job is)
    COUNTRY = "country"  # a country code (SOS)
    CONTACT = "contact"  # a contacts.yaml id
    WORD = "word"  # a gap word: from the data, admitted by bot.stats.gaps


@dataclass(frozen=True, slots=True)
class Event:
    name: str  # as stored in counters.event
    label: str  # message id of its report section (translated in bot/locales)
    key: Key = Key.NONE
    # The release keeps one cell per language whatever the raw key (SOS's country, a found
    # search's first topic): one person-day still moves the release by at most the cap.
    pooled: bool = False
    per_language: bool = True  # False: counted without the user's language (contact reports)
    reserved: int = 0  # cells a chat may add a day beside the cap (bot.stats.cap)

    @property
    def released_key(self) -> Key:
        """The key the release keeps: none when pooled."""
        return Key.NONE if self.pooled else self.key


TOPIC = Event("topic", "Topics viewed", Key.TOPIC)
START = Event("start", "Starts by campaign source", Key.CAMPAIGN)
SEARCH_FOUND = Event("search_found", "Searches that found a topic", Key.TOPIC, pooled=True)
SEARCH_NOT_FOUND = Event("search_not_found", "Searches that found nothing")
# SOS and "did not work" must never lose to page views: each has its own daily allowance.
SOS = Event("sos", "SOS opened", Key.COUNTRY, pooled=True, reserved=2)
FORGET = Event("forget", "/forget (language forgotten)")
LANGUAGE = Event("language", "Languages chosen", Key.LANGUAGE)
CHECK = Event("check", "Job-offer check results by risk level", Key.LEVEL)
FAMILY_CHECK = Event("family_check", "Relative's job-offer check results by risk level",
                     Key.LEVEL)
CHECK_DESTINATION = Event("check_destination", "Job-offer checks by where the job is",
                          Key.DESTINATION)
CONTACT_FAILED = Event("contact_failed", "Numbers to re-check (people pressed \"did not work\")",
                       Key.CONTACT, per_language=False, reserved=2)
CASE_OPENED = Event("case_opened", "Conversations with caseworkers opened")
CASE_CLOSED = Event("case_closed", "Conversations with caseworkers closed")
GAP = Event("gap", "Words of searches that found nothing (frequent only)", Key.WORD,
            per_language=False)

# In report order.
EVENTS: dict[str, Event] = {event.name: event for event in (
    TOPIC, START, SEARCH_FOUND, SEARCH_NOT_FOUND, SOS, FORGET, LANGUAGE, CHECK, FAMILY_CHECK,
    CHECK_DESTINATION, CONTACT_FAILED, CASE_OPENED, CASE_CLOSED, GAP)}


def declared(event: Event) -> Event:
    """The event itself if it is declared above; anything else is a programming mistake."""
    if EVENTS.get(event.name) is not event:
        raise LookupError(f"statistics event {event.name!r} is not declared in bot/events.py")
    return event
