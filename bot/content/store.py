"""The ContentStore holds the snapshot the bot serves and swaps it whole on a good reload.

The UI catalogs are loaded and checked with the content and made the ones served at the same
moment (`bot.i18n.activate`), so /reload picks up a translator's change or refuses their typo.

Loading (reading the source and the catalogs, then parsing) runs in a worker thread with a
time limit, so the event loop keeps serving the chats meanwhile, and a slow disk or a huge
folder never freezes them: on failure or timeout the last good snapshot stays and the problems
say why. The thread shares the GIL with the loop, so chats are slower while it parses
(bench/README.md measures it, and why a child process did worse on a busy machine).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path

from bot import i18n
from bot.content.loader import load_from
from bot.content.model import ContentSnapshot, Problem
from bot.content.source import ContentSource, FolderSource

LOAD_TIMEOUT = 30.0  # seconds; the real folder loads in well under one
Loaded = tuple[ContentSnapshot | None, list[Problem]]


class ContentError(Exception):
    """Content failed validation; `problems` say where."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or "content failed to load")


def _timed_out(source: ContentSource, timeout: float) -> list[Problem]:
    return [Problem(source.name, 1, f"loading took more than {timeout:g} s; nothing was "
                    "changed", "error", "loading took more than {seconds} s; nothing was changed",
                    (("seconds", f"{timeout:g}"),))]


def _source(source: ContentSource | Path) -> ContentSource:
    return FolderSource(source) if isinstance(source, Path) else source


class ContentStore:
    def __init__(self, source: ContentSource | Path, stale_after_days: int = 180,
                 timeout: float = LOAD_TIMEOUT, *, catalogs: ContentSource | None = None,
                 snapshot: ContentSnapshot | None = None) -> None:
        """Load before serving, bounded by `timeout` (a thread that overruns is abandoned);
        a folder path means FolderSource(path), and the UI catalogs are bot/locales unless
        `catalogs` says otherwise. Given a `snapshot` already loaded from this source (by
        `open`, or shared by tests), nothing is loaded here; a reload reads as usual."""
        self.source = _source(source)
        self.catalogs = catalogs
        self.stale_after_days = stale_after_days
        self.timeout = timeout
        self._lock = asyncio.Lock()
        if snapshot is None:
            pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="content-load")
            try:
                loaded, problems = pool.submit(self._load).result(timeout)
            except concurrent.futures.TimeoutError:
                raise ContentError(_timed_out(self.source, timeout)) from None
            finally:
                pool.shutdown(wait=False)
            if loaded is None:
                raise ContentError(problems)
            snapshot = loaded
        self._use(snapshot)

    @classmethod
    async def open(cls, source: ContentSource | Path, stale_after_days: int = 180,
                   timeout: float = LOAD_TIMEOUT, *,
                   catalogs: ContentSource | None = None) -> ContentStore:
        """The store, loaded in a worker thread so that a running event loop keeps serving
        (the bot's start-up); raises ContentError with the problems if it does not load."""
        source = _source(source)
        try:
            snapshot, problems = await asyncio.wait_for(asyncio.to_thread(
                load_from, source, catalogs=catalogs, stale_after_days=stale_after_days),
                timeout)
        except TimeoutError:
            raise ContentError(_timed_out(source, timeout)) from None
        if snapshot is None:
            raise ContentError(problems)
        return cls(source, stale_after_days, timeout, catalogs=catalogs, snapshot=snapshot)

    def _load(self) -> Loaded:
        return load_from(self.source, catalogs=self.catalogs,
                         stale_after_days=self.stale_after_days)

    def _use(self, snapshot: ContentSnapshot) -> None:
        """Serve `snapshot` and the catalogs loaded with it; one assignment each, so readers
        see the old or the new, whole."""
        self._snapshot = snapshot
        i18n.activate(snapshot.catalogs)

    @property
    def snapshot(self) -> ContentSnapshot:
        return self._snapshot

    async def reload(self) -> tuple[bool, list[Problem]]:
        """Read and validate the source again off the event loop; replace the snapshot only if
        it has no errors. Returns whether it was applied and every problem found (warnings
        too)."""
        async with self._lock:  # two /reload at once: the second waits, then loads again
            try:
                snapshot, problems = await asyncio.wait_for(asyncio.to_thread(self._load),
                                                            self.timeout)
            except TimeoutError:
                return False, _timed_out(self.source, self.timeout)
            if snapshot is None:
                return False, problems
            self._use(snapshot)
            return True, problems
