"""Self-check, family mode, clear-this-chat, live reload and freshness.

Statistics (/stats, gap words) are tested in tests/test_privacy_stats.py."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot import LANGUAGES
from bot.content.loader import load_content
from bot.local import LocalUser
from bot.stats.reports import load_counts
from tests.conftest import REAL_CONTENT
from tests.helpers import running_bot

ADMIN = 4242
REAL = load_content(REAL_CONTENT)[0]
assert REAL is not None
CHECK = REAL.selfcheck
YES = {"ru": "Да", "ky": "Ооба"}
NO = {"ru": "Нет", "ky": "Жок"}
START = {"ru": "✅ Проверить предложение о работе", "ky": "✅ Жумуш сунушун текшерүү"}


async def answer_all(user: LocalUser, lang: str, dangerous: bool) -> str:
    screen = await user.press(START[lang])
    for number, question in enumerate(CHECK.questions, start=1):
        # "Вопрос 3 из 12" / "12 суроонун 3-суроосу"
        assert re.search(rf"(Вопрос {number} из|суроонун {number}-суроосу)", screen.text)
        assert question.ask[lang] in screen.text
        risky = question.risky == "y"
        label = YES[lang] if risky == dangerous else NO[lang]
        screen = await user.press(label)
    return screen.text


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_self_check_dangerous_and_normal_offers(tmp_path: Path, lang: str) -> None:
    levels = sorted(CHECK.levels, key=lambda level: level.min_score)
    async with running_bot(tmp_path) as bot:
        user = bot.user(lang)
        await user.send("/start")
        dangerous = await answer_all(user, lang, dangerous=True)
        assert levels[-1].title[lang] in dangerous
        for question in CHECK.questions:  # every warning sign is explained
            assert question.why[lang] in dangerous
        await user.press("🏠 Меню")
        normal = await answer_all(user, lang, dangerous=False)
        assert levels[0].title[lang] in normal
        assert len(dangerous) <= 4096 and len(normal) <= 4096
        await bot.services.stats.flush()
        rows = await load_counts(bot.services.engine, days=1)
        counted = {(r.event, r.key): r.count for r in rows if r.event == "check"}
        assert counted == {("check", levels[-1].id): 1, ("check", levels[0].id): 1}


async def test_self_check_dont_know_and_back(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/check")
        first = user.chat.last.text
        await user.press("Не знаю")
        back = await user.press("⬅️ Назад")
        assert back.text == first
        for _ in CHECK.questions:
            screen = await user.press("Не знаю")
        assert CHECK.result("u" * len(CHECK.questions)).level.title["ru"] in screen.text
        assert "🔁 Проверить другое предложение" in screen.button_labels


@pytest.mark.parametrize("data", [
    "q:0000", "q:" + CHECK.version + "y" * (len(CHECK.questions) + 1), "q:" + CHECK.version + "x",
    "fq:zzzz"])
async def test_forged_self_check_step_is_out_of_date(tmp_path: Path, data: str) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ky")
        await user.send("/start")
        screen = await user.press_data(data)
        assert user.chat.callback_answers[-1] == "Бул баскыч эскирип калган."
        assert screen.text.startswith("Башкы меню")


async def test_family_mode_from_deep_link(tmp_path: Path) -> None:
    family = REAL.topic("ky", "family")
    assert family is not None
    async with running_bot(tmp_path) as bot:
        user = bot.user("ky")
        screen = await user.send("/start family--mothers_osh")
        assert screen.text.startswith(family.title)
        screen = await user.press("✅ Туугандын жумуш сунушун текшерүү")
        assert CHECK.questions[0].ask_family["ky"] in screen.text
        for _ in CHECK.questions:
            screen = await user.press("Ооба")
        assert "Тобокелдикти эмне жогорулатты:" in screen.text
        await bot.services.stats.flush()
        rows = await load_counts(bot.services.engine, days=1)
        assert any(r.event == "family_check" for r in rows)


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
        assert re.search(r"content/ru/russia\.md:\d+: error: broken YAML", reply.text)
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
