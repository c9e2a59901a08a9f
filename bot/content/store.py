"""The ContentStore holds the snapshot the bot serves and swaps it whole on a good reload.

The UI catalogs are loaded and checked with the content and made the ones served at the same
moment (`bot.i18n.activate`), so /reload picks up a translator's change or refuses their typo.

Loading runs in a worker thread with a time limit, so a slow disk or a huge folder never
freezes the chats: on failure or timeout the last good snapshot stays and the problems say why.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from pathlib import Path

from bot import i18n
from bot.content.loader import load_content
from bot.content.model import ContentSnapshot, Problem

LOAD_TIMEOUT = 30.0  # seconds; the real folder loads in well under one


class ContentError(Exception):
    """Content failed validation; `problems` say where."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or "content failed to load")


def _timed_out(content_dir: Path, timeout: float) -> list[Problem]:
    return [Problem(str(content_dir), 1, f"loading took more than {timeout:g} s; nothing was "
                    "changed", "error", "loading took more than {seconds} s; nothing was changed",
                    (("seconds", f"{timeout:g}"),))]


class ContentStore:
    def __init__(self, content_dir: Path, stale_after_days: int = 180,
                 timeout: float = LOAD_TIMEOUT, locales_dir: Path | None = None) -> None:
        """Load before serving, bounded by `timeout` (a thread that overruns is abandoned)."""
        self.content_dir = content_dir
        self.locales_dir = locales_dir
        self.stale_after_days = stale_after_days
        self.timeout = timeout
        self._lock = asyncio.Lock()
        pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="content-load")
        try:
            snapshot, problems = pool.submit(self._load).result(timeout)
        except concurrent.futures.TimeoutError:
            raise ContentError(_timed_out(content_dir, timeout)) from None
        finally:
            pool.shutdown(wait=False)
        if snapshot is None:
            raise ContentError(problems)
        self._use(snapshot)

    def _load(self) -> tuple[ContentSnapshot | None, list[Problem]]:
        return load_content(self.content_dir, stale_after_days=self.stale_after_days,
                            locales_dir=self.locales_dir)

    def _use(self, snapshot: ContentSnapshot) -> None:
        self._snapshot = snapshot
        i18n.activate(snapshot.catalogs)

    @property
    def snapshot(self) -> ContentSnapshot:
        return self._snapshot

    async def reload(self) -> tuple[bool, list[Problem]]:
        """Validate the folder again off the event loop; replace the snapshot only if it has no
        errors. Returns whether it was applied and every problem found (warnings too)."""
        async with self._lock:  # two /reload at once: the second waits, then loads again
            try:
                snapshot, problems = await asyncio.wait_for(asyncio.to_thread(self._load),
                                                            self.timeout)
            except TimeoutError:
                return False, _timed_out(self.content_dir, self.timeout)
            if snapshot is None:
                return False, problems
            self._use(snapshot)
            return True, problems
