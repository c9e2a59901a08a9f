"""The published content as the workspace sees it: its version id and files, the history,
publishing and rollback. With content versions in the database (bot/content/versions.py)
this is them; `FolderContent` serves a bot that reads the folder, which can be browsed and
drafted on but not published from the browser."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.context import Services
from bot.workspace.store import Editor


@dataclass(frozen=True)
class VersionRow:
    id: str
    parent_id: str | None
    author_name: str
    created_at: datetime
    note: str


class Published(Protocol):
    async def current(self) -> tuple[str, dict[str, bytes]]: ...

    async def files(self, version: str) -> dict[str, bytes]: ...

    async def history(self, limit: int) -> list[VersionRow]: ...

    async def publish(self, files: Mapping[str, bytes], *, editor: Editor, note: str,
                      parent: str) -> str: ...

    async def rollback(self, version: str, *, editor: Editor, note: str) -> str: ...


class PublishingUnavailable(RuntimeError):
    """The bot serves a folder: publish with git and /reload instead."""


class FolderContent:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def current(self) -> tuple[str, dict[str, bytes]]:
        store = self.services.content
        return store.snapshot.version, dict(store.source.read().files)

    async def files(self, version: str) -> dict[str, bytes]:
        return (await self.current())[1]

    async def history(self, limit: int) -> list[VersionRow]:
        return []

    async def publish(self, files: Mapping[str, bytes], *, editor: Editor, note: str,
                      parent: str) -> str:
        raise PublishingUnavailable("content versions are not available")

    async def rollback(self, version: str, *, editor: Editor, note: str) -> str:
        raise PublishingUnavailable("content versions are not available")


def published_content(services: Services) -> Published:
    return FolderContent(services)
