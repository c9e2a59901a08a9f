"""Jol's tables: raw daily counters of the open period, noisy weekly releases, chat languages.

Nothing here may hold a user id, chat id, name, message text or a time finer than a day;
a seized database then tells nobody who used the bot. Raw counters live only until their
week is released (bot.stats.release), then only the noisy cells remain.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, CheckConstraint, Date, Float, MetaData, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import CHAR

# Fixed constraint names, so migrations (and SQLite batch mode) can refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Column sizes; the recorder truncates to these so PostgreSQL never rejects a count.
EVENT_LEN = 32
KEY_LEN = 64
LANG_LEN = 8
SOURCE_LEN = 64
CHAT_KEY_LEN = 64  # hex of HMAC-SHA256


class Base(DeclarativeBase):
    """Declarative base with the naming convention; Alembic compares against its metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Counter(Base):
    """How many times `event` happened on `day` for one (key, lang, source); "" means none."""

    __tablename__ = "counters"
    __table_args__ = (CheckConstraint("count >= 0", name="count_not_negative"),)

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    event: Mapped[str] = mapped_column(String(EVENT_LEN), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LEN), primary_key=True)
    lang: Mapped[str] = mapped_column(String(LANG_LEN), primary_key=True)
    source: Mapped[str] = mapped_column(String(SOURCE_LEN), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger, nullable=False)


class ChatLanguage(Base):
    """A chat's chosen language under HMAC(secret, chat id); the id itself is never stored."""

    __tablename__ = "chat_languages"

    chat_key: Mapped[str] = mapped_column(CHAR(CHAT_KEY_LEN), primary_key=True)
    lang: Mapped[str] = mapped_column(String(LANG_LEN), nullable=False)
    # A day, not a timestamp: enough for retention, too coarse to match a visit to a log.
    updated_on: Mapped[date] = mapped_column(Date, nullable=False)


class Release(Base):
    """One closed period's release: when it covers and the noise that was added, for the record.

    Written once, in the same transaction as its cells and the deletion of its raw counters;
    the primary key stops a second release of the same period (never re-draw noise).
    """

    __tablename__ = "releases"

    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    epsilon: Mapped[float] = mapped_column(Float, nullable=False)  # per person-day
    cap: Mapped[int] = mapped_column(BigInteger, nullable=False)  # cells one chat adds a day
    scale: Mapped[float] = mapped_column(Float, nullable=False)  # discrete Laplace b = cap/ε
    mechanism: Mapped[str] = mapped_column(String(64), nullable=False)


class ReleasedCell(Base):
    """A noisy count of one cell of the fixed key space in one released period (may be < 0)."""

    __tablename__ = "released_cells"

    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    event: Mapped[str] = mapped_column(String(EVENT_LEN), primary_key=True)
    key: Mapped[str] = mapped_column(String(KEY_LEN), primary_key=True)
    lang: Mapped[str] = mapped_column(String(LANG_LEN), primary_key=True)
    noisy: Mapped[int] = mapped_column(BigInteger, nullable=False)
