"""The daily contribution cap: what one chat can add to the statistics in one UTC day.

Differential privacy needs a bound on one person's contribution (the privacy unit here is
the person-day): each chat adds at most 1 to any cell, and to at most `cap` cells a day;
anything beyond is not counted. Chats are told apart by an HMAC of the chat id under a
random key that lives only in this process's memory and is replaced, with everything seen,
at every UTC midnight: nothing of it is ever stored, and yesterday's keys cannot be matched
to today's.

The cap holds per process: with several replicas, or after a restart the same day, a chat
could add up to `cap` cells once more. The release accounts for one process (see README).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import date

from bot.events import EVENTS

Cell = tuple[str, str, str]  # event, key, lang

# Events that must never lose to page views (`reserved` in bot/events.py): each has its own
# daily allowance beside `cap`, so a person's SOS (the picker and a country) or "this number
# did not work" is counted however many pages they opened first. The release adds these to
# its sensitivity (bot.stats.release.Noise), so the privacy bound stays exact.
RESERVED_CELLS: dict[str, int] = {e.name: e.reserved for e in EVENTS.values() if e.reserved}
RESERVED_TOTAL = sum(RESERVED_CELLS.values())

MAX_CHATS_PER_DAY = 200_000  # bounds memory; chats beyond it are not counted that day
_DIGEST_BYTES = 8  # enough to tell a day's chats apart; a collision only under-counts


class DailyCap:
    """Admits (chat, cell) once per day, and at most `cap` cells per chat per day (plus each
    reserved event's own allowance)."""

    def __init__(self, cap: int) -> None:
        if cap < 1:
            raise ValueError("the per-chat cap must be at least 1")
        self.cap = cap
        self._day: date | None = None
        self._key = b""
        # A chat's cells as a tuple of shared ones: a campaign brings thousands of new chats a
        # day, each with a few cells, and a set and its own tuples per chat cost ~4x as much.
        self._cells: dict[bytes, tuple[Cell, ...]] = {}
        self._shared: dict[Cell, Cell] = {}

    def new_day(self, day: date) -> bool:
        """Start a new day with a fresh key and nothing seen; True if the day changed."""
        if day == self._day:
            return False
        self._day = day
        self._key = secrets.token_bytes(32)
        self._cells = {}
        self._shared = {}
        return True

    def admit(self, chat_id: int, cell: Cell) -> bool:
        """Whether this chat may add 1 to this cell today (call new_day() first)."""
        digest = hmac.new(self._key, str(chat_id).encode("ascii"),
                          hashlib.sha256).digest()[:_DIGEST_BYTES]
        cells = self._cells.get(digest, ())
        if not cells and len(self._cells) >= MAX_CHATS_PER_DAY:
            return False
        event = cell[0]
        allowance = RESERVED_CELLS.get(event)
        if allowance is None:
            used = sum(1 for c in cells if c[0] not in RESERVED_CELLS)
        else:
            used = sum(1 for c in cells if c[0] == event)
        if cell in cells or used >= (self.cap if allowance is None else allowance):
            return False
        self._cells[digest] = (*cells, self._shared.setdefault(cell, cell))
        return True

    @property
    def chats(self) -> int:
        return len(self._cells)
