"""Jol's tables: raw daily counters of the open period, noisy weekly releases, chat languages,
the handoff's cases, and the content versions.

Nothing here may hold a user id, chat id, name, message text or a time finer than a day;
a seized database then tells nobody who used the bot. (Content versions name their author and
time: editors are staff, not users. An update claim holds Telegram's update number and a lease
time for a few minutes: the bot's traffic, not who sent it.) Raw counters live only until their
week is released (bot.stats.release), then only the noisy cells remain.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
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


# --- the handoff's cases (bot/handoff) --------------------------------------------------------
# A case row holds its random code, its forum topic, the language, the status, two days (opened,
# last activity) and, while the case is open, the user's chat id sealed with Fernet under
# JOL_CASE_KEY plus an HMAC of it for lookups (bot.handoff.crypto). Closing a case from either
# side clears both at once; the purge then deletes the row and the topic. A block is an HMAC of
# the chat id (under its own derived key) and the day it ends. Nothing here names a person.

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


# --- the editors' workspace (bot/workspace) ----------------------------------------------------
# Editors are staff: their Telegram id and display name are kept with what they did. Times are
# Unix seconds (the same on SQLite and PostgreSQL). Sessions are kept as SHA-256 of the cookie's
# token, used link nonces until the link expires. Nothing here concerns the bot's users.

EDITOR_NAME_LEN = 64
HASH_LEN = 64  # hex of SHA-256


class WorkspaceNonce(Base):
    """A sign-in link already used: refused on every replica until it would have expired."""

    __tablename__ = "workspace_nonces"

    nonce_hash: Mapped[str] = mapped_column(CHAR(HASH_LEN), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


class WorkspaceSession(Base):
    """A signed-in editor's browser; the cookie holds the token, this row only its hash."""

    __tablename__ = "workspace_sessions"

    token_hash: Mapped[str] = mapped_column(CHAR(HASH_LEN), primary_key=True)
    editor_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    editor_name: Mapped[str] = mapped_column(String(EDITOR_NAME_LEN), nullable=False)
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


class WorkspaceDraft(Base):
    """An editor's changes: whole files (JSON name -> text) over the version they started from.

    status: draft (being edited), review (submitted), returned (sent back with a comment),
    published (became a version; kept for the record), discarded.
    """

    __tablename__ = "workspace_drafts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    editor_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    editor_name: Mapped[str] = mapped_column(String(EDITOR_NAME_LEN), nullable=False)
    base_version: Mapped[str] = mapped_column(String(64), nullable=False)
    files: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    comment: Mapped[str] = mapped_column(Text, nullable=False, default="")
    updated_at: Mapped[int] = mapped_column(BigInteger, nullable=False)


class WorkspaceAudit(Base):
    """One editor's action: who (id, name), what, on what, when."""

    __tablename__ = "workspace_audit"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"),
                                    primary_key=True, autoincrement=True)
    at: Mapped[int] = mapped_column(BigInteger, nullable=False)
    editor_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    editor_name: Mapped[str] = mapped_column(String(EDITOR_NAME_LEN), nullable=False)
    action: Mapped[str] = mapped_column(String(32), nullable=False)
    target: Mapped[str] = mapped_column(String(200), nullable=False)


# --- content versions (bot/content/versions.py) ------------------------------------------------
# Git-like: a blob is one file's bytes under its SHA-256, stored once however many versions hold
# it; a version is its author (an editor: staff, whose Telegram id and display name may be kept),
# time, note and parent; a version's files map tree names to blobs. The published version is the
# newest. Ids are consecutive (a new version is the newest + 1), so two editors publishing on the
# same parent collide on the primary key and the second is told to re-base.

SHA256_LEN = 64
FILE_NAME_LEN = 255
AUTHOR_NAME_LEN = 128
NOTE_LEN = 500


class ContentBlob(Base):
    """The bytes of one content file, named by their SHA-256 (hex)."""

    __tablename__ = "content_blobs"

    sha256: Mapped[str] = mapped_column(CHAR(SHA256_LEN), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class ContentVersion(Base):
    """One published content tree: immutable once written."""

    __tablename__ = "content_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("content_versions.id"))
    author_id: Mapped[int | None] = mapped_column(BigInteger)  # an editor's Telegram id
    author_name: Mapped[str] = mapped_column(String(AUTHOR_NAME_LEN), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    note: Mapped[str] = mapped_column(String(NOTE_LEN), nullable=False)


class ContentVersionFile(Base):
    """One file of a version: its tree name ("ru/russia.md") and blob."""

    __tablename__ = "content_version_files"

    version_id: Mapped[int] = mapped_column(ForeignKey("content_versions.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(FILE_NAME_LEN), primary_key=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("content_blobs.sha256"), nullable=False,
                                        index=True)


class UpdateClaim(Base):
    """A Telegram update taken by one webhook replica (bot/db/claims.py): until `lease_until`
    (Unix time, by the database's clock) no other replica handles it; `done` once answered.
    Only Telegram's update_id, a counter of the bot's updates: nothing about who sent it."""

    __tablename__ = "update_claims"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    lease_until: Mapped[float] = mapped_column(Float, nullable=False)
    done: Mapped[bool] = mapped_column(Boolean, nullable=False)
