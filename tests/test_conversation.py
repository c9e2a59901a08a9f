"""Layer 1: the real Application and a fake Telegram that enforces Telegram's limits.

Each test reads like a conversation and asserts on what the user sees: text and buttons.
"""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

import pytest

from tests.conftest import FULL_LANGUAGES
from tests.helpers import real_snapshot, running_bot

MENU = {"ru": "🏠 Меню", "ky": "🏠 Меню"}
BACK = {"ru": "⬅️ Назад", "ky": "⬅️ Артка"}
SOS = "🆘 SOS"
REAL = real_snapshot()


def title(lang: str, topic_id: str) -> str:
    topic = REAL.topic(lang, topic_id)
    assert topic is not None
    return topic.title


async def test_first_contact_in_russian_shows_the_main_menu(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        screen = await user.send("/start")
        assert screen.text.startswith("Главное меню")
        labels = screen.button_labels
        assert [t.title for t in REAL.menu("ru")] == labels[: len(REAL.menu("ru"))]
        assert SOS in labels and "🌐 Язык" in labels


async def test_unknown_language_asks_and_remembers_the_choice(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("en")
        screen = await user.send("/start")
        picker = "Тилди тандаңыз / Выберите язык / Tilni tanlang"
        assert screen.text == picker
        assert screen.button_labels == ["Кыргызча", "Русский", "Oʻzbekcha"]
        # Typing before choosing still gets the question, not a crash or silence.
        assert (await user.send("паспорт")).text == picker
        screen = await user.press("Кыргызча")
        assert screen.text.startswith("Башкы меню")
        assert user.chat.callback_answers[-1] == "Тил өзгөрдү"
        screen = await user.send("/menu")
        assert screen.text.startswith("Башкы меню")


async def test_language_can_be_changed_in_one_tap(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/start")
        picker = await user.press("🌐 Язык")
        assert picker.button_labels == ["Кыргызча", "Русский", "Oʻzbekcha"]
        screen = await user.press("Кыргызча")
        assert screen.text.startswith("Башкы меню")
        assert title("ky", "countries") in screen.button_labels


@pytest.mark.parametrize("lang", FULL_LANGUAGES)
async def test_every_topic_is_reachable_and_every_screen_has_navigation(
        tmp_path: Path, lang: str) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user(lang)
        await user.send("/start")
        titles = {t.title: t.id for t in REAL.topics.values() if t.lang == lang}
        seen: set[str] = set()
        queue = deque([None])  # None: the main menu
        while queue:
            topic_id = queue.popleft()
            screen = await (user.send("/menu") if topic_id is None else
                            user.press_data(f"t:{topic_id}"))
            if topic_id is not None:
                assert MENU[lang] in screen.button_labels, topic_id
                assert SOS in screen.button_labels, topic_id
                topic = REAL.topic(lang, topic_id)
                assert topic is not None and screen.text.startswith(topic.title)
                if topic.parent and topic_id != "sos":  # SOS, from anywhere: Menu, no Back
                    assert BACK[lang] in screen.button_labels
            for label in screen.button_labels:
                target = titles.get(label.removeprefix("➡️ "))
                if target and target not in seen:
                    seen.add(target)
                    queue.append(target)
        assert seen == {t.id for t in REAL.topics.values() if t.lang == lang}


async def test_back_goes_to_the_parent_section(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/start")
        section = await user.press(title("ru", "countries"))
        topic = await user.press(title("ru", "russia"))
        assert topic.message_id == section.message_id  # edited in place, not a new message
        assert topic.text.startswith(title("ru", "russia"))
        back = await user.press(BACK["ru"])
        assert back.text.startswith(title("ru", "countries"))
        home = await user.press(MENU["ru"])
        assert home.text.startswith("Главное меню")
        assert len(user.chat.visible) == 1  # one bot message, edited in place throughout


async def test_long_topic_is_paged(tmp_path: Path, small_content: Path) -> None:
    path = small_content / "ru" / "passport-taken.md"
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + "\n\n".join(
        f"Часть {i}. " + "текст " * 150 for i in range(8)), encoding="utf-8")
    async with running_bot(tmp_path, small_content) as bot:
        user = bot.user("ru")
        screen = await user.send("/start passport-taken")
        assert "Страница 1 из " in screen.text
        assert "Дальше ▶️" in screen.button_labels
        second = await user.press("Дальше ▶️")
        assert "Страница 2 из " in second.text
        assert "‹ Предыдущая" in second.button_labels  # a page back, not "⬅️ Назад"
        assert "‹ Предыдущая" not in (await user.press("‹ Предыдущая")).button_labels


async def test_deep_links(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        screen = await bot.user("ru").send("/start check-agency")
        assert screen.text.startswith(title("ru", "check-agency"))
        screen = await bot.user("ky").send("/start russia--osh_bus_2026")
        assert screen.text.startswith(title("ky", "russia"))
        for bad in ("no-such-topic", "bad!payload", "x" * 65, "russia--", "--" + "y" * 40):
            screen = await bot.user("ru").send(f"/start {bad}")
            assert screen.text.startswith("Главное меню"), bad
        screen = await bot.user("ru").send("/start --tiktok")
        assert screen.text.startswith("Главное меню")
        stats = bot.services.stats
        await stats.flush()
        from bot.stats.reports import load_counts

        rows = await load_counts(bot.services.engine, days=1)
        # A declared campaign by name; an undeclared source only as "other" (stats tests).
        starts = {r.key: r.count for r in rows if r.event == "start"}
        assert starts == {"osh_bus_2026": 1, "other": 1, "": 6}


@pytest.mark.parametrize(("lang", "query", "expected"), [
    ("ru", "сын уехал и не выходит на связь", "family-lost-contact"),
    ("ru", "патент", "russia"),
    ("ky", "паспортумду алып коюшту", "passport-taken"),
    ("ky", "милиция кармады", "detained"),
])
async def test_search_opens_the_clear_winner_at_once(tmp_path: Path, lang: str, query: str,
                                                     expected: str) -> None:
    async with running_bot(tmp_path) as bot:
        screen = await bot.user(lang).send(query)
        assert screen.text.startswith(title(lang, expected))  # opened, not a one-button list
        assert SOS in screen.button_labels


async def test_search_without_a_clear_winner_offers_topic_buttons(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        screen = await bot.user("ru").send("работодатель забрал паспорт")
        assert screen.text.startswith("Вот что я нашёл")
        assert screen.button_labels[:2] == [title("ru", "passport-taken"),
                                            title("ru", "trafficking-signs")]
        assert screen.button_labels[-2:] == [MENU["ru"], SOS]


async def test_search_not_found_is_honest(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        screen = await bot.user("ru").send("ъъъ фывапролджэ")
        assert screen.text.startswith("По этому вопросу я ничего не нашёл")
        assert screen.button_labels == [MENU["ru"], SOS]


async def test_sos_from_deep_inside_the_menu(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ky")
        await user.send("/start")
        await user.press(title("ky", "countries"))
        await user.press(title("ky", "turkey"))
        await user.press(SOS)
        screen = await user.press("🇹🇷 Түркия")
        assert screen.text.startswith(title("ky", "sos"))
        assert "☎️ 112 " in screen.text
        assert "☎️ " + title("ky", "hotlines") in screen.button_labels
        hotlines = await user.press("☎️ " + title("ky", "hotlines"))
        pages = [hotlines.text]
        while "Кийинки ▶️" in hotlines.button_labels:
            hotlines = await user.press("Кийинки ▶️")
            pages.append(hotlines.text)
        shown = "\n".join(pages)
        assert "Тастыктала элек" in shown  # unverified numbers carry a caution
        assert shown.count("булактары менен салыштырылды:") == 1  # the date once, at the end


@pytest.mark.parametrize("kind", ["sticker", "photo", "voice", "location", "contact",
                                  "document"])
async def test_media_gets_a_text_only_answer(tmp_path: Path, kind: str) -> None:
    async with running_bot(tmp_path) as bot:
        screen = await bot.user("ru").send_media(kind)
        assert screen.text.startswith("Я понимаю только текст")


async def test_bad_text_input(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        screen = await user.send("паспорт " * 1250)  # 10,000 characters
        assert screen.button_labels  # answered, within limits (the fake enforces them)
        screen = await user.send("<b>паспорт</b> & <script>alert(1)</script>")
        assert "<script>" not in screen.html
        screen = await user.send("/nosuchcommand")
        assert screen.text.startswith("Я не знаю такой команды")
        assert screen.button_labels == [MENU["ru"], SOS]


async def test_edited_messages_groups_and_channels(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("паспорт")
        before = len(user.chat.messages)
        await user.feed(bot.telegram.edited_update(user.user_id, 1, "корея"))
        assert len(user.chat.messages) == before  # ignored on purpose

        await user.feed(bot.telegram.message_update(5, "/start", chat_id=-100, chat_type="group"))
        note = bot.telegram.chats[-100].last
        assert note.text == ("Мен жеке чатта гана иштейм. Мени ачып, «Баштоо» баскычын басыңыз."
                             " / Я работаю только в личном чате. Откройте меня и нажмите «Старт»."
                             " / Men faqat shaxsiy chatda ishlayman. Meni oching va «Start»"
                             " tugmasini bosing.")
        await user.feed(bot.telegram.message_update(5, "привет", chat_id=-100, chat_type="group"))
        assert bot.telegram.chats[-100].last is note
        await user.feed(bot.telegram.channel_post_update(-200, "/start"))
        assert bot.telegram.chats[-200].visible == []


@pytest.mark.parametrize("data", ["t:no-such-topic", "t:russia:99", "t:../etc", "zzz",
                                  "l:en", "t:russia:01", "q:abc"])
async def test_forged_or_stale_buttons(tmp_path: Path, data: str) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/start")
        screen = await user.press_data(data)
        assert user.chat.callback_answers[-1] == "Эта кнопка устарела."
        assert screen.text.startswith("Главное меню")


async def test_button_on_a_deleted_message_sends_a_new_one(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        menu = await user.send("/start")
        menu.deleted = True
        screen = await user.press_data("t:russia", menu.message_id)
        assert screen.message_id != menu.message_id
        assert screen.text.startswith(title("ru", "russia"))


async def test_same_button_twice_is_not_an_error(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/start")
        first = await user.press(SOS)
        edits = bot.telegram.calls["editmessagetext"]
        second = await user.press(SOS)
        assert first.message_id == second.message_id
        assert second.text == first.text
        assert len(user.chat.callback_answers) == 2  # the spinner stops
        # The screen is already shown: no edit Telegram would refuse as "not modified".
        assert bot.telegram.calls["editmessagetext"] == edits


async def test_forget_and_commands(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/start")
        await user.press("🌐 Язык")
        await user.press("Кыргызча")
        screen = await user.send("/forget")
        assert screen.text.startswith("Бул чат үчүн эстеп калган тилди өчүрдүм.")
        screen = await user.send("/forget")
        assert screen.text.startswith("Я ничего не запоминал об этом чате.")
        assert (await user.send("/help")).text.startswith("Как пользоваться Jol")
        assert "Конфиденциальность" in (await user.send("/about")).text
        assert {"ky", "ru", ""} <= set(bot.telegram.commands)
        assert ("sos", "Шашылыш жана ишеним телефондору") in bot.telegram.commands["ky"]


async def test_nothing_personal_is_logged(tmp_path: Path,
                                          caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru", user_id=987654321, first_name="Айгерим")
        await user.send("/start")
        await user.send("меня зовут Айгерим мой номер 0555123456")
        await user.press(SOS)
    logged = caplog.text
    for secret in ("987654321", "Айгерим", "0555123456", "меня зовут"):
        assert secret not in logged


def test_screens_respect_limits(tmp_path: Path) -> None:
    for topic in REAL.topics.values():
        for page in topic.pages:
            assert len(page) <= 4096



async def test_button_on_a_message_older_than_48_hours(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        menu = await user.send("/start")
        menu.date -= 49 * 3600
        screen = await user.press(title("ru", "help"), menu)
        assert screen.text.startswith(title("ru", "help"))
        assert user.chat.callback_answers[-1] == ""


async def test_every_press_is_answered_exactly_once(tmp_path: Path) -> None:
    """Each press stops its spinner once, whatever it leads to (the answer goes out together
    with the screen's edit)."""
    async with running_bot(tmp_path) as bot:
        user = bot.user(None)  # no language from Telegram: the picker comes first
        await user.send("/start")
        presses = ["Русский", title("ru", "countries"), title("ru", "russia"), "⬅️ Назад",
                   SOS, SOS, MENU["ru"], "🌐 Язык", "Кыргызча"]
        for label in presses:
            await user.press(label)
        await user.press_data("t:no-such-topic")
        await user.press_data("forged\u0000data")
        assert len(user.chat.callback_answers) == len(presses) + 2
        assert user.chat.callback_answers[-2:] == ["Бул баскыч эскирип калган."] * 2
        assert bot.telegram.calls["answercallbackquery"] == len(presses) + 2  # none refused


async def test_help_lists_check_and_admin_commands_only_for_admins(tmp_path: Path) -> None:
    async with running_bot(tmp_path, admin_ids="4242") as bot:
        user_help = await bot.user("ru").send("/help")
        assert "/check — проверить предложение о работе на обман" in user_help.text
        assert "/stats" not in user_help.text and "/reload" not in user_help.text
        admin_help = await bot.user("ky", user_id=4242).send("/help")
        for command in ("/check", "/stats", "/reload", "/content"):
            assert command in admin_help.text
