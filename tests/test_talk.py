"""Talk to a person (issue 14): each path is a conversation between a user and a caseworker,
the real Application on a FakeTelegram with a forum supergroup."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from bot.db import create_engine
from bot.db.models import Case
from bot.fake_telegram import ChatLog, LocalUser
from bot.handoff.crypto import CaseKeys
from bot.handoff.hours import DAYS, WorkingHours, now_utc
from bot.handoff.purge import purge_cases
from bot.i18n import texts
from bot.settings import Settings, SettingsError
from bot.web import build_web_app
from tests.helpers import Harness, running_bot

GROUP = -1001234567890
CASEWORKER = 424242
KEY = Fernet.generate_key().decode()
ALWAYS = "Mon-Sun 00:00-24:00 Asia/Bishkek"
CASEWORK_ENV = {"JOL_CASEWORK_CHAT_ID": str(GROUP), "JOL_CASE_KEY": KEY,
                "JOL_CASEWORK_NGO_NAME": "Тестовая НКО «Путь»", "JOL_CASEWORK_HOURS": ALWAYS}
AGREE = "✅ Согласен, начать"
END = "✋ Завершить разговор"
TALK = "💬 Поговорить с человеком"
DEAD_DATABASE = "postgresql+asyncpg://jol@127.0.0.1:1/jol"  # nothing listens on port 1


@asynccontextmanager
async def casework(tmp_path: Path, forum: bool = True, **env: str) -> AsyncIterator[Harness]:
    async with running_bot(tmp_path, **{**CASEWORK_ENV, **env}) as bot:
        if forum:
            bot.telegram.create_forum(GROUP)
        yield bot


def group(bot: Harness) -> ChatLog:
    return bot.telegram.chats[GROUP]


async def caseworker_writes(bot: Harness, thread: int, words: str, kind: str = "text") -> None:
    update = bot.telegram.group_message_update(GROUP, CASEWORKER, words, thread_id=thread,
                                               kind=kind)
    await LocalUser(bot.telegram, bot.application, CASEWORKER).feed(update)


async def open_case(bot: Harness, user: LocalUser) -> int:
    """Consent through /talk; returns the new topic's thread id."""
    await user.send("/talk")
    screen = await user.press(AGREE)
    assert screen.text.startswith("Разговор ") and "открыт" in screen.text
    assert screen.button_labels == [END, "🆘 SOS"]
    (thread,) = group(bot).topics
    return thread


def topic_texts(bot: Harness, thread: int) -> list[str]:
    return [m.text for m in group(bot).in_topic(thread) if m.kind != "topic_created"]


async def case_rows(bot: Harness) -> list[dict[str, object]]:
    async with bot.services.engine.connect() as conn:
        return [dict(r._mapping) for r in (await conn.execute(select(Case))).all()]


