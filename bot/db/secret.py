"""The HMAC key for chat languages: from JOL_SECRET, or a 0600 file apart from the database."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from bot.db.engine import sqlite_file
from bot.settings import SettingsError

LEGACY_SECRET_FILE_NAME = "jol.secret"


class SecretUnusable(SettingsError):
    """The key file cannot be read or created; the message says which file and what to do."""


def legacy_secret_path(database_url: str) -> Path:
    """Where versions before JOL_SECRET_FILE generated the key: beside a SQLite file, else in
    the working directory. Still read (with a warning) so no deployment loses its languages."""
    path = sqlite_file(database_url)
    folder = path.parent if path is not None else Path.cwd()
    return folder / LEGACY_SECRET_FILE_NAME


def secret_location(secret_file: Path, database_url: str) -> Path:
    """The file the key comes from: JOL_SECRET_FILE, or an old `jol.secret` while the
    configured file does not exist yet."""
    if not secret_file.exists():
        legacy = legacy_secret_path(database_url)
        if legacy.exists():
            return legacy
    return secret_file


def secret_beside_database(path: Path, database_url: str) -> bool:
    """Whether the key file shares a folder with the SQLite database (a copy takes both)."""
    database = sqlite_file(database_url)
    return database is not None and path.resolve().parent == database.resolve().parent


def _write_new_secret(path: Path) -> bool:
    """Create the secret file atomically with 0600; False if another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # exactly 0600 whatever the umask
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        # A hard link never replaces an existing file, so two starting processes agree.
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _read_secret(path: Path) -> bytes:
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise SecretUnusable(
            f"{path} is empty; delete it to generate a new secret, or set JOL_SECRET")
    return value.encode("utf-8")


def load_or_create_secret(secret: str | None, secret_file: Path,
                          database_url: str) -> tuple[bytes, list[str]]:
    """The HMAC key for chat languages, and one-line warnings for the log at start.

    JOL_SECRET wins. Otherwise the key file (32 random bytes as hex) is read, or created
    once with 0600 at `secret_file` (JOL_SECRET_FILE). The key is the UTF-8 text itself, so
    copying the file's content into JOL_SECRET keeps every stored language.
    """
    if secret:
        return secret.strip().encode("utf-8"), []
    path = secret_file
    notices: list[str] = []
    try:
        path = secret_location(secret_file, database_url)
        if not path.exists() and _write_new_secret(path):
            notices.append(
                f"Generated a new secret for chat-language keys in {path.resolve()} "
                "(permissions 0600). Keep it apart from the database, or set JOL_SECRET; if "
                "it is lost, the bot only forgets which language each chat chose.")
        key = _read_secret(path)
        mode = path.stat().st_mode
    except OSError as error:
        raise SecretUnusable(
            f"cannot use the secret file {path} ({error.strerror or error}): set "
            "JOL_SECRET_FILE to a writable place apart from the database, or set JOL_SECRET"
        ) from None
    if path != secret_file:
        notices.append(
            f"Using the old secret {path}; move it out of the database's folder, e.g. "
            f"`mkdir -p {secret_file.parent} && mv {path} {secret_file}` "
            "(or set JOL_SECRET_FILE / JOL_SECRET).")
    elif secret_beside_database(path, database_url):
        notices.append(
            f"The secret {path} is in the same folder as the database: a copy of that folder "
            "can turn stored keys back into chat ids. Move it and set JOL_SECRET_FILE.")
    if mode & 0o077:
        notices.append(f"{path} is readable by other users; run: chmod 600 {path}")
    return key, notices
