"""Database faults are visible and honest (issue 10, item 10); presses that carry no chat or no
data are answered."""

from __future__ import annotations

from pathlib import Path

from bot import events
from bot.db import create_engine
from tests.helpers import running_bot
from tests.test_web import webhook

DEAD_DATABASE = "postgresql+asyncpg://jol@127.0.0.1:1/jol"  # nothing listens on port 1


async def test_healthz_says_503_when_the_sqlite_file_is_deleted(tmp_path: Path) -> None:
    async with webhook(tmp_path) as (_bot, client):
        assert (await client.get("/healthz")).status == 200
        for suffix in ("", "-wal", "-shm"):
            (tmp_path / f"jol.sqlite3{suffix}").unlink(missing_ok=True)
        answer = await client.get("/healthz")
        assert answer.status == 503
        assert (await answer.json())["reason"] == "database file missing, replaced or not writable"


async def test_healthz_says_503_when_counts_wait_unwritten(tmp_path: Path) -> None:
    async with webhook(tmp_path) as (bot, client):
        stats = bot.services.stats
        stats.count(events.START)
        stats._oldest = (stats._oldest or 0) - 100_000  # a day of failed flushes
        answer = await client.get("/healthz")
        assert answer.status == 503
        assert "statistics are waiting" in (await answer.json())["reason"]


async def test_new_users_get_the_language_picker_while_the_database_is_down(
        tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        dead = create_engine(DEAD_DATABASE)
        bot.services.memory._engine = dead
        try:
            unknown = await bot.user(language_code="en").send("/start")
            assert unknown.text == "Тилди тандаңыз / Выберите язык / Tilni tanlang"
            assert unknown.button_labels == ["Кыргызча", "Русский", "Oʻzbekcha"]
            kyrgyz = await bot.user(language_code="ky").send("/start")
            assert kyrgyz.text.startswith("Башкы меню")
        finally:
            await dead.dispose()


async def test_forget_says_plainly_it_could_not_forget_now(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user(language_code="ru")
        await user.send("/start")
        healthy = bot.services.memory._engine
        dead = create_engine(DEAD_DATABASE)
        bot.services.memory._engine = dead
        try:
            answer = await user.send("/forget")
        finally:
            bot.services.memory._engine = healthy
            await dead.dispose()
        assert answer.text == ("Сейчас не получилось удалить ваш выбор языка. "
                               "Попробуйте /forget позже.")
        assert "Меню" in " ".join(answer.button_labels)


async def test_presses_without_a_chat_or_without_data_are_answered(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        telegram = bot.telegram
        user = bot.user(language_code="ru", user_id=8101)
        await user.feed(telegram.inline_callback_update(8101, "m"))
        assert telegram.chats[8101].callback_answers == [""]  # no spinner left
        assert telegram.chats[8101].visible == []  # nothing to show it in

        menu = await user.send("/start")
        await user.feed(telegram.callback_update(8101, menu.message_id, ""))
        assert len(telegram.chats[8101].callback_answers) == 2
