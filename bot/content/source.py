"""Where content comes from: a source reads the whole content tree as `(name, bytes)` pairs.

The loader (bot/content/loader.py) only parses what a source read and never opens a file, so
the same checks and the same snapshot come from the folder today and from a content version in
the database later (a version is all files of the tree, so a `ContentFiles` is one version).

Names are relative POSIX paths such as "ru/russia.md" and "contacts.yaml"; problems are shown
as `<source name>/<file name>:<line>`, so for the folder `content/` they read
`content/ru/russia.md:4: …`, the paths an editor sees.

The folder source keeps every hostile-file rule in one place:
- only regular files: a FIFO would block the reader forever, a device could be endless, and a
  symbolic link could point anywhere on the machine. Every symbolic link inside the folder is
  refused (rather than resolved and checked), so what is served is exactly what lies in it;
- a size cap per file, checked before reading and enforced while reading;
- the tree is the folder and one level of subfolders (the languages), at most MAX_ENTRIES
  entries, so a folder of millions of files is one problem line, not a long stall.
Nothing raises: an entry that cannot be read is kept, with why, in `unreadable`.

The UI catalogs (bot/locales/<xx>/LC_MESSAGES/messages.po) are read by CatalogSource with the
same rules, so the loader checks them with the content without opening them either.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from bot import REPO_ROOT
from bot.content.yamlfile import DATA_LIMIT, TOPIC_LIMIT, Located
from bot.languages import CODE_RE

MAX_ENTRIES = 10_000  # the real tree has about a hundred files
ROOT = ""  # the name of the tree itself in `unreadable`: the folder is missing, say


def size_limit(name: str) -> int:
    """The most bytes read of one file: a topic is a few kilobytes, data files more."""
    return TOPIC_LIMIT if name.endswith(".md") else DATA_LIMIT


@dataclass(frozen=True)
class ContentFiles:
    """One complete content tree, as read from a source."""

    name: str  # the display name problems start with: "content" for the folder content/
    files: Mapping[str, bytes]  # tree name -> the file's bytes
    # Entries that exist but were not read, and why (a link, a pipe, too big, a subfolder).
    unreadable: Mapping[str, Located] = field(default_factory=dict)


class ContentSource(Protocol):
    """Anything that can read a content tree: the folder today, a database version later."""

    @property
    def name(self) -> str: ...

    def read(self) -> ContentFiles: ...


class StaticSource:
    """A tree already read (a content version fetched from the database, say)."""

    def __init__(self, tree: ContentFiles) -> None:
        self.tree = tree

    @property
    def name(self) -> str:
        return self.tree.name

    def read(self) -> ContentFiles:
        return self.tree


class FolderSource:
    """The content folder on disk (JOL_CONTENT_DIR)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(os.path.abspath(path))

    @property
    def name(self) -> str:
        return self.path.name

    def __repr__(self) -> str:
        return f"FolderSource({str(self.path)!r})"

    def read(self) -> ContentFiles:
        files: dict[str, bytes] = {}
        unreadable: dict[str, Located] = {}
        # The folder itself may be a link an operator made (JOL_CONTENT_DIR=/srv/content);
        # everything inside it must be real.
        if not self.path.is_dir():
            unreadable[ROOT] = Located(1, "content folder does not exist")
            return ContentFiles(self.name, files, unreadable)
        entries = 0
        for top in _entries(self.path):
            for path, name in [(top, top.name), *((sub, f"{top.name}/{sub.name}")
                                                  for sub in _subfolder(top))]:
                entries += 1
                if entries > MAX_ENTRIES:
                    unreadable[ROOT] = Located(1, "more than {limit} files in the content "
                                               "folder: remove what is not content",
                                               {"limit": MAX_ENTRIES})
                    return ContentFiles(self.name, files, unreadable)
                if path is top and _is_folder(top):
                    continue  # a language folder: its files follow
                read = read_regular(path, size_limit(name))
                if isinstance(read, Located):
                    unreadable[name] = read
                else:
                    files[name] = read
        return ContentFiles(self.name, files, unreadable)


