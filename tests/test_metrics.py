"""/metrics as a monitor reads it (issue 12, item 9): every metric the README lists is exported
and no other, and each one moves when its event happens."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot import REPO_ROOT, events
from bot.db import create_engine
from bot.db.language_memory import LanguageMemory
from bot.processor import PerChatUpdateProcessor
from bot.ratelimit import FloodControl
from bot.server import SERVER_LIMITS, RepeatedLines, limit_connections
from bot.stats import recorder as recorder_module
from bot.stats.recorder import StatsRecorder
from bot.web import EARLY_ANSWER_BACKLOG, SECRET_HEADER, WebhookIntake, build_web_app
from tests.helpers import Harness
from tests.serving_helpers import flood_controlled_bot

SECRET = "metrics-test-secret"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def readme_metrics() -> set[str]:
    """The names in the README's table under "`/metrics` (Prometheus text):"."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("`/metrics` (Prometheus text):", 1)[1].split("\n\n", 2)[1]
    return set(re.findall(r"^\| `(jol_\w+)", table, re.MULTILINE))


class Monitor:
    """Scrapes /metrics over HTTP and reads one sample, 0 when it is not exported yet."""

    def __init__(self, client: TestClient[web.Request, web.Application]) -> None:
        self.client = client
        self.text = ""

    async def scrape(self) -> Samples:
        answer = await self.client.get("/metrics")
        assert answer.status == 200
        self.text = await answer.text()
        return {(sample.name, frozenset(sample.labels.items())): sample.value
                for family in text_string_to_metric_families(self.text)
                for sample in family.samples}

    async def value(self, name: str, **labels: str) -> float:
        return (await self.scrape()).get((name, frozenset(labels.items())), 0.0)

    async def wait_for(self, condition: Callable[[], object], seconds: float = 5) -> None:
        async with asyncio.timeout(seconds):
            while not condition():
                await asyncio.sleep(0.01)


@asynccontextmanager
async def monitored_bot(tmp_path: Path) -> AsyncIterator[tuple[Harness, Monitor]]:
    """The bot with its flood control, serving its webhook and /metrics as `jol run` does."""
    async with flood_controlled_bot(tmp_path) as bot:
        await bot.application.start()
        try:
            app = build_web_app(bot.services, WebhookIntake(bot.application, SECRET),
                                "/telegram")
            async with TestClient(TestServer(app)) as client:
                yield bot, Monitor(client)
        finally:
            await bot.application.stop()


async def post_update(monitor: Monitor, update: object) -> None:
    answer = await monitor.client.post("/telegram", json=update,
                                       headers={SECRET_HEADER: SECRET})
    assert answer.status == 200


async def test_the_readme_lists_every_exported_metric_and_no_other(tmp_path: Path) -> None:
    async with monitored_bot(tmp_path) as (_, monitor):
        await monitor.scrape()
    exported = set(re.findall(r"^# HELP (jol_\w+) ", monitor.text, re.MULTILINE))
    assert len(readme_metrics()) >= 12
    assert exported == readme_metrics()


