"""The published content as the workspace sees it: its version id and files, the history,
publishing and rollback, over content versions in the database (bot/content/versions.py).

A bot serving the folder (JOL_CONTENT_SOURCE=folder, a development set-up) can be browsed and
drafted on, but publishing from the browser says that it needs the database source.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from bot.content.versions import ContentVersions, StaleParent, UnknownVersion, VersionInfo
from bot.context import Services
from bot.workspace.store import Editor

__all__ = ["StaleParent", "UnknownVersion"]


class PublishingUnavailable(RuntimeError):
    """The bot serves the folder (JOL_CONTENT_SOURCE=folder): publish with git and /reload."""


class Published(Protocol):
    async def current(self) -> tuple[str, dict[str, bytes]]: ...

    async def files(self, version: str) -> dict[str, bytes]: ...

    async def history(self, limit: int) -> list[VersionInfo]: ...

    async def publish(self, files: Mapping[str, bytes], *, editor: Editor, note: str,
                      parent: str) -> str: ...

    async def rollback(self, version: str, *, editor: Editor, note: str) -> str: ...


def _id(version: str) -> int:
    if not version.isdigit():
        raise UnknownVersion(-1)
    return int(version)


class DatabaseContent:
    """Versions in the database; after a publish this replica's store swaps at once (the
    others by NOTIFY or their poll, bot/content/published.py)."""

    def __init__(self, services: Services, versions: ContentVersions) -> None:
        self.services = services
        self.versions = versions

    async def current(self) -> tuple[str, dict[str, bytes]]:
        newest = await self.versions.newest_id()
        if newest is None:  # not seeded yet: what the store serves
            return "0", dict(self.services.content.source.read().files)
        return str(newest), dict((await self.versions.files(newest)).files)

    async def files(self, version: str) -> dict[str, bytes]:
        if version == "0":
            return (await self.current())[1]
        return dict((await self.versions.files(_id(version))).files)

    async def history(self, limit: int) -> list[VersionInfo]:
        return await self.versions.history(limit)

    async def publish(self, files: Mapping[str, bytes], *, editor: Editor, note: str,
                      parent: str) -> str:
        info = await self.versions.publish(
            files, author_id=editor.id, author_name=editor.name, note=note,
            parent_id=None if parent == "0" else _id(parent))
        await self.services.content.reload()
        return str(info.id)

    async def rollback(self, version: str, *, editor: Editor, note: str) -> str:
        info = await self.versions.rollback(_id(version), author_id=editor.id,
                                            author_name=editor.name, note=note)
        await self.services.content.reload()
        return str(info.id)


class FolderContent:
    """The folder the bot serves: browse and draft; publishing needs the database source."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def current(self) -> tuple[str, dict[str, bytes]]:
        store = self.services.content
        return "0", dict(store.source.read().files)

    async def files(self, version: str) -> dict[str, bytes]:
        return (await self.current())[1]

    async def history(self, limit: int) -> list[VersionInfo]:
        return []

    async def publish(self, files: Mapping[str, bytes], *, editor: Editor, note: str,
                      parent: str) -> str:
        raise PublishingUnavailable("JOL_CONTENT_SOURCE=folder")

    async def rollback(self, version: str, *, editor: Editor, note: str) -> str:
        raise PublishingUnavailable("JOL_CONTENT_SOURCE=folder")


def published_content(services: Services) -> Published:
    if services.versions is None:
        return FolderContent(services)
    return DatabaseContent(services, services.versions)
