"""The ContentStore holds the snapshot the bot serves and swaps it whole on a good reload.

The UI catalogs are loaded and checked with the content and made the ones served at the same
moment (`bot.i18n.activate`), so /reload picks up a translator's change or refuses their typo.

Loading (reading the source and the catalogs, then parsing) runs in a worker thread with a
time limit, so the event loop keeps serving the chats meanwhile, and a slow disk or a huge
folder never freezes them: on failure or timeout the last good snapshot stays and the problems
say why. A source whose files live in a database (bot/content/versions.py's VersionSource)
has an async `refresh()`, awaited on the loop before each load: the read in the thread then
only returns what it fetched. The thread shares the GIL with the loop: a /reload's parse is
paced (Pacer), so the chats keep most of it (bench/README.md measures it, and why a child
process did worse on a busy machine).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

from bot import i18n
from bot.content.loader import load
from bot.content.model import ContentSnapshot, Problem
from bot.content.source import CatalogSource, ContentFiles, ContentSource, FolderSource

LOAD_TIMEOUT = 30.0  # seconds; the real folder loads in well under one


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


def _unrefreshed(source: ContentSource, error: Exception) -> list[Problem]:
    reason = type(error).__name__
    return [Problem(source.name, 1, f"cannot read the published content version: {reason}; "
                    "nothing was changed", "error",
                    "cannot read the published content version: {reason}; nothing was changed",
                    (("reason", reason),))]


async def _refresh(source: ContentSource) -> None:
    """Let a source with an async read path fetch its files on the loop (see the module)."""
    refresh = getattr(source, "refresh", None)
    if refresh is not None:
        await refresh()


# While a reload's thread runs, the loop waiting for the GIL gets it back within this (Python's
# default is 5 ms): between two of the Pacer's points the thread may hold it longer than a burst.
RELOAD_SWITCH_INTERVAL = 0.0005


class _ShortGilTurns:
    """RELOAD_SWITCH_INTERVAL while any reload of this process runs. The interval is the
    process's, so overlapping reloads (of two stores) share one change and one restore."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0  # reloads now running
        self._restore = 0.0  # the interval before the first of them

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._restore = sys.getswitchinterval()
                sys.setswitchinterval(min(self._restore, RELOAD_SWITCH_INTERVAL))
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0:
                    sys.setswitchinterval(self._restore)


_short_gil_turns = _ShortGilTurns()