async def test_updates_their_time_duplicates_and_unreadable_ones_are_counted(
        tmp_path: Path) -> None:
    async with monitored_bot(tmp_path) as (bot, monitor):
        before = await monitor.scrape()
        update = bot.telegram.message_update(601, "/start")
        await post_update(monitor, update)
        await monitor.wait_for(lambda: bot.telegram.chats[601].visible)
        await post_update(monitor, update)  # Telegram's retry of the same update_id
        await post_update(monitor, bot.telegram.unparseable_update("no-date", 602))
        await monitor.wait_for(lambda: bot.application.update_queue.empty())
        after = await monitor.scrape()

    def moved(name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert moved("jol_updates_total", kind="message") == 1
    assert moved("jol_handler_seconds_count") == 1
    assert moved("jol_webhook_duplicates_total") == 1
    assert moved("jol_bad_updates_total", intake="webhook") == 1
    assert after[("jol_update_backlog", frozenset())] == 0
    assert bot.telegram.chats[601].last.text.startswith("Главное меню")


async def test_a_failing_handler_is_counted_as_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.handlers import start

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(start, "show_main_menu", broken)
    async with monitored_bot(tmp_path) as (bot, monitor):
        before = await monitor.value("jol_errors_total")
        screen = await bot.user("ru").send("/start")
        assert screen.text.startswith("Извините, что-то пошло не так")
        assert await monitor.value("jol_errors_total") == before + 1


async def test_telegrams_5xx_refusals_and_429s_are_counted_and_the_backlog_shows(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")  # as `jol run` does (cli.main)
    async with monitored_bot(tmp_path) as (bot, monitor):
        telegram = bot.telegram
        user = bot.user("ru")
        before_5xx = await monitor.value("jol_telegram_5xx_total", status="502")
        telegram.fail("sendMessage", 502)
        assert (await user.send("/start")).text.startswith("Главное меню")  # retried
        assert await monitor.value("jol_telegram_5xx_total", status="502") == before_5xx + 1

        refused = await monitor.value("jol_telegram_bad_requests_total")
        telegram.fail("sendMessage", 400, description="Bad Request: reply markup is too long")
        assert (await user.send("/start")).text.startswith("Извините")
        assert await monitor.value("jol_telegram_bad_requests_total") == refused + 1

        limited = await monitor.value("jol_telegram_429_total")
        telegram.hold_chat(603, 30)
        # One waits out its 429, two wait for their turn in the chat; the webhook answers each
        # once it is handled.
        posts = [asyncio.create_task(post_update(monitor, telegram.message_update(603, "/start")))
                 for _ in range(3)]
        samples: Samples = {}

        async def rescrape() -> None:
            samples.update(await monitor.scrape())

        async with asyncio.timeout(5):
            while samples.get(("jol_telegram_429_total", frozenset()), 0.0) <= limited:
                await rescrape()
        assert samples[("jol_update_backlog", frozenset())] == 3
        limiter = bot.application.bot.rate_limiter
        assert isinstance(limiter, FloodControl)
        limiter.stop_waiting()  # what shutdown does: the held chat gives up
        async with asyncio.timeout(5):
            await asyncio.gather(*posts)
            while await monitor.value("jol_update_backlog") != 0:
                await asyncio.sleep(0.01)


async def test_under_a_flood_the_webhook_acknowledges_before_the_answer_can_go(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Normally a delivery is answered once handled; with many updates waiting for Telegram's
    limits, at once, so that Telegram hands over its queue (and an SOS can go first)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with monitored_bot(tmp_path) as (bot, monitor):
        bot.telegram.hold_chat(604, 30)
        start = bot.telegram.message_update(604, "/start")
        held = asyncio.create_task(post_update(monitor, start))
        await asyncio.sleep(0.3)
        assert not held.done()  # answered only once handled: the 429 holds it
        processor = bot.application.update_processor
        assert isinstance(processor, PerChatUpdateProcessor)
        processor.backlog += EARLY_ANSWER_BACKLOG  # as if that many waited
        await asyncio.wait_for(post_update(monitor, bot.telegram.message_update(604, "/sos")), 5)
        processor.backlog -= EARLY_ANSWER_BACKLOG
        limiter = bot.application.bot.rate_limiter
        assert isinstance(limiter, FloodControl)
        limiter.stop_waiting()
        await asyncio.wait_for(held, 5)


async def test_while_telegram_holds_every_chat_the_webhook_acknowledges_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One chat's own 429 holds only its update's answer to the webhook; once 429s for several
    chats mean the bot's overall limit, a new update is acknowledged before it is handled (its
    answer waits for the limit anyway; Telegram hands over the SOS waiting behind it)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    async with monitored_bot(tmp_path) as (bot, monitor):
        limiter = bot.application.bot.rate_limiter
        assert isinstance(limiter, FloodControl)
        bot.telegram.hold_chat(611, 30)
        start = bot.telegram.message_update
        first = asyncio.create_task(post_update(monitor, start(611, "/start")))
        async with asyncio.timeout(5):
            while not limiter.waiting:
                await asyncio.sleep(0.01)
        assert not limiter.holding_everyone  # one chat's own limit
        other = asyncio.create_task(post_update(monitor, start(612, "/start")))
        await asyncio.wait_for(other, 5)  # handled and answered: the usual order
        for chat in (613, 614):
            bot.telegram.hold_chat(chat, 30)
        held = [asyncio.create_task(post_update(monitor, start(c, "/start"))) for c in (613, 614)]
        async with asyncio.timeout(5):
            while not limiter.holding_everyone:  # three chats' 429s within a second
                await asyncio.sleep(0.01)
        # Acknowledged before its answer could go:
        await asyncio.wait_for(post_update(monitor, start(615, "/sos")), 2)
        assert not any(task.done() for task in (first, *held))
        limiter.stop_waiting()
        await asyncio.wait_for(asyncio.gather(first, *held), 5)


async def test_the_flush_lag_grows_with_unwritten_counts_and_drops_after_a_flush(
        tmp_path: Path) -> None:
    async with monitored_bot(tmp_path) as (bot, monitor):
        await bot.services.stats.flush()
        assert await monitor.value("jol_stats_flush_lag_seconds") == 0
        await bot.user("ru").send("/start")  # counted; written only every hour in this test
        await asyncio.sleep(0.01)
        assert await monitor.value("jol_stats_flush_lag_seconds") > 0
        await bot.services.stats.flush()
        assert await monitor.value("jol_stats_flush_lag_seconds") == 0


async def test_counts_dropped_and_failed_writes_are_counted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async with monitored_bot(tmp_path) as (bot, monitor):
        dropped = await monitor.value("jol_stats_dropped_total")
        monkeypatch.setattr(recorder_module, "MAX_PENDING_KEYS", bot.services.stats.pending + 2)
        for key in ("a", "b", "c", "d"):  # two fit, two are dropped
            bot.services.stats.count(events.TOPIC, key, "ru")
        assert await monitor.value("jol_stats_dropped_total") == dropped + 2
        await bot.services.stats.flush()  # what was kept is written
        monkeypatch.undo()

        counters = await monitor.value("jol_flush_failures_total", store="counters")
        languages = await monitor.value("jol_flush_failures_total", store="languages")
        engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'no-tables.sqlite3'}")
        try:
            stats = StatsRecorder(engine)
            stats.count(events.SOS, "KG", "ru")
            memory = LanguageMemory(engine, b"metrics test secret")
            memory.set(604, "ky")
            assert (await stats.flush(), await memory.flush()) == (0, 0)  # no tables
        finally:
            await engine.dispose()
        assert await monitor.value("jol_flush_failures_total", store="counters") == counters + 1
        assert await monitor.value("jol_flush_failures_total",
                                   store="languages") == languages + 1


async def test_connections_closed_at_the_cap_are_counted(tmp_path: Path) -> None:
    async with monitored_bot(tmp_path) as (bot, monitor):
        before = await monitor.value("jol_http_connections_dropped_total")
        runner = web.AppRunner(build_web_app(bot.services, None, "/telegram"), **SERVER_LIMITS)
        await runner.setup()
        assert runner.server is not None
        limit_connections(runner.server, 2)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        writers = []
        try:
            for _ in range(3):  # the third closes the oldest
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writers.append(writer)
            async with asyncio.timeout(5):
                while await monitor.value("jol_http_connections_dropped_total") == before:
                    await asyncio.sleep(0.01)
            assert await monitor.value("jol_http_connections_dropped_total") == before + 1
        finally:
            for writer in writers:
                writer.close()
            await runner.cleanup()


async def test_log_lines_held_back_are_counted(tmp_path: Path) -> None:
    repeated = RepeatedLines(window=60, burst=2)
    line = logging.LogRecord("bot.example", logging.WARNING, __file__, 1,
                             "database unreachable (%s)", ("OSError",), None)
    async with monitored_bot(tmp_path) as (_, monitor):
        before = await monitor.value("jol_log_lines_suppressed_total")
        assert [repeated.filter(line) for _ in range(5)] == [True, True, False, False, False]
        assert await monitor.value("jol_log_lines_suppressed_total") == before + 3
