"""The cases table and the block list: nothing in them names a person.

A case row holds its random code, its forum topic, the language, the status, two days (opened,
last activity) and, while the case is open, the user's chat id sealed with Fernet under
JOL_CASE_KEY plus an HMAC of it for lookups (bot.handoff.crypto). Closing a case from either
side clears both at once; the purge then deletes the row and the topic. A block is an HMAC
of the chat id (under its own derived key) and the day it ends.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import CHAR

from bot.stats.models import CHAT_KEY_LEN, LANG_LEN, Base

CODE_LEN = 6
STATUS_LEN = 8
OPEN = "open"
CLOSED = "closed"


class Case(Base):
    """One conversation between a person and the caseworkers, routed by its forum topic."""

    __tablename__ = "cases"

    code: Mapped[str] = mapped_column(CHAR(CODE_LEN), primary_key=True)
    topic_id: Mapped[int] = mapped_column(BigInteger, nullable=False, unique=True)
    lang: Mapped[str] = mapped_column(String(LANG_LEN), nullable=False)
    status: Mapped[str] = mapped_column(String(STATUS_LEN), nullable=False)
    opened_on: Mapped[date] = mapped_column(Date, nullable=False)
    active_on: Mapped[date] = mapped_column(Date, nullable=False)
    # HMAC-SHA256(lookup key, chat id) as hex; NULL once closed. Unique: one open case a chat.
    chat_lookup: Mapped[str | None] = mapped_column(CHAR(CHAT_KEY_LEN), unique=True)
    # Fernet(JOL_CASE_KEY) of the chat id; NULL once closed. Never stored in clear.
    chat_sealed: Mapped[str | None] = mapped_column(Text)


class CaseBlock(Base):
    """A chat the caseworkers paused (/block): no new case from it until `until`."""

    __tablename__ = "case_blocks"

    chat_block: Mapped[str] = mapped_column(CHAR(CHAT_KEY_LEN), primary_key=True)
    until: Mapped[date] = mapped_column(Date, nullable=False)