async def test_consent_screen_says_who_reads_when_what_is_kept_and_how_to_end(
        tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru")
        screen = await user.send("/talk")
        assert "сотрудники организации Тестовая НКО «Путь»" in screen.text
        assert "Они отвечают: пн–вс 00:00–24:00 (Asia/Bishkek)." in screen.text
        assert "Это не экстренная служба" in screen.text
        assert "сквозным шифрованием" in screen.text
        assert "через 30 дн. без сообщений" in screen.text
        assert "«Завершить разговор»" in screen.text
        assert "нерабочее время" not in screen.text
        assert screen.button_labels == [AGREE, "🏠 Меню", "🆘 SOS"]
        assert group(bot).topics == {}  # nothing opens before consent
        assert await case_rows(bot) == []


async def test_outside_working_hours_the_consent_screen_says_so_and_shows_sos(
        tmp_path: Path) -> None:
    tomorrow = (now_utc().astimezone(ZoneInfo("Asia/Bishkek")).weekday() + 1) % 7
    hours = f"{DAYS[tomorrow]} 09:00-18:00 Asia/Bishkek"
    async with casework(tmp_path, JOL_CASEWORK_HOURS=hours) as bot:
        screen = await bot.user("ky").send("/talk")
        assert "Азыр иш убактысы эмес" in screen.text and "🆘 SOS" in screen.button_labels


async def test_a_whole_conversation_user_and_caseworker(tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru", first_name="Айгуль")
        thread = await open_case(bot, user)
        (row,) = await case_rows(bot)
        code = row["code"]
        assert group(bot).topics[thread] == f"{code} · ru"
        header = topic_texts(bot, thread)[0]
        assert header.startswith(f"Обращение {code} · ru. Человек согласился на разговор.")

        await user.send("Работодатель забрал паспорт")
        await user.send_media("voice")
        await user.send_media("photo", caption="вот договор")
        copies = [m for m in group(bot).in_topic(thread) if m.copied]
        assert [(m.kind, m.text) for m in copies] == [
            ("text", "Работодатель забрал паспорт"), ("voice", ""), ("photo", "вот договор")]
        assert all(m.protect_content for m in copies)
        assert bot.telegram.calls["forwardmessage"] == 0
        # The user got no extra chatter: their messages simply went.
        assert user.chat.last.text.startswith("Разговор ")

        await caseworker_writes(bot, thread, "Здравствуйте! Где вы сейчас?")
        answer = user.chat.last
        assert answer.text == "Здравствуйте! Где вы сейчас?" and answer.copied
        assert answer.protect_content and answer.button_labels == [END]
        await caseworker_writes(bot, thread, "!похоже на трудовую эксплуатацию")
        assert user.chat.last is answer  # a note never reaches the user

        await caseworker_writes(bot, thread, "/close")
        assert user.chat.last.text == ("Сотрудник завершил разговор. Чтобы поговорить снова: "
                                       "/talk.")
        assert topic_texts(bot, thread)[-1].startswith("Обращение закрыто.")
        (row,) = await case_rows(bot)
        assert row["status"] == "closed"
        assert row["chat_lookup"] is None and row["chat_sealed"] is None

        # After the close the person is back to the ordinary bot: text is a search again.
        await user.send("паспорт")
        assert len([m for m in group(bot).in_topic(thread) if m.copied]) == 3
        await caseworker_writes(bot, thread, "Вы здесь?")
        assert topic_texts(bot, thread)[-1] == ("Эта тема больше не открытое обращение: "
                                                "ничего не отправлено.")


async def test_end_conversation_deletes_the_mapping_at_once(tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ky")
        await user.send("/talk")
        await user.press("✅ Макулмун, баштоо")
        (thread,) = group(bot).topics
        screen = await user.press("✋ Сүйлөшүүнү бүтүрүү")
        assert screen.text.startswith("Сүйлөшүү бүттү.")
        (row,) = await case_rows(bot)
        assert (row["status"], row["chat_lookup"], row["chat_sealed"]) == ("closed", None, None)
        assert topic_texts(bot, thread)[-1] == ("Человек завершил разговор. Тема будет удалена "
                                                "при ближайшей очистке.")
        # Pressing End again, or on an old answer, is answered plainly.
        screen = await user.press_data("talk:end")
        assert screen.text == "Ачык сүйлөшүү жок."


async def test_files_locations_and_contacts_are_refused_with_the_reason(
        tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru")
        thread = await open_case(bot, user)
        before = topic_texts(bot, thread)
        for kind in ("document", "location", "contact"):
            screen = await user.send_media(kind)
            assert screen.text.startswith("Ради вашей безопасности я не передаю файлы, "
                                          "геолокацию и контакты")
            assert screen.button_labels == [END, "🆘 SOS"]
        screen = await user.send_media("sticker")
        assert screen.text == ("Я могу передать только текст, голосовые сообщения и фото. Это "
                               "сообщение не передано.")
        assert topic_texts(bot, thread) == before


async def test_a_deleted_topic_is_made_anew_and_the_message_arrives(tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru")
        old = await open_case(bot, user)
        bot.telegram.call("deleteForumTopic", {"chat_id": GROUP, "message_thread_id": old})
        await user.send("вы меня слышите?")
        (new,) = group(bot).topics
        assert new != old
        texts = topic_texts(bot, new)
        assert texts[0].endswith("прежняя тема была удалена, разговор продолжается здесь.")
        assert texts[-1] == "вы меня слышите?"
        (row,) = await case_rows(bot)
        assert row["topic_id"] == new
        await caseworker_writes(bot, new, "Слышим")
        assert user.chat.last.text == "Слышим"


async def test_a_user_who_blocked_the_bot_leaves_a_note_in_the_topic(tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru")
        thread = await open_case(bot, user)
        bot.telegram.block_bot(user.user_id)
        await caseworker_writes(bot, thread, "Как вы?")
        assert topic_texts(bot, thread)[-1] == ("Человек заблокировал бота: сообщение не "
                                                "доставлено.")


async def test_a_caption_too_long_for_a_topic_is_sent_separately(tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru")
        thread = await open_case(bot, user)
        caption = "подробности " * 90  # 1,080 characters: fine in a chat, not in a topic
        await user.send_media("photo", caption=caption)
        photo, words = group(bot).in_topic(thread)[-2:]
        assert (photo.kind, photo.text, photo.protect_content) == (
            "photo", "(подпись — в следующем сообщении)", True)
        assert (words.kind, words.text, words.protect_content) == ("text", caption, True)


async def test_a_misconfigured_group_is_told_plainly_and_shows_sos(tmp_path: Path) -> None:
    async with casework(tmp_path, forum=False) as bot:
        bot.telegram.create_forum(GROUP, rights=frozenset({"can_delete_messages"}))
        handoff = bot.services.handoff
        assert handoff is not None
        assert await handoff.check(bot.application.bot) == (
            "the bot lacks can_manage_topics in the caseworkers' group")
        user = bot.user("ru")
        await user.send("/talk")
        screen = await user.press(AGREE)
        assert screen.text.startswith("Сейчас через бота не связаться с сотрудниками.")
        assert "🆘 SOS" in screen.button_labels
        assert handoff.problem == ("caseworkers' group unusable: Not enough rights to create "
                                   "a topic")
        assert await case_rows(bot) == []


async def test_the_bot_removed_from_the_group_mid_case(tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru")
        await open_case(bot, user)
        bot.telegram.kick_bot(GROUP)
        screen = await user.send("помогите")
        assert screen.text.startswith("Сейчас через бота не связаться с сотрудниками, поэтому "
                                      "ваше сообщение не передано.")
        handoff = bot.services.handoff
        assert handoff is not None and handoff.problem is not None
        assert "kicked" in handoff.problem


async def test_the_database_down_loses_no_message_silently(tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru")
        thread = await open_case(bot, user)
        handoff = bot.services.handoff
        assert handoff is not None
        healthy, dead = handoff.book.engine, create_engine(DEAD_DATABASE)
        handoff.book.engine = dead
        try:
            screen = await user.send("меня не выпускают")
            assert screen.text.startswith("Что-то пошло не так, и ваше сообщение не передано. "
                                          "Отправьте его ещё раз")
            await caseworker_writes(bot, thread, "Ответьте")
            assert topic_texts(bot, thread)[-1].startswith("База данных бота недоступна: "
                                                           "ничего не отправлено.")
            newcomer = bot.user("ru")
            await newcomer.send("/talk")
            assert (await newcomer.press_data("talk:ok")).text.startswith("Что-то пошло не так")
        finally:
            handoff.book.engine = healthy
            await dead.dispose()
        await user.send("меня не выпускают")
        assert topic_texts(bot, thread)[-1] == "меня не выпускают"


async def test_a_flood_from_one_case_is_limited_and_the_user_told(tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru")
        thread = await open_case(bot, user)
        for n in range(20):
            await user.send(f"сообщение {n}")
        screen = await user.send("ещё одно")
        assert screen.text.startswith("Слишком много сообщений за короткое время: это не "
                                      "передано.")
        assert topic_texts(bot, thread)[-1] == "сообщение 19"


async def test_block_ends_the_case_and_pauses_new_ones(tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru")
        thread = await open_case(bot, user)
        await caseworker_writes(bot, thread, "/block 40")
        assert topic_texts(bot, thread)[-1] == ("Напишите /block и число дней от 1 до 30, "
                                                "например /block 7.")
        await caseworker_writes(bot, thread, "/block 3")
        assert user.chat.last.text.startswith("Сотрудники завершили этот разговор и "
                                              "приостановили новые из этого чата на 3 дн.")
        await user.send("/talk")
        screen = await user.press(AGREE)
        assert screen.text.startswith("Сотрудники приостановили разговоры из этого чата до ")
        assert len(group(bot).topics) == 1
        async with bot.services.engine.connect() as conn:
            blocks = (await conn.execute(text("SELECT chat_block, until FROM case_blocks"))).all()
        assert len(blocks) == 1 and len(blocks[0][0]) == 64
        assert blocks[0][1] in (date.today() + timedelta(days=3),
                                str(date.today() + timedelta(days=3)))


async def test_purge_deletes_closed_and_idle_cases_row_and_topic(tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        handoff = bot.services.handoff
        assert handoff is not None
        closing, idle = bot.user("ru"), bot.user("ky")
        first = await open_case(bot, closing)
        await closing.press(END)
        await idle.send("/talk")
        await idle.press("✅ Макулмун, баштоо")
        second = next(t for t in group(bot).topics if t != first)
        assert await purge_cases(handoff, bot.application.bot) == 1  # the idle one stays
        assert list(group(bot).topics) == [second]
        assert group(bot).in_topic(first) == []  # its messages went with it

        later = date.today() + timedelta(days=31)
        handoff.book.today = lambda: later
        assert await purge_cases(handoff, bot.application.bot) == 1
        assert group(bot).topics == {} and await case_rows(bot) == []
        assert idle.chat.last.text.startswith("Кызматкерлер менен сүйлөшүүңүз жабылды: 30 күн")


async def test_talk_is_offered_on_help_sos_and_danger_topics_only_when_configured(
        tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru")
        assert TALK in (await user.send("/help")).button_labels
        assert TALK in (await user.send("/sos")).button_labels
        assert TALK in (await user.press("🇷🇺 Россия")).button_labels
        await user.send("/menu")
        assert TALK in (await user.press_data("t:passport-taken")).button_labels
        assert TALK in (await user.press_data("t:trafficking-signs")).button_labels
        assert TALK not in (await user.press_data("t:russia")).button_labels
        assert (await user.press_data("talk")).text.startswith("💬 Поговорить с человеком")
    async with running_bot(tmp_path / "off") as bot:
        user = bot.user("ru")
        assert TALK not in (await user.send("/sos")).button_labels
        assert TALK not in (await user.send("/help")).button_labels
        screen = await user.send("/talk")
        assert screen.text == ("Поговорить с человеком сейчас нельзя. Если вы в опасности, "
                               "нажмите SOS.")


async def test_cases_opened_and_closed_are_counted_by_language_only(tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru")
        await open_case(bot, user)
        await user.press(END)
        await bot.services.stats.flush()
        async with bot.services.engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT event, key, lang, source, count FROM counters "
                "WHERE event LIKE 'case%' ORDER BY event"))).all()
        assert [tuple(r) for r in rows] == [("case_closed", "", "ru", "", 1),
                                            ("case_opened", "", "ru", "", 1)]


def test_working_hours_grammar() -> None:
    hours = WorkingHours.parse("Mon-Fri,Sun 09:30-18:00 Asia/Bishkek")
    assert hours.days == (0, 1, 2, 3, 4, 6) and hours.spans() == [(0, 4), (6, 6)]
    assert hours.clock() == "09:30–18:00"
    for bad in ("", "Mon-Fri", "Fri-Mon 09:00-18:00 Asia/Bishkek",
                "Mon-Fri 18:00-09:00 Asia/Bishkek", "Mon-Fri 09:00-18:00 Mars/Olympus",
                "Mon-Fri 25:00-26:00 UTC"):
        try:
            WorkingHours.parse(bad)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was accepted")


async def test_healthz_shows_a_misconfigured_group_and_lost_rights(tmp_path: Path) -> None:
    async with casework(tmp_path, forum=False) as bot:
        handoff = bot.services.handoff
        assert handoff is not None
        app = build_web_app(bot.services, None)
        async with TestClient(TestServer(app)) as client:
            bot.telegram.create_forum(GROUP, is_forum=False)
            await handoff.check(bot.application.bot)
            answer = await client.get("/healthz")
            assert answer.status == 503
            assert (await answer.json())["reason"] == "caseworkers' group has topics turned off"

            bot.telegram.create_forum(GROUP)
            await handoff.check(bot.application.bot)
            assert (await client.get("/healthz")).status == 200

            bot.telegram.create_forum(GROUP, rights=frozenset())
            await handoff.check(bot.application.bot)
            assert (await (await client.get("/healthz")).json())["reason"] == (
                "the bot is not an administrator of the caseworkers' group")


def test_the_handoff_settings_fail_fast_with_the_variable_named() -> None:
    base = dict(CASEWORK_ENV)
    assert Settings.from_env(base).casework is not None
    assert Settings.from_env({}).casework is None
    for change, named in ((
            {"JOL_CASEWORK_CHAT_ID": "12345"}, "JOL_CASEWORK_CHAT_ID"),
            ({"JOL_CASE_KEY": ""}, "JOL_CASE_KEY must be set"),
            ({"JOL_CASE_KEY": "not-a-key"}, "JOL_CASE_KEY must be a Fernet key"),
            ({"JOL_CASEWORK_NGO_NAME": " "}, "JOL_CASEWORK_NGO_NAME"),
            ({"JOL_CASEWORK_HOURS": "9-18"}, "JOL_CASEWORK_HOURS"),
            ({"JOL_CASE_RETENTION_DAYS": "0"}, "JOL_CASE_RETENTION_DAYS")):
        try:
            Settings.from_env({**base, **change})
        except SettingsError as error:
            assert named in str(error) and KEY not in str(error)
            continue
        raise AssertionError(f"{change} was accepted")
    assert KEY not in repr(Settings.from_env(base))


def test_a_sealed_chat_id_opens_only_with_its_key_and_carries_no_time() -> None:
    keys, other = CaseKeys(KEY), CaseKeys(Fernet.generate_key().decode())
    sealed = keys.seal(7_123_456_789, date(2026, 12, 3))
    assert "7123456789" not in sealed and keys.open(sealed) == 7_123_456_789
    assert other.open(sealed) is None
    token = base64.urlsafe_b64decode(sealed)
    assert int.from_bytes(token[1:9], "big") % 86400 == 0  # Fernet's clock: midnight only
    assert keys.lookup(7_123_456_789) != keys.block(7_123_456_789)
    assert keys.lookup(7_123_456_789) != other.lookup(7_123_456_789)


def test_weekday_names_are_cldrs_abbreviations() -> None:
    from babel.dates import get_day_names

    for lang in ("ky", "ru"):
        cldr = get_day_names("abbreviated", locale=lang)
        assert [texts(lang)(day) for day in DAYS] == [cldr[i] for i in range(7)]


async def test_end_under_a_caseworkers_answer_keeps_the_answer_on_screen(
        tmp_path: Path) -> None:
    async with casework(tmp_path) as bot:
        user = bot.user("ru")
        thread = await open_case(bot, user)
        await caseworker_writes(bot, thread, "Позвоните нам завтра в 10:00")
        answer = user.chat.last
        ended = await user.press(END, answer)
        assert ended.text.startswith("Разговор завершён.") and ended is not answer
        assert answer.text == "Позвоните нам завтра в 10:00" and not answer.deleted
        assert user.chat.callback_answers == ["", ""]  # both presses answered, no spinner
