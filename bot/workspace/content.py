"""The content the workspace edits: the published tree, validation with the loader, and
publishing through content versions (bot/content/versions.py).

Validation is `jol content check`'s: the loader over the whole tree with the UI catalogs, in a
worker thread (it parses for ~0.5 s), cached by the tree's bytes so a page shown twice costs
nothing the second time.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import OrderedDict
from collections.abc import Mapping

from bot import i18n
from bot.content.loader import load
from bot.content.model import ContentSnapshot, Problem
from bot.content.source import CatalogSource

CACHE = 8


class Validator:
    def __init__(self, stale_after_days: int) -> None:
        self.stale_after_days = stale_after_days
        self._cache: OrderedDict[str, tuple[ContentSnapshot | None, list[Problem]]] = (
            OrderedDict())

    async def problems(self, files: Mapping[str, bytes]) -> list[Problem]:
        """Every problem of the tree, with paths relative to it ("ru/russia.md")."""
        return (await self._loaded(files))[1]

    async def snapshot(self, files: Mapping[str, bytes]) -> ContentSnapshot | None:
        """The tree as the bot would serve it (None if it does not load): a draft's preview
        shows the draft's contacts and topics, not the published ones."""
        return (await self._loaded(files))[0]

    async def _loaded(self, files: Mapping[str, bytes]
                      ) -> tuple[ContentSnapshot | None, list[Problem]]:
        digest = hashlib.sha256()
        for name in sorted(files):
            digest.update(f"{name}\0{len(files[name])}\0".encode() + files[name])
        key = digest.hexdigest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        found = await asyncio.to_thread(self._load, dict(files))
        self._cache[key] = found
        while len(self._cache) > CACHE:
            self._cache.popitem(last=False)
        return found

    def _load(self, files: dict[str, bytes]) -> tuple[ContentSnapshot | None, list[Problem]]:
        snapshot, problems = load(files, name="", catalogs=CatalogSource(i18n.LOCALES_DIR).read(),
                                  stale_after_days=self.stale_after_days)
        return snapshot, [p.__class__(p.path.lstrip("/"), p.line, p.message, p.severity, p.key,
                                      p.values) for p in problems]


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]
