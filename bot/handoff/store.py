"""The cases: opened, found, touched, closed, blocked and purged, one statement at a time.

Every method takes and gives chat ids in clear only in memory; what reaches the database is
sealed or an HMAC (bot.handoff.crypto). Closing clears both chat columns in the same UPDATE
that sets the status, so from then on nothing in the row leads back to the person.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Row, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.models import CLOSED, CODE_LEN, OPEN, Case, CaseBlock
from bot.handoff.crypto import CaseKeys
from bot.stats.recorder import upsert_statement, utc_today

# No 0/O, 1/I/L: a caseworker may read a code aloud or copy it by hand.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def new_code() -> str:
    """A random case code: never derived from the user (31^6 ≈ 900 million codes)."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LEN))


@dataclass(frozen=True)
class OpenCase:
    code: str
    topic_id: int
    lang: str
    status: str
    chat_id: int | None  # opened from the sealed column; None once closed


class AlreadyOpen(Exception):
    """The chat already has an open case (two taps, or two replicas)."""


class CaseBook:
    """The cases table and the block list, for one JOL_CASE_KEY."""

    def __init__(self, engine: AsyncEngine, keys: CaseKeys,
                 today: Callable[[], date] = utc_today) -> None:
        self.engine = engine
        self.keys = keys
        self.today = today

    def _case(self, row: Row[Any]) -> OpenCase:
        sealed = row.chat_sealed
        chat = self.keys.open(sealed) if sealed else None
        return OpenCase(row.code, int(row.topic_id), row.lang, row.status, chat)

    async def open(self, code: str, chat_id: int, topic_id: int, lang: str) -> OpenCase:
        today = self.today()
        row = {"code": code, "topic_id": topic_id, "lang": lang, "status": OPEN,
               "opened_on": today, "active_on": today, "chat_lookup": self.keys.lookup(chat_id),
               "chat_sealed": self.keys.seal(chat_id, today)}
        try:
            async with self.engine.begin() as conn:
                await conn.execute(insert(Case), row)
        except IntegrityError:
            raise AlreadyOpen from None
        return OpenCase(code, topic_id, lang, OPEN, chat_id)

    async def for_chat(self, chat_id: int) -> OpenCase | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(Case).where(
                Case.chat_lookup == self.keys.lookup(chat_id)))).first()
        return self._case(row) if row is not None else None

    async def for_topic(self, topic_id: int) -> OpenCase | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(Case).where(Case.topic_id == topic_id))).first()
        return self._case(row) if row is not None else None

    async def touch(self, code: str) -> None:
        """Note activity today (a day, never a time), for the idle purge."""
        today = self.today()
        async with self.engine.begin() as conn:
            await conn.execute(update(Case).where(Case.code == code, Case.active_on != today)
                               .values(active_on=today))

    async def move_topic(self, code: str, topic_id: int) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(Case).where(Case.code == code).values(topic_id=topic_id))

    async def close(self, code: str) -> bool:
        """Close an open case and forget its chat at once; False if it was not open."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                update(Case).where(Case.code == code, Case.status == OPEN)
                .values(status=CLOSED, chat_lookup=None, chat_sealed=None,
                        active_on=self.today()))
        return bool(result.rowcount)

    async def block(self, chat_id: int, days: int) -> date:
        until = self.today() + timedelta(days=days)
        statement = upsert_statement(self.engine, CaseBlock, ["chat_block"],
                                     lambda excluded: {"until": excluded["until"]})
        async with self.engine.begin() as conn:
            await conn.execute(statement, {"chat_block": self.keys.block(chat_id),
                                           "until": until})
        return until

    async def blocked_until(self, chat_id: int) -> date | None:
        async with self.engine.connect() as conn:
            until = (await conn.execute(select(CaseBlock.until).where(
                CaseBlock.chat_block == self.keys.block(chat_id),
                CaseBlock.until > self.today()))).scalar()
        return until

    async def due_for_purge(self, retention_days: int) -> list[OpenCase]:
        """Closed cases, and open ones idle for more than `retention_days`."""
        idle_since = self.today() - timedelta(days=retention_days)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(Case).where(or_(
                Case.status == CLOSED, Case.active_on < idle_since)))).all()
        return [self._case(row) for row in rows]

    async def delete(self, code: str) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(delete(Case).where(Case.code == code))

    async def delete_expired_blocks(self) -> int:
        async with self.engine.begin() as conn:
            result = await conn.execute(delete(CaseBlock).where(CaseBlock.until <= self.today()))
        return int(result.rowcount or 0)
