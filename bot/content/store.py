"""The ContentStore holds the snapshot the bot serves and swaps it whole on a good reload."""

from __future__ import annotations

from pathlib import Path

from bot.content.loader import load_content
from bot.content.model import ContentSnapshot, Problem


class ContentError(Exception):
    """Content failed validation; `problems` say where."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        errors = [p for p in problems if p.severity == "error"]
        super().__init__("\n".join(str(p) for p in errors) or "content failed to load")


class ContentStore:
    def __init__(self, content_dir: Path, stale_after_days: int = 180) -> None:
        self.content_dir = content_dir
        self.stale_after_days = stale_after_days
        snapshot, problems = load_content(content_dir, stale_after_days=stale_after_days)
        if snapshot is None:
            raise ContentError(problems)
        self._snapshot = snapshot

    @property
    def snapshot(self) -> ContentSnapshot:
        return self._snapshot

    def reload(self) -> tuple[bool, list[Problem]]:
        """Validate the folder again; replace the snapshot only if it has no errors.

        Returns whether it was applied and every problem found (warnings too).
        """
        snapshot, problems = load_content(self.content_dir, stale_after_days=self.stale_after_days)
        if snapshot is None:
            return False, problems
        self._snapshot = snapshot
        return True, problems
