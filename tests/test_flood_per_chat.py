"""Telegram's errors told apart (issue 10, item 9): one chat's 429 holds only that chat, a 5xx
is retried and the answer arrives, a refusal is logged with Telegram's reason."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from pathlib import Path

import pytest
from prometheus_client import REGISTRY
from telegram import Update

from bot.ratelimit import FloodControl
from tests.serving_helpers import flood_controlled_bot

GROUP = -100200300


@pytest.fixture(autouse=True)
def timedelta_durations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as `jol run` does (cli.main)


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_group_held_by_a_429_does_not_delay_a_private_sos(tmp_path: Path) -> None:
    async with flood_controlled_bot(tmp_path) as bot:
        telegram = bot.telegram
        telegram.hold_chat(GROUP, 30)  # the group is over its 20 messages a minute
        group_command = telegram.message_update(7001, "/start@jol_local_bot",
                                                chat_id=GROUP, chat_type="group")
        group = asyncio.create_task(bot.user(user_id=7001).feed(group_command))
        await asyncio.sleep(0.1)  # the group's note has met its 429 and waits
        assert telegram.rate_limited >= 1 and not group.done()

        user = bot.user("ru")
        async with asyncio.timeout(5):  # not 30 s behind the group
            sos = await user.send("/sos")
        assert sos.text.startswith("SOS")  # the SOS screen (its country picker)
        assert not group.done()  # the group still waits its turn

        limiter = bot.application.bot.rate_limiter
        assert isinstance(limiter, FloodControl)
        limiter.stop_waiting()  # what shutdown does
        async with asyncio.timeout(5):
            await group
        assert telegram.chats[GROUP].visible == []


async def test_a_crowd_waiting_behind_a_held_group_leaves_room_for_others(
        tmp_path: Path) -> None:
    """More updates for the held group than the bot handles at once (256) must not take the
    places a private user's update needs."""
    async with flood_controlled_bot(tmp_path) as bot:
        telegram, application = bot.telegram, bot.application
        telegram.hold_chat(GROUP, 30)
        await application.start()
        limiter = application.bot.rate_limiter
        assert isinstance(limiter, FloodControl)
        try:
            for _ in range(300):
                update = telegram.message_update(7001, "/start@jol_local_bot", chat_id=GROUP,
                                                 chat_type="group")
                await application.update_queue.put(Update.de_json(update, application.bot))
            sos = telegram.message_update(7002, "/sos")
            await application.update_queue.put(Update.de_json(sos, application.bot))
            async with asyncio.timeout(5):
                while not telegram.chats[7002].visible:
                    await asyncio.sleep(0.01)
            assert telegram.chats[7002].last.text.startswith("SOS")
        finally:
            limiter.stop_waiting()
            await application.stop()


async def test_transient_5xx_answers_are_retried_and_nothing_is_lost(tmp_path: Path) -> None:
    async with flood_controlled_bot(tmp_path) as bot:
        before = sample("jol_telegram_5xx_total", status="502")
        bot.telegram.fail("sendMessage", 502, times=3)
        bot.telegram.fail("sendMessage", 500, times=1)
        users = [bot.user("ru") for _ in range(20)]
        await asyncio.gather(*(user.send("/start") for user in users))
        for user in users:
            assert user.chat.last.text.startswith("Главное меню")
        assert sample("jol_telegram_5xx_total", status="502") == before + 3


async def test_a_refusal_is_logged_with_telegrams_reason(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async with flood_controlled_bot(tmp_path) as bot:
        bot.telegram.fail("sendMessage", 400, description="Bad Request: reply markup is too long")
        user = bot.user("ru")
        with caplog.at_level(logging.INFO):
            screen = await user.send("/start")
        assert "Reply markup is too long" in caplog.text
        assert "unreachable" not in caplog.text  # a refusal is not a network error
        assert screen.text.startswith("Извините")  # and the user is not left in silence


async def test_429s_for_several_chats_at_once_pause_every_chat() -> None:
    """Three chats refused within a second: the bot's overall limit, not theirs."""
    from telegram.error import RetryAfter

    limiter = FloodControl()
    await limiter.initialize()
    sent: list[int] = []

    async def send(chat: int, refuse: bool) -> bool:
        if refuse and chat not in sent:
            sent.append(chat)
            raise RetryAfter(dt.timedelta(seconds=30))
        sent.append(chat)
        return True

    async def call(chat: int, refuse: bool = False) -> object:
        return await limiter.process_request(send, (chat, refuse), {}, "sendMessage",
                                             {"chat_id": chat}, None)

    held = [asyncio.create_task(call(chat, refuse=True)) for chat in (1, 2)]
    await asyncio.sleep(0.05)
    assert await asyncio.wait_for(call(4), 1) is True  # two chats held: chat 4 goes on
    held.append(asyncio.create_task(call(3, refuse=True)))
    await asyncio.sleep(0.05)
    other = asyncio.create_task(call(5))
    await asyncio.sleep(0.1)
    assert 5 not in sent  # the third chat's 429 paused everyone
    limiter.stop_waiting()
    await asyncio.wait_for(asyncio.gather(other, *held, return_exceptions=True), 2)
    assert 5 in sent
