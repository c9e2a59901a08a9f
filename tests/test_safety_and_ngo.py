"""Clear-this-chat, live reload, freshness and the gap report (self-check: test_selfcheck.py)."""

from __future__ import annotations

import re
from pathlib import Path

from bot.content.loader import load_content
from bot.content.search import gap_words
from bot.stats.reports import gap_words as gap_report
from tests.conftest import REAL_CONTENT
from tests.helpers import running_bot

ADMIN = 4242
REAL = load_content(REAL_CONTENT)[0]
assert REAL is not None


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
        assert re.search(r"content/ru/russia\.md:\d+: error: a list opened with '\[' here is "
                         r"not closed", reply.text)
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


async def test_admin_stats_summary_chart_and_csv(tmp_path: Path) -> None:
    async with running_bot(tmp_path, admin_ids=str(ADMIN)) as bot:
        for _ in range(6):
            user = bot.user("ky")
            await user.send("/start russia--osh")
            await user.send("куурчак тоолордо")  # nothing found: its words are counted
        await bot.user("ru").send("/start korea")
        admin = bot.user("ru", user_id=ADMIN)
        await admin.send("/stats")
        chat = bot.telegram.chats[ADMIN]
        texts = " ".join(m.text for m in chat.visible if m.kind == "text")
        assert "russia" in texts and "<5" in texts
        assert "тоолордо (6)" in texts
        kinds = [m.kind for m in chat.visible[-2:]]
        assert kinds == ["photo", "document"]
        (_, png_name, png), (_, _, csv) = bot.telegram.files[-2:]
        assert png.startswith(b"\x89PNG") and png_name.endswith(".png")
        assert csv.decode().startswith("day,event,key,lang,source,count")
        assert "korea" in csv.decode() and "<5" in csv.decode()


def test_gap_words_drop_digits_names_and_stopwords() -> None:
    assert gap_words("Меня зовут Айгерим номер 0555123456 как найти визу") == [
        "зовут", "номер", "найти", "визу"]
    assert gap_words("+996 555 12-34-56 1990") == []
    assert gap_words("Работа в Дубае Азамат") == ["работа"]


def test_gap_report_threshold() -> None:
    from datetime import date

    from bot.stats.reports import CountRow

    rows = [CountRow(date(2026, 11, 29), "gap", "визаа", "ru", "", 4),
            CountRow(date(2026, 11, 28), "gap", "визаа", "ru", "", 1),
            CountRow(date(2026, 11, 29), "gap", "айгерим", "ru", "", 1)]
    assert gap_report(rows, minimum=5) == [("визаа", 5)]