class Pacer:
    """Called by the loader between small pieces of a reload in a worker thread: after each
    `burst` of the thread's own CPU time it sleeps `rest`, handing the GIL to the event loop.

    Without it the thread and a busy loop take turns of Python's switch interval (5 ms), so a
    chat's answer in flight during a reload waits for half of the parse; with it the loop keeps
    most of the time and no wait is much longer than a burst (a 1 ms ticker on the loop: at
    most 22 ms late unpaced, 3 ms paced). The reload takes longer (~0.3 s after one edit under
    the load benchmark, with RELOAD_SWITCH_INTERVAL), which an editor does not notice. A reload
    that parses everything again (a new day, every file changed: ~0.7 s of CPU) would rest for
    seconds, so the rests stop after `most` seconds in all: such a reload is rare and takes
    what it took."""

    def __init__(self, burst: float = 0.0005, rest: float = 0.003, most: float = 1.0, *,
                 clock: Callable[[], float] = time.thread_time,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.burst, self.rest, self.most = burst, rest, most
        self._clock, self._sleep = clock, sleep  # the calling thread's CPU time; a test's own
        self._since: float | None = None  # that CPU time, from the first call
        self._rested = 0.0

    def __call__(self) -> None:
        now = self._clock()
        if self._since is None:
            self._since = now
        elif now - self._since >= self.burst and self._rested < self.most:
            self._sleep(self.rest)
            self._rested += self.rest
            self._since = self._clock()


def _fingerprint(trees: tuple[ContentFiles, ...], today: date, stale_after_days: int) -> str:
    """What a snapshot is a function of: every byte read, the day (stale dates) and the
    staleness rule. The same fingerprint parses to the same snapshot, so it is not parsed."""
    digest = hashlib.sha256(f"{today}\0{stale_after_days}".encode())
    for tree in trees:
        for name in sorted(tree.files):
            digest.update(f"\0{tree.name}/{name}\0{len(tree.files[name])}\0".encode())
            digest.update(tree.files[name])
        for name in sorted(tree.unreadable):
            digest.update(f"\0{tree.name}/{name}\0{tree.unreadable[name]}".encode())
    return digest.hexdigest()


def _read_and_load(source: ContentSource, catalogs: ContentSource | None, stale_after_days: int,
                   served: str = "", current: ContentSnapshot | None = None,
                   pace: Callable[[], None] = lambda: None,
                   ) -> tuple[ContentSnapshot | None, list[Problem], str]:
    """Read everything; parse only if it differs from what `served` (the fingerprint of
    `current`) was parsed from. Reading and hashing cost a few milliseconds; parsing and
    indexing ~0.7 s of CPU from nothing, ~20 ms after one edit (the loader reuses what it
    parsed and rendered from unchanged files), so an unchanged tree (a /reload with nothing
    edited, a replica told to re-check) costs the chats nothing."""
    trees = (source.read(), (catalogs or CatalogSource(i18n.LOCALES_DIR)).read())
    fingerprint = _fingerprint(trees, date.today(), stale_after_days)
    if current is not None and fingerprint == served:
        return current, list(current.warnings), fingerprint
    read, ui = trees
    snapshot, problems = load(read.files, name=read.name, unreadable=read.unreadable,
                              catalogs=ui, stale_after_days=stale_after_days, pace=pace)
    return snapshot, problems, fingerprint


def _source(source: ContentSource | Path) -> ContentSource:
    return FolderSource(source) if isinstance(source, Path) else source


class ContentStore:
    def __init__(self, source: ContentSource | Path, stale_after_days: int = 180,
                 timeout: float = LOAD_TIMEOUT, *, catalogs: ContentSource | None = None,
                 snapshot: ContentSnapshot | None = None, fingerprint: str = "") -> None:
        """Load before serving, bounded by `timeout` (a thread that overruns is abandoned);
        a folder path means FolderSource(path), and the UI catalogs are bot/locales unless
        `catalogs` says otherwise. Given a `snapshot` already loaded from this source (by
        `open` with its `fingerprint`, or shared by tests), nothing is loaded here."""
        self.source = _source(source)
        self.catalogs = catalogs
        self.stale_after_days = stale_after_days
        self.timeout = timeout
        self._lock = asyncio.Lock()
        # Of the files the served snapshot was parsed from; "" (not known): the next reload parses.
        self._fingerprint = fingerprint
        if snapshot is None:
            pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="content-load")
            try:
                loaded, problems, self._fingerprint = pool.submit(
                    _read_and_load, self.source, catalogs, stale_after_days).result(timeout)
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
        await _refresh(source)
        try:
            snapshot, problems, fingerprint = await asyncio.wait_for(asyncio.to_thread(
                _read_and_load, source, catalogs, stale_after_days), timeout)
        except TimeoutError:
            raise ContentError(_timed_out(source, timeout)) from None
        if snapshot is None:
            raise ContentError(problems)
        return cls(source, stale_after_days, timeout, catalogs=catalogs, snapshot=snapshot,
                   fingerprint=fingerprint)

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
                await _refresh(self.source)
            except Exception as error:  # the database is down, say: keep serving what we have
                return False, _unrefreshed(self.source, error)
            try:
                with _short_gil_turns():
                    snapshot, problems, fingerprint = await asyncio.wait_for(
                        asyncio.to_thread(_read_and_load, self.source, self.catalogs,
                                          self.stale_after_days, self._fingerprint,
                                          self._snapshot, Pacer()),
                        self.timeout)
            except TimeoutError:
                return False, _timed_out(self.source, self.timeout)
            if snapshot is None:
                return False, problems
            if snapshot is not self._snapshot:
                self._use(snapshot)
            self._fingerprint = fingerprint
            return True, problems
