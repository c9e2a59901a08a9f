"""Content versions in the database: every publish is an immutable version of the whole tree.

Git-like (bot/db/models.py): a file's bytes are stored once as a blob under their SHA-256, and a
version lists (name, sha256) pairs, so publishing one changed file adds one blob and the list.
The published version is the newest one: history is a line, and a rollback is a new version
holding an old version's files (so "what was served when" is the history itself, with no
pointer to keep consistent). A version's id is its parent's + 1: two editors publishing on the
same parent collide on the primary key and the second gets `StaleParent` (re-base, never a
silent overwrite).

Every publish is validated by the same loader as `jol content check` first, and sends
NOTIFY `CHANNEL` with the new id in the same transaction (bot/db/notify.py), so replicas
listening swap within moments; `VersionSource` is what a replica's ContentStore serves
(bot/content/published.py keeps it on the newest version).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot import i18n
from bot.content.loader import load
from bot.content.model import ContentSnapshot
from bot.content.source import CatalogSource, ContentFiles, ContentSource, is_tree_name
from bot.content.store import ContentError
from bot.content.yamlfile import Located
from bot.db.models import (
    AUTHOR_NAME_LEN,
    NOTE_LEN,
    ContentBlob,
    ContentVersion,
    ContentVersionFile,
)
from bot.db.notify import notify

CHANNEL = "jol_content"  # NOTIFY payload: the new version's id


class StaleParent(Exception):
    """The version a change was based on is no longer the newest: re-base on `newest`."""

    def __init__(self, parent_id: int | None, newest: int | None) -> None:
        self.parent_id = parent_id
        self.newest = newest
        super().__init__(f"the change was based on version {parent_id}, but version {newest} "
                         "has been published since: start again from it")


class UnknownVersion(LookupError):
    def __init__(self, version_id: int) -> None:
        self.version_id = version_id
        super().__init__(f"there is no content version {version_id}")


@dataclass(frozen=True)
class VersionInfo:
    id: int
    parent_id: int | None
    author_id: int | None
    author_name: str
    created_at: datetime
    note: str


def version_name(version_id: int) -> str:
    """How problems in a version's files are named: "version 7/ru/russia.md:4: …"."""
    return f"version {version_id}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_versions = cast(sa.Table, ContentVersion.__table__)
_files = cast(sa.Table, ContentVersionFile.__table__)
_blobs = cast(sa.Table, ContentBlob.__table__)
_INFO = (_versions.c.id, _versions.c.parent_id, _versions.c.author_id, _versions.c.author_name,
         _versions.c.created_at, _versions.c.note)


def _info(row: Any) -> VersionInfo:  # a Row of _INFO
    created = row.created_at
    if created.tzinfo is None:  # SQLite keeps no zone; what it holds is UTC
        created = created.replace(tzinfo=UTC)
    return VersionInfo(row.id, row.parent_id, row.author_id, row.author_name, created, row.note)