def catalog_name(lang: str) -> str:
    """A language's UI catalog, named in the catalogs' tree."""
    return f"{lang}/LC_MESSAGES/messages.po"


class CatalogSource:
    """The UI catalogs folder (bot/locales): the catalog of each language folder in it, named
    `catalog_name(lang)`; a language folder without one is simply absent from the tree."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(os.path.abspath(path))

    @property
    def name(self) -> str:
        """"bot/locales" for the bot's own, so problems show the path a translator edits."""
        if self.path.is_relative_to(REPO_ROOT):
            return self.path.relative_to(REPO_ROOT).as_posix()
        return self.path.name

    def __repr__(self) -> str:
        return f"CatalogSource({str(self.path)!r})"

    def read(self) -> ContentFiles:
        files: dict[str, bytes] = {}
        unreadable: dict[str, Located] = {}
        for folder in _entries(self.path)[:MAX_ENTRIES]:
            if not (CODE_RE.match(folder.name) and _is_folder(folder)):
                continue
            name = catalog_name(folder.name)
            path = self.path / name
            if not os.path.lexists(path):
                continue
            read = read_regular(path, DATA_LIMIT)
            if isinstance(read, Located):
                unreadable[name] = read
            else:
                files[name] = read
        return ContentFiles(self.name, files, unreadable)


def _entries(folder: Path) -> list[Path]:
    """The folder's entries by name, without hidden ones (.git, an editor's swap files)."""
    try:
        return sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    except OSError:
        return []


def _is_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def _subfolder(top: Path) -> list[Path]:
    return _entries(top) if _is_folder(top) else []


def read_regular(path: Path, limit: int) -> bytes | Located:
    """The bytes of a regular file of at most `limit` bytes, or why it cannot be read."""
    try:
        info = os.lstat(path)
    except OSError as error:
        return Located(1, "cannot read the file: {reason}", {"reason": error.strerror})
    if stat.S_ISLNK(info.st_mode):
        return Located(1, "a symbolic link is not read: put the file itself in the content folder")
    if stat.S_ISDIR(info.st_mode):
        return Located(1, "this is a folder, not a file: rename or remove it")
    if not stat.S_ISREG(info.st_mode):
        return Located(1, "not a regular file (a pipe or a device): remove it")
    if info.st_size > limit:
        return too_big(info.st_size, limit)
    try:
        # O_NONBLOCK and O_NOFOLLOW: if the file was swapped for a FIFO or a link after lstat,
        # opening it neither waits for a writer nor follows the link.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        return Located(1, "cannot read the file: {reason}", {"reason": error.strerror})
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            return Located(1, "not a regular file (a pipe or a device): remove it")
        data = file.read(limit + 1)
    if len(data) > limit:
        return too_big(len(data), limit)
    return data


def too_big(size: int, limit: int) -> Located:
    return Located(1, "the file is {size} KB; at most {limit} KB is read: split it",
                   {"size": size // 1024, "limit": limit // 1024})


TREE_NAME_RE = re.compile(r"[^/.][^/]*(/[^/.][^/]*)?")  # "contacts.yaml", "ru/russia.md"


def is_tree_name(name: str) -> bool:
    """A name FolderSource can produce: a file of the folder or of one subfolder, not hidden,
    no "..", no absolute path. Anything else (a version written by other means) is refused."""
    return TREE_NAME_RE.fullmatch(name) is not None and "\\" not in name and "\0" not in name


def write_folder(files: Mapping[str, bytes], path: Path) -> list[str]:
    """Make the folder `path` hold exactly `files` (`jol content export`, for git): each file
    written whole (a temporary file renamed over it), and the files FolderSource would read
    there that `files` lacks removed; returns those removed. Hidden entries (.git) stay."""
    bad = sorted(name for name in files if not is_tree_name(name))
    if bad:
        raise ValueError(f"not a content file name: {bad[0]!r}")
    path.mkdir(parents=True, exist_ok=True)
    for name, data in sorted(files.items()):
        target = path / name
        target.parent.mkdir(exist_ok=True)
        temporary = target.with_name(f".{target.name}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)
    removed = sorted(set(FolderSource(path).read().files) - set(files))
    for name in removed:
        (path / name).unlink()
    return removed
