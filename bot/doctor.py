"""`jol doctor`: check the configuration before a start and say what to fix; change nothing.

Each check prints one line: `ok …`, `warning …`, or `PROBLEM … → what to do`. The exit code
is 1 when there is a problem. The token and the secrets are never printed, only their shape:
a doctor's output gets pasted into chats and tickets.
"""

from __future__ import annotations

import asyncio
import errno
import re
import socket
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlparse

from bot import db
from bot.content.loader import load_from
from bot.content.source import FolderSource
from bot.db.secret import secret_beside_database
from bot.settings import Settings, SettingsError

# What @BotFather hands out: the bot's numeric id, a colon, 35 characters.
TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]{35}")
MIN_SECRET_LENGTH = 16

Verdict = Literal["ok", "warning", "PROBLEM"]


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    subject: str
    detail: str
    fix: str = ""

    def __str__(self) -> str:
        fix = f" → {self.fix}" if self.fix else ""
        return f"{self.verdict} {self.subject}: {self.detail}{fix}"


def check_token(settings: Settings) -> Iterator[Finding]:
    if not settings.token:
        yield Finding("PROBLEM", "token", "TELEGRAM_BOT_TOKEN is not set",
                      "get a token from @BotFather and set TELEGRAM_BOT_TOKEN")
    elif not TOKEN_SHAPE.fullmatch(settings.token):
        yield Finding("PROBLEM", "token",
                      f"TELEGRAM_BOT_TOKEN ({len(settings.token)} characters) is not shaped "
                      "like <digits>:<35 characters of A-Za-z0-9_->",
                      "copy it again from @BotFather, without quotes or spaces")
    else:
        yield Finding("ok", "token", "TELEGRAM_BOT_TOKEN is set and shaped like a bot token")


def check_database(settings: Settings) -> Iterator[Finding]:
    url = db.shown_url(settings.database_url)  # Settings already refuse an unsupported one
    database_file = db.sqlite_file(settings.database_url)
    if database_file is not None and not database_file.exists():
        # Connecting would create the file; the doctor changes nothing.
        yield Finding("PROBLEM", "database", f"{url}: the file does not exist yet",
                      "run `jol db upgrade` (or `jol run`, which creates it)")
        return
    try:
        version = asyncio.run(db.schema_version(settings.database_url))
    except SettingsError as error:
        yield Finding("PROBLEM", "database", str(error),
                      "check JOL_DATABASE_URL and that the database is running")
        return
    if version == db.schema_head():
        yield Finding("ok", "database", f"{url} answers, schema {version} (up to date)")
    elif version is None:
        yield Finding("PROBLEM", "database", f"{url} answers but was never migrated",
                      "run `jol db upgrade`")
    else:
        yield Finding("PROBLEM", "database",
                      f"{url} is at schema {version}, this jol expects {db.schema_head()}",
                      "run `jol db upgrade` (if that fails, this jol is older than the "
                      "database: upgrade jol)")


def check_content(settings: Settings) -> Iterator[Finding]:
    snapshot, problems = load_from(FolderSource(settings.content_dir),
                                   stale_after_days=settings.stale_after_days)
    errors = sum(p.severity == "error" for p in problems)
    warnings = sum(p.severity == "warning" for p in problems)  # a note is no problem
    counts = f"{errors} errors, {warnings} warnings"
    if snapshot is None or errors:
        yield Finding("PROBLEM", "content", f"{settings.content_dir}: {counts}",
                      "run `jol content check` and fix each line it prints")
    elif warnings:
        yield Finding("warning", "content", f"{settings.content_dir}: {counts}",
                      "see `jol content check`")
    else:
        yield Finding("ok", "content",
                      f"{settings.content_dir}: {len(snapshot.topic_ids())} topics, {counts}")


