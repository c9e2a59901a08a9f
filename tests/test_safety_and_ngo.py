"""Clear-this-chat, live reload and freshness.

Self-check: tests/test_selfcheck.py; statistics (/stats, gap words): test_privacy_stats.py."""

from __future__ import annotations

import re
from pathlib import Path

from bot.context import RecentMessages
from tests.helpers import real_snapshot, running_bot

ADMIN = 4242
REAL = real_snapshot()


async def test_clear_this_chat_deletes_what_it_can(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/start")
        await user.send("паспорт")
        await user.send("корея")
        bot.telegram.chats[user.user_id].messages[2].deleted = True  # already gone
        old = bot.telegram.chats[user.user_id].messages[4]
        old.date -= 49 * 3600  # older than Telegram's 48 hours
        await user.send("/start")
        await user.press("🛡 Безопасность")
        confirm = await user.press("🧹 Очистить этот чат")
        assert "48" in confirm.text
        await user.press("🧹 Да, удалить")
        chat = bot.telegram.chats[user.user_id]
        assert [m.text for m in chat.visible] == [old.text, "Готово."]
        assert all(m.deleted for m in chat.incoming.values())


async def test_clear_this_chat_also_deletes_what_another_replica_handled(
        tmp_path: Path) -> None:
    """Each replica remembers only its own messages; the ones between them go too."""
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/start")
        await user.send("паспорт")
        remembered = bot.services.recent.pop(user.user_id)
        # The next two messages were handled by another replica: this one never saw them.
        await user.send("корея")
        bot.services.recent.pop(user.user_id)
        for message_id in remembered:
            bot.services.recent.add(user.user_id, message_id)
        await user.send("/start")
        await user.press("🛡 Безопасность")
        await user.press("🧹 Очистить этот чат")
        await user.press("🧹 Да, удалить")
        chat = bot.telegram.chats[user.user_id]
        assert [m.text for m in chat.visible] == ["Готово."]
        assert all(m.deleted for m in chat.incoming.values())


async def test_reload_keeps_last_good_content_and_reports_the_line(
        tmp_path: Path, content_copy: Path) -> None:
    async with running_bot(tmp_path, content_copy, admin_ids=str(ADMIN)) as bot:
        admin = bot.user("ru", user_id=ADMIN)
        user = bot.user("ru")
        russia = REAL.topic("ru", "russia")
        assert russia is not None
        path = content_copy / "ru" / "russia.md"
        good = path.read_text(encoding="utf-8")
        path.write_text(good.replace("order: 10", "order: [10"), encoding="utf-8")
        reply = await admin.send("/reload")
        assert reply.text.startswith("Контент НЕ обновлён")
        # The editor reads the problem in the chat's language, as `jol content check` prints it.
        assert re.search(r"content/ru/russia\.md:\d+: error: список открыт здесь скобкой '\['",
                         reply.text)
        screen = await user.send("/start russia")
        assert screen.text.startswith(russia.title)  # still the previous content

        path.write_text(good.replace(f"title: {russia.title}", "title: Россия 2026"),
                        encoding="utf-8")
        reply = await admin.send("/reload")
        assert reply.text.startswith("Контент обновлён")
        assert (await user.send("/start russia")).text.startswith("Россия 2026")

        (content_copy / "ru" / "uae.md").unlink()
        (content_copy / "ky" / "uae.md").unlink()
        assert (await admin.send("/reload")).text.startswith("Контент обновлён")
        await user.send("/start")
        stale = await user.press_data("t:uae")
        assert user.chat.callback_answers[-1] == "Эта кнопка устарела."
        assert stale.text.startswith("Главное меню")


async def test_admin_commands_are_unknown_to_others(tmp_path: Path) -> None:
    async with running_bot(tmp_path, admin_ids=str(ADMIN)) as bot:
        for command in ("/stats", "/reload", "/content"):
            reply = await bot.user("ru").send(command)
            assert reply.text.startswith("Я не знаю такой команды"), command
        content = await bot.user("ru", user_id=ADMIN).send("/content")
        assert content.text.startswith(f"Версия контента {REAL.version}")
        # Uzbek is partial: its Russian topics are a note to read, not a warning to fix.
        assert "предупреждений — 0." in content.text
        assert "content/uz:1: note: 'uz' — неполный язык" in content.text


def test_recent_messages_keep_a_range_per_chat_bounded_in_chats_and_span() -> None:
    recent = RecentMessages(max_chats=2, span=10)
    for message_id in (7, 5, 9):  # in any order
        recent.add(1, message_id)
    assert list(recent.pop(1)) == [5, 6, 7, 8, 9]
    assert list(recent.pop(1)) == []  # popped: a second clear finds nothing
    for message_id in range(100, 400):  # a long conversation: still one int
        recent.add(2, message_id)
    assert list(recent.pop(2)) == list(range(389, 400))  # at most `span` below the newest
    for chat in (3, 4, 5):
        recent.add(chat, 1)
    assert list(recent.pop(3)) == []  # the least recently seen chat was let go
    assert list(recent.pop(5)) == [1]
