"""The campaign benchmark's harness (bench/campaign.py) keeps working: one `jol run` webhook
replica on a fresh PostgreSQL database behind HAProxy takes a few new users a second from a
campaign deep link, every one of them gets all three answers, and the database is dropped
afterwards; deploy/haproxy.cfg as the benchmark runs it sends every update of a chat to one
replica (its round-robin copy does not); the ladder
climbs and refines as documented. Correctness checks of the harness, not measurements: no
figure of speed is asserted."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path

import asyncpg
import pytest
from aiohttp import ClientSession, web

from bench.campaign import (
    HAPROXY,
    POSTGRES_ADMIN_URL,
    STEPS,
    campaign_start,
    campaign_targets,
    deploy,
    haproxy_config,
    haproxy_env,
    next_rate,
    postgres_dsn,
    run_rate,
    saturation,
    wait_healthy,
)
from bench.run import free_port, stop_process
from bot.fake_telegram import FakeTelegram
from bot.standin import STANDIN, start_standin


def test_the_ladder_climbs_until_a_rate_is_not_held_then_refines_between() -> None:
    rates = [50.0, 200.0, 500.0, 1000.0]
    assert next_rate(rates, [], refine=2) == 50
    assert next_rate(rates, [(50, True)], refine=2) == 200
    assert next_rate(rates, [(50, True), (200, False)], refine=2) == 125
    results = [(50.0, True), (200.0, False), (125.0, True)]
    assert next_rate(rates, results, refine=2) == 162
    assert next_rate(rates, [*results, (162.0, False)], refine=2) is None  # refined twice
    assert saturation([*results, (162.0, False)]) == 125
    assert next_rate(rates, [(r, True) for r in rates], refine=2) is None  # never saturated
    assert saturation([(50.0, False)]) == 0
    # Held rates above the lowest one not held do not count: the run was noisy.
    assert saturation([(50.0, True), (200.0, False), (125.0, False), (300.0, True)]) == 50
    assert next_rate(rates, [(50.0, True), (55.0, False)], refine=3) is None  # within 10 %


def test_the_campaign_link_is_one_the_content_declares() -> None:
    assert campaign_start() == "/start --osh_bus_2026"


async def databases() -> set[str]:
    connection = await asyncpg.connect(postgres_dsn(POSTGRES_ADMIN_URL.rpartition("/")[2]),
                                       timeout=5)
    try:
        return {row["datname"] for row in await connection.fetch("SELECT datname FROM "
                                                                 "pg_database")}
    finally:
        await connection.close()


@pytest.fixture
def haproxy() -> None:
    if not os.access(HAPROXY, os.X_OK):
        problem = f"{HAPROXY} is missing (apt-get install haproxy)"
        if os.environ.get("JOL_REQUIRE_E2E") == "1":
            pytest.fail(f"{problem} (JOL_REQUIRE_E2E=1)")
        pytest.skip(f"{problem}; JOL_REQUIRE_E2E=1 makes this a failure")


async def test_a_webhook_replica_behind_haproxy_answers_every_new_user(
        tmp_path: Path, haproxy: None, postgres_url: str) -> None:
    # postgres_url: PostgreSQL must be usable (a skip, or a failure with JOL_REQUIRE_POSTGRES=1,
    # as for the other PostgreSQL tests); the benchmark creates its own database.
    before = await databases()
    runner, base_url = await start_standin("127.0.0.1", 0)
    bot = runner.app[STANDIN].bot("810001:campaign-test")
    try:
        async with deploy(campaign_targets()["jol-1"], bot, base_url, tmp_path,
                          answer_timeout=30) as deployment:
            assert deployment.database in await databases()
            assert bot.calls["setWebhook"] == 1
            # The replica asked for JOL_WEBHOOK_CONNECTIONS; the harness, as Telegram, keeps to it.
            assert bot.telegram.webhook["max_connections"] == 40
            assert deployment.webhook is not None and deployment.webhook.connections == 40
            run = await run_rate(deployment, rate=5, seconds=2, warmup=0.5, answer_timeout=30,
                                 start_text=campaign_start(), first_user=1_000_000)
    finally:
        await runner.cleanup()
    summary = run.summary()
    assert summary["users"] == 10
    assert summary["completed_users"] == 10, summary
    assert (summary["lost"], summary["no_button"], summary["webhook_given_up"]) == (0, 0, 0)
    assert all(a.actions[0].detail == "/start --osh_bus_2026" for a in run.arrivals)
    # Each user pressed a button of the main menu the campaign link opened, then another.
    assert all(len(a.actions) == len(STEPS) for a in run.arrivals)
    assert set(summary["cpu_cores"]) == {"bots", "haproxy", "postgres", "harness", "machine",
                                         "other"}
    assert len(summary["peak_rss_mb"]) == 1 and summary["peak_rss_mb"][0] > 0
    # Everything came in over the webhook: nothing was queued for getUpdates.
    assert not bot.telegram.pending_updates and not bot.calls["getUpdates"]
    assert {name for name in await databases() if name.startswith("jol_campaign_")} <= {
        name for name in before if name.startswith("jol_campaign_")}


@pytest.mark.parametrize("balance", ["chat", "roundrobin"])
async def test_deployed_balancer_keeps_a_chat_on_one_replica_round_robin_does_not(
        tmp_path: Path, haproxy: None, balance: str) -> None:
    """deploy/haproxy.cfg as the benchmark runs it (two replicas, the third slot empty), and its
    round-robin copy, in front of two stand-in replicas that note what they get: as deployed,
    a chat's messages and presses (compact JSON or with spaces) all reach one replica; round
    robin spreads them. Both use both replicas."""
    chats_seen: defaultdict[str, set[int]] = defaultdict(set)  # replica → chat ids

    async def replica(name: str) -> tuple[web.AppRunner, int]:
        async def webhook(request: web.Request) -> web.Response:
            update = await request.json()
            message = update.get("message") or update["callback_query"]["message"]
            chats_seen[name].add(message["chat"]["id"])
            return web.json_response({"ok": True})

        async def healthz(request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        app = web.Application()
        app.router.add_post("/telegram", webhook)
        app.router.add_get("/healthz", healthz)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner, port

    replicas = [await replica(name) for name in ("a", "b")]
    balancer = free_port()
    process = subprocess.Popen(
        (HAPROXY, "-db", "-f", str(haproxy_config(balance, tmp_path))),
        env=haproxy_env(balancer, [port for _, port in replicas]), stdout=subprocess.DEVNULL)
    telegram = FakeTelegram()
    try:
        async with ClientSession() as session:
            async def post(body: str) -> int:
                async with session.post(f"http://127.0.0.1:{balancer}/telegram",
                                        data=body) as response:
                    return response.status

            assert await wait_healthy(session, f"http://127.0.0.1:{balancer}/healthz", process)
            await asyncio.sleep(2)  # the empty slot's health checks take it out
            for user in range(1, 41):
                start = telegram.message_update(user, "/start --osh_bus_2026")
                press = telegram.callback_update(user, 1, "menu")
                for update in (start, press):
                    assert await post(json.dumps(update)) == 200
                    assert await post(json.dumps(update, separators=(",", ":"))) == 200
    finally:
        await stop_process(process)
        for runner, _ in replicas:
            await runner.cleanup()
    assert chats_seen["a"] | chats_seen["b"] == set(range(1, 41))
    assert chats_seen["a"] and chats_seen["b"]
    shared = chats_seen["a"] & chats_seen["b"]
    assert not shared if balance == "chat" else shared
