"""Serving the published content version (JOL_CONTENT_SOURCE=database, the default of `jol run`).

At start: an empty database is seeded with JOL_CONTENT_DIR as version 1; the store then serves
the newest version; a folder that differs from it is named in one log line (never published
silently: editors' work in the database wins until someone runs `jol content import`).

While serving, `PublishedContent` keeps every replica on the newest version: PostgreSQL's NOTIFY
from a publish (bot/db/notify.py) makes it look at once, and a poll of the newest id every
JOL_CONTENT_POLL_SECONDS catches what a notification missed (and is the only way on SQLite).
The swap is the store's reload: parsed in its worker thread, swapped whole, serving never pauses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bot.content.source import FolderSource
from bot.content.store import ContentStore
from bot.content.versions import CHANNEL, ContentVersions, StaleParent, VersionSource
from bot.db.notify import Listener

log = logging.getLogger(__name__)

SEED_AUTHOR = "seed"


def seed_note(folder: Path) -> str:
    return f"imported from the folder {folder} at first start"


async def open_published(engine: AsyncEngine, content_dir: Path, stale_after_days: int
                         ) -> tuple[ContentStore, ContentVersions]:
    """The store serving the published version, seeding an empty database from `content_dir`
    (ContentError with the folder's problems if it does not load)."""
    versions = ContentVersions(engine, stale_after_days=stale_after_days)
    folder = FolderSource(content_dir)
    seeded = None
    if await versions.newest_id() is None:
        tree = await asyncio.to_thread(folder.read)
        snapshot = await asyncio.to_thread(versions.check, tree.files, tree.name,
                                           unreadable=tree.unreadable)
        try:
            seeded = await versions.publish(tree.files, author_id=None, author_name=SEED_AUTHOR,
                                            note=seed_note(content_dir), parent_id=None,
                                            checked=True)
            log.info("content: the database had no version; %s is version 1", content_dir)
        except StaleParent:
            pass  # another replica starting at the same moment seeded it
    source = VersionSource(versions)
    if seeded is not None:  # what was just checked is what is served: not parsed twice
        await source.fetch(seeded.id)
        store = ContentStore(source, stale_after_days, snapshot=snapshot)
    else:
        store = await ContentStore.open(source, stale_after_days)
        tree = await asyncio.to_thread(folder.read)
        served = source.read()
        if dict(tree.files) != dict(served.files):
            log.warning("content: %s differs from the published version %s; run `jol content "
                        "import` to publish it", content_dir, source.version)
    return store, versions


class PublishedContent:
    """Keeps a store on the newest published version; `start()`, then `stop()`."""

    def __init__(self, store: ContentStore, versions: ContentVersions, *,
                 poll_seconds: float, listener: Listener | None = None) -> None:
        assert isinstance(store.source, VersionSource)
        self.store = store
        self.source: VersionSource = store.source
        self.versions = versions
        self.poll_seconds = poll_seconds
        self.listener = listener
        self._lock = asyncio.Lock()
        self._refused: int | None = None  # the newest version, when it did not load here
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.listener is not None:
            # A payload is just a hint: the check reads the newest id itself.
            self.listener.subscribe(CHANNEL, lambda _payload: self.check(),
                                    on_reconnect=self.check)
        self._task = asyncio.create_task(self._poll(), name="content-poll")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def check(self) -> bool:
        """Serve the newest version if it is not served yet; whether it was swapped."""
        async with self._lock:
            newest = await self.versions.newest_id()
            if newest is None or newest in (self.source.version, self._refused):
                return False
            served = self.source.version
            applied, problems = await self.store.reload()  # fetches the newest, then loads
            if not applied:
                self._refused = self.source.version
                errors = [p for p in problems if p.severity == "error"]
                log.error("content: version %s does not load here (%s%s); still serving "
                          "version %s", self._refused, errors[0] if errors else "?",
                          f" and {len(errors) - 1} more" if len(errors) > 1 else "", served)
                return False
            info = await self.versions.get(self.source.version or newest)
            delay = (datetime.now(UTC) - info.created_at).total_seconds()
            log.info("content: serving version %d, published %.2f s ago", info.id, delay)
            return True

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self.poll_seconds)
            try:
                await self.check()
            except Exception as error:  # the database is down, say: keep serving, try again
                log.warning("content: cannot look for a new version (%s)", type(error).__name__)

