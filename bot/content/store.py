"""The ContentStore holds the snapshot the bot serves and swaps it whole on a good reload.

Loading runs off the event loop with a time limit, so the chats are served meanwhile and a
slow disk or a huge folder never freezes them: on failure or timeout the last good snapshot
stays and the problems say why. A worker thread reads the source; at start-up it parses too.
A reload parses in a child process: parsing is CPU-bound Python, and in a thread it would hold
the GIL the event loop needs (every chat then waits for it, about 5 ms each time it wakes, for
the whole load: bench/README.md measures it); the loop only unpickles the finished snapshot.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
from pathlib import Path

from bot.content.loader import load, load_from
from bot.content.model import ContentSnapshot, Problem
from bot.content.source import ContentFiles, ContentSource, FolderSource

LOAD_TIMEOUT = 30.0  # seconds; the real folder loads in well under one
Loaded = tuple[ContentSnapshot | None, list[Problem]]


class ContentError(Exception):
    """Content failed validation; `problems` say where."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or "content failed to load")


def _timed_out(name: str, timeout: float) -> list[Problem]:
    return [Problem(name, 1, f"loading took more than {timeout:g} s; nothing was "
                    "changed", "error", "loading took more than {seconds} s; nothing was changed",
                    (("seconds", f"{timeout:g}"),))]


def _source(source: ContentSource | Path) -> ContentSource:
    return FolderSource(source) if isinstance(source, Path) else source


def parse_in_child(read: ContentFiles, stale_after_days: int, timeout: float) -> Loaded:
    """`load` the tree in a fresh child process (spawned: nothing of this process's state is
    copied) and return its result; the child is killed if it overruns `timeout`."""
    context = multiprocessing.get_context("spawn")
    try:
        with context.Pool(1) as pool:  # leaving the block terminates the child
            job = pool.apply_async(load, (dict(read.files),),
                                   {"name": read.name, "unreadable": dict(read.unreadable),
                                    "stale_after_days": stale_after_days})
            loaded: Loaded = job.get(timeout)
            return loaded
    except multiprocessing.TimeoutError:
        return None, _timed_out(read.name, timeout)
    except Exception as error:  # the child died (memory, a signal): a line, not a traceback
        return None, [Problem(read.name, 1, f"internal error while reading {read.name}: "
                              f"{type(error).__name__}", "error",
                              "internal error while reading {file}: {kind}",
                              (("file", read.name), ("kind", type(error).__name__)))]


class ContentStore:
    def __init__(self, source: ContentSource | Path, stale_after_days: int = 180,
                 timeout: float = LOAD_TIMEOUT, *,
                 snapshot: ContentSnapshot | None = None, reload_in_child: bool = True) -> None:
        """Load before serving, bounded by `timeout` (a thread that overruns is abandoned);
        a folder path means FolderSource(path). Given a `snapshot` already loaded from this
        source (by `open`, or shared by tests), nothing is loaded here. `reload_in_child`
        False parses reloads in the worker thread (a one-shot command has no chats to keep)."""
        self.source = _source(source)
        self.stale_after_days = stale_after_days
        self.timeout = timeout
        self.reload_in_child = reload_in_child
        self._lock = asyncio.Lock()
        if snapshot is None:
            pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="content-load")
            try:
                loaded, problems = pool.submit(self._load).result(timeout)
            except concurrent.futures.TimeoutError:
                raise ContentError(_timed_out(self.source.name, timeout)) from None
            finally:
                pool.shutdown(wait=False)
            if loaded is None:
                raise ContentError(problems)
            snapshot = loaded
        self._snapshot = snapshot

    @classmethod
    async def open(cls, source: ContentSource | Path, stale_after_days: int = 180,
                   timeout: float = LOAD_TIMEOUT) -> ContentStore:
        """The store, loaded in a worker thread so that a running event loop keeps serving
        (the bot's start-up); raises ContentError with the problems if it does not load."""
        source = _source(source)
        try:
            snapshot, problems = await asyncio.wait_for(asyncio.to_thread(
                load_from, source, stale_after_days=stale_after_days), timeout)
        except TimeoutError:
            raise ContentError(_timed_out(source.name, timeout)) from None
        if snapshot is None:
            raise ContentError(problems)
        return cls(source, stale_after_days, timeout, snapshot=snapshot)

    def _load(self) -> Loaded:
        return load_from(self.source, stale_after_days=self.stale_after_days)

    def _reload(self) -> Loaded:
        if not self.reload_in_child:
            return self._load()
        return parse_in_child(self.source.read(), self.stale_after_days, self.timeout)

    @property
    def snapshot(self) -> ContentSnapshot:
        return self._snapshot

    async def reload(self) -> tuple[bool, list[Problem]]:
        """Read and validate the source again off the event loop; replace the snapshot only if
        it has no errors. Returns whether it was applied and every problem found (warnings
        too)."""
        async with self._lock:  # two /reload at once: the second waits, then loads again
            try:
                snapshot, problems = await asyncio.wait_for(asyncio.to_thread(self._reload),
                                                            self.timeout)
            except TimeoutError:
                return False, _timed_out(self.source.name, self.timeout)
            if snapshot is None:
                return False, problems
            self._snapshot = snapshot  # one assignment: readers see the old or the new, whole
            return True, problems
