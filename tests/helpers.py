"""Drive the real Application in process: a conversation reads like what a user does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.app import JolApplication, build_application
from bot.buttons import Button
from bot.context import Services
from bot.fake_telegram import BotAPIError, FakeTelegram, LocalRequest, LocalUser, _parse_markup
from bot.services import open_services
from bot.settings import Settings


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
    async with open_services(settings) as services:
        application = build_application(services, request=LocalRequest(telegram),
                                        rate_limiter=False)
        async with application:
            assert application.post_init is not None
            await application.post_init(application)
            yield Harness(telegram, application, services)
    assert telegram.undeclared_buttons == [], "buttons of no declared kind were sent"