def check_secret(settings: Settings) -> Iterator[Finding]:
    if settings.secret:
        length = len(settings.secret.strip())
        if length < MIN_SECRET_LENGTH:
            yield Finding("PROBLEM", "secret",
                          f"JOL_SECRET is only {length} characters: it can be guessed",
                          "use 64 random hex characters (`python3 -c 'import secrets; "
                          "print(secrets.token_hex(32))'`); chats will be asked their "
                          "language once more")
        else:
            yield Finding("ok", "secret", f"from JOL_SECRET ({length} characters)")
        return
    path = db.secret_location(settings.secret_file, settings.database_url)
    if path != settings.secret_file:
        yield Finding("PROBLEM", "secret", f"the old {path} sits beside the database",
                      f"`mkdir -p {settings.secret_file.parent} && "
                      f"mv {path} {settings.secret_file}`, or set JOL_SECRET_FILE / JOL_SECRET")
        return
    if secret_beside_database(path, settings.database_url):
        yield Finding("PROBLEM", "secret", f"{path} is in the same folder as the database",
                      "set JOL_SECRET_FILE to a place apart from the database (and move the "
                      "file there), or set JOL_SECRET")
        return
    if not path.exists():
        yield Finding("ok", "secret",
                      f"{path} does not exist yet; `jol run` generates it there (0600)")
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        yield Finding("PROBLEM", "secret", f"{path} has permissions {mode:o}",
                      f"run: chmod 600 {path}")
    else:
        yield Finding("ok", "secret", f"from {path} (permissions {mode:o}), apart from the "
                      "database")


def check_webhook(settings: Settings) -> Iterator[Finding]:
    if not settings.webhook_url:
        yield Finding("ok", "webhook", "JOL_WEBHOOK_URL unset: long polling")
        return
    url = urlparse(settings.webhook_url)  # Settings already refuse a URL that is not https
    if url.path in ("", "/"):
        yield Finding("PROBLEM", "webhook", f"JOL_WEBHOOK_URL {url.hostname} has no path",
                      "add one, e.g. https://your.domain/telegram (the bot listens on it)")
    else:
        yield Finding("ok", "webhook", f"https://{url.netloc}{url.path}, the bot listens on "
                      f"{url.path}")
    secret = settings.webhook_secret or ""
    # Settings already refuse a missing or malformed secret; Telegram also caps its length.
    if not 1 <= len(secret) <= 256:
        yield Finding("PROBLEM", "webhook secret", f"{len(secret)} characters",
                      "set JOL_WEBHOOK_SECRET to 1–256 characters of A-Za-z0-9_-")
    else:
        yield Finding("ok", "webhook secret", f"set ({len(secret)} characters of A-Za-z0-9_-)")


def check_admins(settings: Settings) -> Iterator[Finding]:
    if settings.admin_ids:
        yield Finding("ok", "admins", f"{len(settings.admin_ids)} in JOL_ADMIN_IDS")
    else:
        yield Finding("warning", "admins", "JOL_ADMIN_IDS is empty: nobody can /reload or "
                      "see /stats in Telegram", "add the NGO staff's Telegram user ids")


def check_http(settings: Settings) -> Iterator[Finding]:
    host, port = settings.http_host, settings.http_port  # Settings checked the port's range
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            yield Finding("warning", "http", f"{host}:{port} is in use",
                          "fine if this bot is running; otherwise stop the other program or "
                          "set JOL_HTTP_PORT")
        else:
            yield Finding("PROBLEM", "http", f"cannot listen on {host}:{port} "
                          f"({error.strerror or error})", "fix JOL_HTTP_HOST / JOL_HTTP_PORT")
        return
    yield Finding("ok", "http", f"{host}:{port} is free")


CHECKS: tuple[Callable[[Settings], Iterator[Finding]], ...] = (
    check_token, check_database, check_content, check_secret, check_webhook, check_admins,
    check_http,
)


def _report(findings: list[Finding]) -> int:
    for finding in findings:
        print(finding)
    problems = sum(f.verdict == "PROBLEM" for f in findings)
    print(f"{problems} problem{'s' if problems > 1 else ''}" if problems else "no problems")
    return 1 if problems else 0


def doctor(settings: Settings) -> int:
    """Run every check and print one line each; 0 when nothing is a problem, else 1."""
    return _report([finding for check in CHECKS for finding in check(settings)])


def unreadable_settings(error: SettingsError) -> int:
    """The environment itself does not parse: that is the one thing to fix first."""
    return _report([Finding("PROBLEM", "configuration", str(error),
                            "fix that variable, then run `jol doctor` again")])