def _insert_missing(dialect: str) -> sa.Insert:
    """INSERT … ON CONFLICT DO NOTHING for blobs: two publishes may add the same bytes."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(_blobs).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(_blobs).on_conflict_do_nothing()


class ContentVersions:
    """The versions on one engine (bot/db); every method is one short transaction."""

    def __init__(self, engine: AsyncEngine, *, stale_after_days: int = 180,
                 catalogs: ContentSource | None = None) -> None:
        self.engine = engine
        self.stale_after_days = stale_after_days
        self.catalogs = catalogs  # the UI catalogs checked with the content (bot/locales)

    # --- reading ---------------------------------------------------------------------------

    async def newest_id(self) -> int | None:
        """The published version's id: one indexed MAX, cheap enough to poll."""
        async with self.engine.connect() as conn:
            return await self._newest(conn)

    async def published(self) -> VersionInfo | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(*_INFO).order_by(_versions.c.id.desc())
                                      .limit(1))).first()
        return None if row is None else _info(row)

    async def get(self, version_id: int) -> VersionInfo:
        async with self.engine.connect() as conn:
            row = (await conn.execute(sa.select(*_INFO)
                                      .where(_versions.c.id == version_id))).first()
        if row is None:
            raise UnknownVersion(version_id)
        return _info(row)

    async def history(self, limit: int = 100) -> list[VersionInfo]:
        """The newest `limit` versions, newest first."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(*_INFO).order_by(_versions.c.id.desc())
                                      .limit(limit))
            return [_info(row) for row in rows]

    async def files(self, version_id: int) -> ContentFiles:
        """A version's whole tree, named "version N" for problem lines."""
        async with self.engine.connect() as conn:
            if (await conn.execute(sa.select(_versions.c.id)
                                   .where(_versions.c.id == version_id))).first() is None:
                raise UnknownVersion(version_id)
            rows = await conn.execute(
                sa.select(_files.c.name, _blobs.c.data)
                .join(_blobs, _blobs.c.sha256 == _files.c.sha256)
                .where(_files.c.version_id == version_id).order_by(_files.c.name))
            return ContentFiles(version_name(version_id), {row.name: row.data for row in rows})

    async def changed_files(self, a: int, b: int
                            ) -> dict[str, tuple[bytes | None, bytes | None]]:
        """Each file that differs from version `a` to `b`: (its bytes in a, in b); None where
        the file is absent."""
        old, new = (await self.files(a)).files, (await self.files(b)).files
        return {name: (old.get(name), new.get(name))
                for name in sorted(old.keys() | new.keys()) if old.get(name) != new.get(name)}

    # --- writing ---------------------------------------------------------------------------

    def check(self, files: Mapping[str, bytes], name: str = "content", *,
              unreadable: Mapping[str, Located] | None = None) -> ContentSnapshot:
        """The snapshot `files` load to, or ContentError if the loader finds an error (warnings
        pass). CPU work: an async caller on a serving loop runs it in a thread (`publish`
        does). `unreadable`: entries of a folder that could not be read (an error each)."""
        ui = (self.catalogs or CatalogSource(i18n.LOCALES_DIR)).read()
        snapshot, problems = load(files, name=name, unreadable=unreadable, catalogs=ui,
                                  stale_after_days=self.stale_after_days)
        if snapshot is None:
            raise ContentError(problems)
        return snapshot

    async def publish(self, files: Mapping[str, bytes], *, author_id: int | None,
                      author_name: str, note: str, parent_id: int | None,
                      checked: bool = False) -> VersionInfo:
        """A new version of exactly `files`, on top of `parent_id` (which must be the newest
        version, None for the first). Raises ContentError with the problems if the content has
        errors, StaleParent if another version came first. `checked`: the caller has just
        validated these files itself."""
        if not checked:
            import asyncio

            await asyncio.to_thread(self.check, files)
        try:
            return await self._write(files, author_id, author_name, note, parent_id)
        except OperationalError:
            # SQLite: another writer committed between our read and our write (the snapshot is
            # stale); the second attempt sees its version and says StaleParent.
            return await self._write(files, author_id, author_name, note, parent_id)

    async def rollback(self, version_id: int, *, author_id: int | None, author_name: str,
                       note: str) -> VersionInfo:
        """Publish version `version_id`'s files again, as a new version on the newest."""
        old = await self.files(version_id)
        return await self.publish(old.files, author_id=author_id, author_name=author_name,
                                  note=note, parent_id=await self.newest_id(), checked=True)

    async def _write(self, files: Mapping[str, bytes], author_id: int | None, author_name: str,
                     note: str, parent_id: int | None) -> VersionInfo:
        bad = sorted(name for name in files if not is_tree_name(name))
        if bad:
            raise ValueError(f"not a content file name: {bad[0]!r}")
        created = datetime.now(UTC)
        author_name = author_name[:AUTHOR_NAME_LEN]
        note = note[:NOTE_LEN]
        try:
            async with self.engine.begin() as conn:
                newest = await self._newest(conn)
                if newest != parent_id:
                    raise StaleParent(parent_id, newest)
                new_id = (newest or 0) + 1
                await conn.execute(_versions.insert().values(
                    id=new_id, parent_id=parent_id, author_id=author_id,
                    author_name=author_name, created_at=created, note=note))
                digests = {name: sha256(data) for name, data in files.items()}
                blobs = {digest: files[name] for name, digest in digests.items()}
                if blobs:
                    known = set((await conn.execute(sa.select(_blobs.c.sha256).where(
                        _blobs.c.sha256.in_(list(blobs))))).scalars())
                    missing = [{"sha256": d, "data": data} for d, data in blobs.items()
                               if d not in known]
                    if missing:
                        await conn.execute(_insert_missing(conn.dialect.name), missing)
                    await conn.execute(_files.insert(), [
                        {"version_id": new_id, "name": name, "sha256": digest}
                        for name, digest in sorted(digests.items())])
                await notify(conn, CHANNEL, str(new_id))
        except IntegrityError:
            # Another publish took the same id between our check and our insert.
            raise StaleParent(parent_id, await self.newest_id()) from None
        return VersionInfo(new_id, parent_id, author_id, author_name, created, note)

    @staticmethod
    async def _newest(conn: AsyncConnection) -> int | None:
        newest: int | None = (await conn.execute(sa.select(sa.func.max(_versions.c.id)))).scalar()
        return newest


class VersionSource:
    """A ContentSource serving one version's files, fetched on the event loop beforehand.

    A source's `read` is synchronous and runs in the store's worker thread; the database is
    async. So the store awaits `refresh` on the loop first (bot/content/store.py), which
    fetches the published version's files; `read` returns what was fetched.
    """

    def __init__(self, versions: ContentVersions) -> None:
        self.versions = versions
        self.version: int | None = None
        self._files = ContentFiles("version ?", {})

    @property
    def name(self) -> str:
        return self._files.name

    def __repr__(self) -> str:
        return f"VersionSource(version={self.version})"

    async def refresh(self) -> None:
        """The store's async read path: fetch the published version before each load."""
        await self.fetch()

    async def fetch(self, version_id: int | None = None) -> int | None:
        """Hold the files of `version_id` (default: the published one); returns its id, None
        when the database has no version yet."""
        if version_id is None:
            version_id = await self.versions.newest_id()
            if version_id is None:
                return None
        self._files = await self.versions.files(version_id)
        self.version = version_id
        return version_id

    def read(self) -> ContentFiles:
        return self._files
