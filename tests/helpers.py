"""Drive the real Application in process: a conversation reads like what a user does.

What every test would otherwise build again is built once per test process and shared: the
real content, parsed (its snapshot is immutable), and a migrated SQLite file that each bot
gets a copy of instead of running the migrations.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import shutil
import tempfile
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from bot import REPO_ROOT
from bot.app import JolApplication, build_application
from bot.buttons import Button
from bot.content.model import ContentSnapshot
from bot.content.store import ContentStore
from bot.context import Services
from bot.db import create_engine, sqlite_file, upgrade
from bot.fake_telegram import BotAPIError, FakeTelegram, LocalRequest, LocalUser, _parse_markup
from bot.services import open_services
from bot.settings import Settings

REAL_CONTENT = REPO_ROOT / "content"
_STALE_AFTER_DAYS = Settings.from_env({}).stale_after_days  # the default setting


@functools.cache
def real_snapshot() -> ContentSnapshot:
    """The repository's content, parsed once per test process; read-only, like the bot's."""
    return ContentStore(REAL_CONTENT, _STALE_AFTER_DAYS).snapshot


def content_store(settings: Settings) -> ContentStore:
    """A store of its own for one bot (a /reload swaps only its snapshot); for the real
    content it starts from the shared snapshot instead of parsing the folder again."""
    if settings.content_dir == REAL_CONTENT and settings.stale_after_days == _STALE_AFTER_DAYS:
        return ContentStore(REAL_CONTENT, _STALE_AFTER_DAYS, snapshot=real_snapshot())
    return ContentStore(settings.content_dir, settings.stale_after_days)


_template: list[Path] = []  # the migrated SQLite file, made on first use


def _migrated_template() -> Path:
    """The migrated SQLite file, made once per test process, in a thread of its own: callers
    may be inside a running event loop (the browser tests' sync Playwright keeps one)."""
    if not _template:
        folder = Path(tempfile.mkdtemp(prefix="jol-schema-"))
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        url = f"sqlite+aiosqlite:///{folder / 'jol.sqlite3'}"
        with ThreadPoolExecutor(1) as thread:
            thread.submit(asyncio.run, upgrade(url)).result()
        _template.append(folder / "jol.sqlite3")
    return _template[0]


def migrated_sqlite_url(path: Path) -> str:
    """A SQLite database at `path` at the newest schema (a copy of one migrated file); its URL.
    A `jol run` started on it finds the schema current and spawns no migration child, which
    spares each such test a second of CPU; the tests of migrating at start use empty files."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_migrated_template(), path)
    return f"sqlite+aiosqlite:///{path}"


async def migrated_sqlite(path: Path) -> str:
    """migrated_sqlite_url for coroutines: the first copy is made without blocking the loop."""
    if not _template:
        await asyncio.to_thread(_migrated_template)
    return migrated_sqlite_url(path)


def metric(name: str, **labels: str) -> float:
    """A sample of this process's metrics, 0 when it was never exported."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Services]:
    """open_services with the shared parts: the parsed content and, for a SQLite file not yet
    made, a copy of the migrated one instead of running the migrations."""
    database = sqlite_file(settings.database_url)
    if database is None or database.exists():
        async with open_services(settings, content=content_store(settings)) as services:
            yield services
        return
    engine = create_engine(await migrated_sqlite(database))
    try:
        async with open_services(settings, content=content_store(settings),
                                 engine=engine) as services:
            yield services
    finally:
        await engine.dispose()


class Harness:
    def __init__(self, telegram: FakeTelegram, application: JolApplication,
                 services: Services) -> None:
        self.telegram = telegram
        self.application = application
        self.services = services
        self._next_user = 1000

    def user(self, language_code: str | None = "ru", user_id: int | None = None,
             first_name: str = "Test") -> LocalUser:
        if user_id is None:
            self._next_user += 1
            user_id = self._next_user
        return LocalUser(self.telegram, self.application, user_id,
                         language_code=language_code, first_name=first_name)


class ButtonCheckingTelegram(FakeTelegram):
    """Notes every button the bot sends whose data is of no declared kind (bot.buttons): such
    a button would only ever answer "out of date". running_bot fails the test on any."""

    def __init__(self) -> None:
        super().__init__()
        self.undeclared_buttons: list[str] = []

    def call(self, method: str, params: dict[str, Any]) -> Any:
        try:
            rows = _parse_markup(params.get("reply_markup"))
        except BotAPIError:
            rows = []  # refused below, as Telegram refuses it
        for row in rows:
            self.undeclared_buttons += [data for _, data in row if Button.parse(data) is None
                                        and not data.startswith(("https:", "tg:"))]
        return super().call(method, params)


@asynccontextmanager
async def running_bot(tmp_path: Path, content_dir: Path | None = None,
                      admin_ids: str = "", **env: str) -> AsyncIterator[Harness]:
    environment = {
        "JOL_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'jol.sqlite3'}",
        "JOL_SECRET": "test-secret",
        "JOL_ADMIN_IDS": admin_ids,
        "JOL_STATS_FLUSH_SECONDS": "3600",
        **env,
    }
    if content_dir is not None:
        environment["JOL_CONTENT_DIR"] = str(content_dir)
    settings = Settings.from_env(environment)
    telegram = ButtonCheckingTelegram()
    async with serving(settings) as services:
        application = build_application(services, request=LocalRequest(telegram),
                                        rate_limiter=False)
        async with application:
            assert application.post_init is not None
            await application.post_init(application)
            yield Harness(telegram, application, services)
    assert telegram.undeclared_buttons == [], "buttons of no declared kind were sent"
