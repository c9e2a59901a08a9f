"""One unparseable update must not stop long polling (issue 10, item 5): it is skipped (the
offset moves past it), counted, and logged by update_id only; the users after it are answered."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import REGISTRY

from bot.standin import STANDIN, start_standin
from tests.serving_helpers import free_port, jol_run, log_text, wait_for_log

TOKEN = "515151:poison-test"


def bad_updates(intake: str) -> float:
    return REGISTRY.get_sample_value("jol_bad_updates_total", {"intake": intake}) or 0.0


async def test_poison_updates_are_skipped_and_later_users_answered(tmp_path: Path) -> None:
    runner, base_url = await start_standin("127.0.0.1", 0)
    standin = runner.app[STANDIN].bot(TOKEN)
    port = free_port()
    try:
        async with jol_run(base_url, tmp_path, port, token=TOKEN):
            await wait_for_log(tmp_path, "serving by long polling")
            telegram = standin.telegram
            for shape in ("no-date", "poll"):
                standin.push(telegram.unparseable_update(shape, user_id=4711))
            standin.message(4712, "/start")
            assert await standin.wait_for_chat(4712, 1, timeout=20), log_text(tmp_path)
            assert standin.chat(4712).last.text.startswith("Главное меню")
            # Confirmed: the next getUpdates (the offset past them) dropped them for good.
            standin.message(4713, "/start")
            assert await standin.wait_for_chat(4713, 1, timeout=20)
            assert not telegram.pending_updates or all(
                u["update_id"] > 3 for u in telegram.pending_updates)
            async with aiohttp.ClientSession() as http:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as health:
                    assert health.status == 200
                async with http.get(f"http://127.0.0.1:{port}/metrics") as answer:
                    metrics = await answer.text()
            assert 'jol_bad_updates_total{intake="polling"} 2.0' in metrics
    finally:
        await runner.cleanup()
    log = log_text(tmp_path)
    assert "skipped update 1:" in log and "skipped update 2:" in log
    assert "CRITICAL" not in log
    for private in ("secret words", "Aigul", "4711"):  # what the user wrote, name, id
        assert private not in log


async def test_parse_updates_keeps_the_good_ones(caplog: pytest.LogCaptureFixture) -> None:
    from telegram import Bot

    from bot.fake_telegram import FakeTelegram
    from bot.server import parse_updates

    telegram = FakeTelegram()
    batch = [telegram.message_update(1, "first"), telegram.unparseable_update("no-date", 2),
             {"update_id": "9"}, "not an update", telegram.message_update(3, "third")]
    before = bad_updates("polling")
    with caplog.at_level(logging.INFO):
        updates, offset = parse_updates(batch, Bot("1:x"), offset=0)
    assert [u.message.text for u in updates if u.message] == ["first", "third"]
    assert offset == 4  # past the last update, the unreadable one included
    assert bad_updates("polling") == before + 3
    assert "secret words" not in caplog.text and "Aigul" not in caplog.text
    await asyncio.sleep(0)
