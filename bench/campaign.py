"""The campaign benchmark: new users arriving at fixed rates (open loop), as after a poster.

Each arrival is a new user who opens the bot from a campaign deep link (`/start --<code>`, a
code declared in content/campaigns.yaml), then presses two buttons the bot actually sent,
waiting for each answer before the next press. Arrivals follow a fixed schedule per rate and
never wait for answers (open loop); a user is closed-loop. Each target climbs a ladder of rates
until it is saturated, then the ladder is refined between the last rate it held and the first
it did not. See bench/README.md, "Campaign (open loop)".

    python -m bench.campaign                          # every target, 50 → 1,000 arrivals/s
    python -m bench.campaign --targets jol-1,jol-2 --rates 100,200,400 --seconds 8 --json out.json
    python -m bench.campaign --targets jol-2 --profile /tmp/profiles   # py-spy on each replica

Targets: `jol` (one `jol run` long-polling, SQLite: the default deployment), `jol-1`, `jol-2`,
`jol-3` (N `jol run` replicas in webhook mode on one fresh PostgreSQL database behind HAProxy;
the generator POSTs each update to the balancer as Telegram would, with the secret, retrying a
non-2xx answer or a failed connection with backoff), and the peers `aiogram` and `ptb-aiohttp`
(one long-polling process each). The replicas' Bot API calls go to the stand-in in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import gc
import itertools
import json
import math
import os
import random
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import ClientError, ClientSession, ClientTimeout, TCPConnector

from bench.profiling import BOT_COSTS, HARNESS_COSTS, Profiler, cost_split, top_own
from bench.run import (
    FLOOD_SOS_EVERY,
    REPO,
    START_TIMEOUT,
    Action,
    SimulatedUser,
    Target,
    all_targets,
    cpu_seconds,
    flood_waits,
    free_port,
    machine,
    peak_rss_mb,
    percentile,
    polling,
    ratio,
    stop_process,
    target_env,
)
from bot.content.campaigns import parse_campaigns
from bot.fake_telegram import JSON
from bot.standin import SECRET_HEADER, STANDIN, StandInBot, start_standin

STEPS = ("start", "press 1", "press 2")  # a user's whole life: the deep link, two presses
ANSWERED = ("answer", "press-only")
DEFAULT_RATES = (50, 200, 500, 1000)
DEFAULT_TARGETS = ("jol", "jol-1", "jol-2", "jol-3", "aiogram", "ptb-aiohttp")
# A rate is held when the worst step's p99 is at most this, at least this share of the offered
# arrivals complete per second, and no answer is lost; the saturation rate is the highest held.
P99_LIMIT_MS = 1000.0
ACHIEVED_SHARE = 0.95
# Telegram opens at most setWebhook's max_connections at once to a webhook (40 unless the bot
# asks, 100 at most; Jol asks for JOL_WEBHOOK_CONNECTIONS); more updates wait their turn.
TELEGRAM_CONNECTIONS, TELEGRAM_MAX_CONNECTIONS = 40, 100
WEBHOOK_SECRET = "campaign-bench-secret"
WEBHOOK_PATH = "/telegram"
POSTGRES_ADMIN_URL = os.environ.get("JOL_TEST_POSTGRES_URL",
                                    "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
HAPROXY = "/usr/sbin/haproxy"
QUIET = 1.0  # seconds without a Bot API call: the bot has finished the previous rate's work
QUIET_LIMIT = 90.0


def campaign_start(content: Path = REPO / "content") -> str:
    """`/start --<code>` for the first campaign declared in the content."""
    path = content / "campaigns.yaml"
    problems: list[str] = []
    codes = parse_campaigns(path.name, path.read_text("utf-8") if path.exists() else None,
                            lambda *report, **values: problems.append(str(report)))
    if not codes:
        raise SystemExit(f"no campaign code declared in {path} {problems or ''}")
    return f"/start --{next(iter(codes))}"


@dataclass(frozen=True)
class CampaignTarget:
    name: str
    description: str
    process: Target  # what each bot process runs
    replicas: int = 0  # 0: one long-polling process; N: N webhook replicas behind HAProxy
    balance: str = "chat"  # HAProxy as deployed (`chat`), or `roundrobin` instead


def campaign_targets() -> dict[str, CampaignTarget]:
    peers = all_targets()
    jol = peers["jol"]
    targets = [CampaignTarget("jol", "Jol, one `jol run` long-polling, SQLite", jol)]
    targets += [CampaignTarget(f"jol-{n}", f"{n} `jol run` webhook replica{'s' * (n > 1)} on "
                               "PostgreSQL behind deploy/haproxy.cfg", jol, replicas=n)
                for n in range(1, DEPLOYED_SLOTS + 1)]
    # Not run by default: the same with round robin, a chat's updates over every replica.
    targets += [CampaignTarget(f"jol-{n}-rr", f"{n} `jol run` webhook replicas behind HAProxy, "
                               "round robin", jol, replicas=n, balance="roundrobin")
                for n in (2, 3)]
    targets += [CampaignTarget(name, peers[name].description, peers[name])
                for name in ("aiogram", "ptb-aiohttp")]
    return {target.name: target for target in targets}


# ---- the generator as Telegram: webhook delivery ------------------------------------------


class Webhook:
    """POSTs each update to the balancer as Telegram does: with the secret header, over at most
    as many connections as the bot's setWebhook asked for, retrying a non-2xx answer or a
    failed connection with backoff until it is taken, or until `give_up` seconds have passed
    (the answer is lost by then anyway)."""

    def __init__(self, bot: StandInBot, url: str, give_up: float) -> None:
        self.bot = bot
        self.url = url
        self.give_up = give_up
        asked = int(bot.telegram.webhook.get("max_connections") or TELEGRAM_CONNECTIONS)
        self.connections = max(1, min(asked, TELEGRAM_MAX_CONNECTIONS))
        self.session = ClientSession(connector=TCPConnector(limit=self.connections),
                                     timeout=ClientTimeout(total=10))
        self.headers = {SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": "application/json"}
        self.posting: set[asyncio.Task[None]] = set()
        self.retried: Counter[str] = Counter()  # why a delivery was tried again → times
        self.given_up = 0

    def send(self, update: JSON) -> None:
        query = update.get("callback_query")
        if query:  # as StandInBot.push does, so the answer to it wakes whoever waits on the chat
            self.bot._queries[str(query["id"])] = int(query["from"]["id"])
        task = asyncio.create_task(self.post(json.dumps(update).encode()))
        self.posting.add(task)
        task.add_done_callback(self.posting.discard)

    async def post(self, body: bytes) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.give_up
        failures = 0
        while True:
            try:
                async with self.session.post(self.url, data=body,
                                             headers=self.headers) as response:
                    if 200 <= response.status < 300:
                        return
                    reason = f"HTTP {response.status}"
            except (ClientError, TimeoutError) as error:
                reason = type(error).__name__
            failures += 1
            self.retried[reason] += 1
            if loop.time() >= deadline:
                self.given_up += 1
                return
            await asyncio.sleep(min(1.0, 0.05 * 2 ** min(failures, 5)))

    async def settled(self) -> None:
        while self.posting:
            await asyncio.gather(*self.posting)

    async def close(self) -> None:
        for task in self.posting:
            task.cancel()
        await asyncio.gather(*self.posting, return_exceptions=True)
        await self.session.close()


# ---- the processes of a target ------------------------------------------------------------


class NotStarted(Exception):
    """A target could not be started; the message says why (and where its log is)."""


@dataclass
class Deployment:
    """The running processes of one target and how updates reach them."""

    bot: StandInBot
    bots: list[subprocess.Popen[bytes]]
    send: Callable[[JSON], None]
    logs: list[Path]
    haproxy: subprocess.Popen[bytes] | None = None
    database: str | None = None  # the PostgreSQL database of the replicas
    webhook: Webhook | None = None
    admin: asyncpg.Connection | None = None  # to find the database's backends

    async def postgres_pids(self) -> list[int]:
        if self.admin is None:
            return []
        rows = await self.admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1",
                                      self.database)
        return [row["pid"] for row in rows]


def log_tail(path: Path, lines: int = 8) -> str:
    tail = path.read_text(errors="replace").strip().splitlines()[-lines:] if path.exists() else []
    return "\n      ".join(tail)


async def wait_healthy(session: ClientSession, url: str,
                       process: subprocess.Popen[bytes] | None = None) -> bool:
    """Whether GET `url` answered 200 within START_TIMEOUT (and the process still runs)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and (process is None or process.poll() is None):
        with contextlib.suppress(ClientError, TimeoutError):
            async with session.get(url) as response:
                if response.status == 200:
                    return True
        await asyncio.sleep(0.1)
    return False


# The deployment's balancer (deploy/haproxy.cfg: one chat, one replica, health checks,
# retries elsewhere), as it is, or with round robin in place of its hash on the chat id.
DEPLOYED_HAPROXY = REPO / "deploy" / "haproxy.cfg"
CHAT_HASH = "balance hash var(txn.chat)"
DEPLOYED_SLOTS = 3  # JOL_REPLICA_1…3: its servers


def haproxy_config(balance: str, workdir: Path) -> Path:
    """deploy/haproxy.cfg for `chat`; a copy balancing round robin for `roundrobin`."""
    if balance == "chat":
        return DEPLOYED_HAPROXY
    text = DEPLOYED_HAPROXY.read_text()
    if CHAT_HASH not in text:
        raise NotStarted(f"{DEPLOYED_HAPROXY} has no '{CHAT_HASH}' to replace")
    path = workdir / "haproxy-roundrobin.cfg"
    path.write_text(text.replace(CHAT_HASH, "balance roundrobin"))
    return path


def haproxy_env(balancer: int, replicas: list[int]) -> dict[str, str]:
    """The balancer's address and its servers; a slot without a replica points at a port
    nobody listens on, so its health check takes it out."""
    closed = free_port()
    slots = [*replicas, *[closed] * (DEPLOYED_SLOTS - len(replicas))]
    return {**os.environ, "JOL_BALANCER_BIND": f"127.0.0.1:{balancer}",
            **{f"JOL_REPLICA_{i}": f"127.0.0.1:{port}" for i, port in enumerate(slots, 1)}}


def postgres_dsn(database: str) -> str:
    """The admin URL as asyncpg takes it, on `database`."""
    base, _, _ = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://",
                                            1).rpartition("/")
    return f"{base}/{database}"


@contextlib.asynccontextmanager
async def deploy(target: CampaignTarget, bot: StandInBot, base_url: str, workdir: Path,
                 answer_timeout: float) -> AsyncIterator[Deployment]:
    """Start the target's processes; stop them (and drop its database) afterwards."""
    async with contextlib.AsyncExitStack() as stack:
        processes: list[subprocess.Popen[bytes]] = []

        async def stop_all() -> None:
            await asyncio.gather(*(stop_process(p) for p in processes))

        stack.push_async_callback(stop_all)

        def start(command: tuple[str, ...], env: dict[str, str],
                  log_path: Path) -> subprocess.Popen[bytes]:
            with log_path.open("wb") as log:
                process = subprocess.Popen(command, cwd=REPO, stdout=log,
                                           stderr=subprocess.STDOUT, start_new_session=True,
                                           env=env)
            processes.append(process)
            return process

        if not target.replicas:
            log_path = workdir / "bot.log"
            process = start(target.process.command,
                            target_env(target.process, bot.token, base_url, workdir), log_path)
            if not await polling(bot, process):
                raise NotStarted(f"{target.name} did not poll; log {log_path}:\n      "
                                 + log_tail(log_path))
            yield Deployment(bot, [process], bot.push, [log_path])
            return

        if not os.access(HAPROXY, os.X_OK):
            raise NotStarted(f"{HAPROXY} is missing (apt-get install haproxy)")
        database = f"jol_campaign_{secrets.token_hex(4)}"
        try:
            admin = await asyncpg.connect(postgres_dsn(POSTGRES_ADMIN_URL.rpartition("/")[2]),
                                          timeout=5)
        except (OSError, asyncpg.PostgresError) as error:
            raise NotStarted(f"PostgreSQL unusable ({type(error).__name__}: {error})") from None
        stack.push_async_callback(admin.close)
        await admin.execute(f'CREATE DATABASE "{database}"')
        stack.push_async_callback(admin.execute,
                                  f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        session = await stack.enter_async_context(ClientSession(timeout=ClientTimeout(total=2)))
        balancer = free_port()
        url = f"http://127.0.0.1:{balancer}{WEBHOOK_PATH}"
        ports, logs = [], []
        for i in range(target.replicas):
            folder = workdir / f"replica-{i + 1}"
            folder.mkdir()
            port = free_port()
            env = target_env(target.process, bot.token, base_url, folder)
            env.update({"JOL_DATABASE_URL": POSTGRES_ADMIN_URL.rpartition("/")[0]
                        + f"/{database}", "JOL_WEBHOOK_URL": url,
                        "JOL_WEBHOOK_SECRET": WEBHOOK_SECRET, "JOL_HTTP_PORT": str(port),
                        # as compose.yaml says: ~40 deliveries at once for each replica
                        "JOL_WEBHOOK_CONNECTIONS": str(min(100, 40 * target.replicas))})
            log_path = folder / "bot.log"
            process = start(target.process.command, env, log_path)
            ports.append(port)
            logs.append(log_path)
            # The first replica creates the schema and seeds the content alone; the others
            # then start side by side.
            if i == 0 and not await wait_healthy(session, f"http://127.0.0.1:{port}/healthz",
                                                 process):
                raise NotStarted(f"{target.name}: replica 1 did not become healthy; log "
                                 f"{log_path}:\n      {log_tail(log_path)}")
        for process, port, log_path in zip(processes, ports, logs, strict=True):
            if not await wait_healthy(session, f"http://127.0.0.1:{port}/healthz", process):
                raise NotStarted(f"{target.name}: a replica did not become healthy; log "
                                 f"{log_path}:\n      {log_tail(log_path)}")
        deadline = time.monotonic() + START_TIMEOUT  # each calls setWebhook once it serves
        while bot.calls["setWebhook"] < target.replicas and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        haproxy_log = workdir / "haproxy.log"
        haproxy = start((HAPROXY, "-db", "-f", str(haproxy_config(target.balance, workdir))),
                        haproxy_env(balancer, ports), haproxy_log)
        if not await wait_healthy(session, f"http://127.0.0.1:{balancer}/healthz", haproxy):
            raise NotStarted(f"HAProxy did not serve; log {haproxy_log}:\n      "
                             + log_tail(haproxy_log))
        await asyncio.sleep(2)  # its checks (every 0.5 s, out after 2) take out empty slots
        webhook = Webhook(bot, url, answer_timeout)
        stack.push_async_callback(webhook.close)
        yield Deployment(bot, processes[:-1], webhook.send, logs, haproxy, database, webhook,
                         admin)


# ---- one rate -----------------------------------------------------------------------------


@dataclass
class Arrival:
    scheduled: float  # when the user was due to open the link
    sos: bool = False  # with --flood: opens with /sos instead of the link
    actions: list[Action] = field(default_factory=list)
    lag: float = 0.0  # how late the generator let the user in (its own delay)


def machine_busy_seconds() -> float:
    """CPU seconds all cores have been busy since boot (not idle, not waiting for I/O)."""
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")


def cpu_or_none(pid: int) -> float | None:
    try:
        return cpu_seconds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return None


async def cpu_sample(deployment: Deployment) -> dict[str, dict[int, float]]:
    """CPU seconds so far of each process, by group."""
    groups = {"bots": [p.pid for p in deployment.bots],
              "haproxy": [deployment.haproxy.pid] if deployment.haproxy else [],
              "postgres": await deployment.postgres_pids(),
              "harness": [os.getpid()]}
    sample = {group: {pid: cpu for pid in pids if (cpu := cpu_or_none(pid)) is not None}
              for group, pids in groups.items()}
    sample["machine"] = {0: machine_busy_seconds()}
    return sample


def cpu_used(before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
             ) -> dict[str, float]:
    """CPU seconds each group used between two samples; a PostgreSQL backend that appeared in
    between used all of its CPU in between."""
    used = {group: sum(cpu - before.get(group, {}).get(pid, 0.0) for pid, cpu in pids.items())
            for group, pids in after.items()}
    used["other"] = used["machine"] - sum(v for k, v in used.items() if k != "machine")
    return used


@dataclass
class RateRun:
    rate: float
    seconds: float
    warmup: float
    arrivals: list[Arrival] = field(default_factory=list)
    window: tuple[float, float] = (0.0, 0.0)
    cpu: dict[str, float] = field(default_factory=dict)  # group → CPU seconds in the window
    bot_cpu: list[float] = field(default_factory=list)  # each bot process's, in the window
    peak_rss_mb: list[float] = field(default_factory=list)  # per bot process
    api_errors: dict[str, int] = field(default_factory=dict)
    webhook_retries: dict[str, int] = field(default_factory=dict)
    webhook_given_up: int = 0
    rate_limited: int = 0  # 429s the stand-in answered (--flood)

    def summary(self) -> dict[str, Any]:
        start, end = self.window
        seconds = end - start
        measured = [a for a in self.arrivals if start <= a.scheduled < end]
        actions = [action for a in self.arrivals for action in a.actions]
        outcomes = Counter(action.outcome for action in actions)
        done_in_window = sum(action.outcome in ANSWERED and start <= action.finished <= end
                             for action in actions)
        steps = {}
        for index, step in enumerate(STEPS):
            latencies = [a.actions[index].latency for a in measured
                         if len(a.actions) > index and a.actions[index].outcome in ANSWERED]
            steps[step] = {f"p{p}_ms": round(percentile(latencies, p), 1) for p in (50, 95, 99)}
            steps[step]["n"] = len(latencies)
        worst_p99 = max((s["p99_ms"] for s in steps.values()), default=math.nan)
        achieved = done_in_window / len(STEPS) / seconds
        lost = outcomes["lost"] + outcomes["no-button"]
        result = {
            "offered_per_s": self.rate,
            "sent_per_s": round(sum(start <= a.scheduled + a.lag < end for a in self.arrivals)
                                / seconds, 1),
            "achieved_per_s": round(achieved, 1),
            "users": len(self.arrivals),
            "completed_users": sum(len(a.actions) == len(STEPS)
                                   and all(x.outcome in ANSWERED for x in a.actions)
                                   for a in self.arrivals),
            "steps": steps,
            "worst_p99_ms": worst_p99,
            "lost": outcomes["lost"],
            "no_button": outcomes["no-button"],
            "press_only": outcomes["press-only"],
            "generator_lag_p99_ms": round(percentile([a.lag for a in measured], 99), 1),
            "peak_rss_mb": [round(mb, 1) for mb in self.peak_rss_mb],
            "cpu_cores": {group: round(used / seconds, 3) for group, used in self.cpu.items()},
            "bot_cpu_cores_each": [round(used / seconds, 3) for used in self.bot_cpu],
            "bot_cpu_ms_per_user": round(1000 * self.cpu.get("bots", 0.0)
                                         / max(achieved * seconds, 1), 2),
            "api_errors": self.api_errors,
            "webhook_retries": self.webhook_retries,
            "webhook_given_up": self.webhook_given_up,
            "rate_limited_429": self.rate_limited,
            # How long each kind of answer waited (of the users who arrived in the window):
            # with --flood, the SOS answers beside the rest.
            "waits": flood_waits([action for a in measured for action in a.actions
                                  if action.outcome in ANSWERED]),
        }
        result["held"] = bool(worst_p99 <= P99_LIMIT_MS and not lost
                              and achieved >= ACHIEVED_SHARE * self.rate)
        return result


async def quiet(bot: StandInBot) -> None:
    """Until the bot has made no Bot API call but getUpdates for QUIET seconds (at most
    QUIET_LIMIT): what a saturated rate left queued must not load the next one."""
    def calls() -> int:
        return sum(n for method, n in bot.calls.items() if method != "getUpdates")

    deadline = time.monotonic() + QUIET_LIMIT
    seen = calls()
    while time.monotonic() < deadline:
        await asyncio.sleep(QUIET)
        if (now := calls()) == seen:
            return
        seen = now


async def run_rate(deployment: Deployment, rate: float, seconds: float, warmup: float,
                   answer_timeout: float, start_text: str, first_user: int,
                   at_window: Callable[[], None] = lambda: None, sos_every: int = 0
                   ) -> RateRun:
    """New users at `rate` a second for `seconds`; the first `warmup` seconds are load but
    not figures (`at_window` is called when the figures begin); every `sos_every`-th user
    opens with /sos instead. Returns once every user is done and the bot is quiet again."""
    bot = deployment.bot
    run = RateRun(rate, seconds, warmup)
    errors_before = Counter(bot.errors)
    retried_before = Counter(deployment.webhook.retried if deployment.webhook else {})
    given_up_before = deployment.webhook.given_up if deployment.webhook else 0
    limited_before = bot.telegram.rate_limited
    began = time.perf_counter() + 0.05
    run.window = (began + warmup, began + seconds)

    async def live(arrival: Arrival, user: SimulatedUser) -> None:
        arrival.lag = time.perf_counter() - arrival.scheduled
        for step in STEPS:
            action = await user.act("sos" if arrival.sos and step == "start"
                                    else step.split()[0])
            if step == "start":  # open loop: the wait for the generator counts too
                action = replace(action, started=arrival.scheduled)
            arrival.actions.append(action)
            if action.outcome not in ANSWERED:
                return  # no answer, or nothing to press: the person gives up

    async def sample_cpu() -> None:
        await asyncio.sleep(max(0.0, run.window[0] - time.perf_counter()))
        before = await cpu_sample(deployment)
        at_window()
        await asyncio.sleep(max(0.0, run.window[1] - time.perf_counter()))
        after = await cpu_sample(deployment)
        run.cpu = cpu_used(before, after)
        run.bot_cpu = [after["bots"].get(p.pid, math.nan) - before["bots"].get(p.pid, math.nan)
                       for p in deployment.bots]

    sampler = asyncio.create_task(sample_cpu())
    users = []
    for i in range(round(rate * seconds)):
        due = began + i / rate
        if (delay := due - time.perf_counter()) > 0:
            await asyncio.sleep(delay)
        user_id = first_user + i
        # A third of the phones report Kyrgyz, the rest Russian; every target gets the same
        # users with the same presses at the same rate.
        user = SimulatedUser(bot, user_id, "ky" if i % 3 == 0 else "ru",
                             random.Random(i), answer_timeout,
                             send=deployment.send, start=start_text)
        arrival = Arrival(due, sos=bool(sos_every) and i % sos_every == 0)
        run.arrivals.append(arrival)
        users.append(asyncio.create_task(live(arrival, user)))
    await asyncio.gather(*users)
    await sampler
    if deployment.webhook is not None:
        await deployment.webhook.settled()
        run.webhook_retries = dict(Counter(deployment.webhook.retried) - retried_before)
        run.webhook_given_up = deployment.webhook.given_up - given_up_before
    run.peak_rss_mb = [peak_rss_mb(p.pid) for p in deployment.bots]
    await quiet(bot)
    run.api_errors = dict(Counter(bot.errors) - errors_before)
    run.rate_limited = bot.telegram.rate_limited - limited_before
    # What this rate left (its users' chats) lives to the end: keep it out of the collector's
    # passes, so the harness costs the same at every rate.
    gc.collect()
    gc.freeze()
    return run


# ---- a target's ladder of rates -----------------------------------------------------------


def next_rate(rates: list[float], results: list[tuple[float, bool]], refine: int
              ) -> float | None:
    """The next rate to offer, from (rate, held) so far: up the ladder until a rate is not
    held; then halfway between the highest rate held below it and it, `refine` times at most
    and while they are more than 10 % apart; None when done."""
    failed = [rate for rate, held in results if not held]
    if not failed:
        tried = max((rate for rate, _ in results), default=0.0)
        return next((rate for rate in sorted(rates) if rate > tried), None)
    first_failure = next(i for i, (_, held) in enumerate(results) if not held)
    if len(results) - 1 - first_failure >= refine:
        return None
    high = min(failed)
    low = saturation(results)
    if high - low <= 0.1 * high:
        return None
    return float(round((low + high) / 2))


def every_rate(rates: list[float], results: list[tuple[float, bool]]) -> float | None:
    """With --flood, every rate of the list once: above Telegram's limit none is held, and what
    is measured is how long each kind of answer waits."""
    return rates[len(results)] if len(results) < len(rates) else None


def saturation(results: list[tuple[float, bool]]) -> float:
    """The highest rate held below the lowest rate not held (0: not even the lowest)."""
    failed = [rate for rate, held in results if not held]
    ceiling = min(failed, default=math.inf)
    return max((rate for rate, held in results if held and rate < ceiling), default=0.0)


def errors_logged(logs: list[Path]) -> int:
    """Lines at ERROR or worse, and tracebacks, in the bots' logs."""
    count = 0
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            count += " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")
    return count


def profile_summary(recordings: dict[str, Path], summary: dict[str, Any]) -> dict[str, Any]:
    """Bot process 1's and the harness's CPU split into costs (printed), and the files."""
    result: dict[str, Any] = {"files": {name: str(path) for name, path in recordings.items()}}
    per_update = summary["bot_cpu_ms_per_user"] / len(STEPS)
    for name, rules, label in (("1", BOT_COSTS, "bot process 1"),
                               ("harness", HARNESS_COSTS, "harness")):
        if name not in recordings:
            continue
        split = cost_split(recordings[name], rules)
        result[f"{label} costs"] = {cost: round(share, 3) for cost, share in split.items()}
        result[f"{label} top functions"] = [(frame, round(share, 3)) for frame, share
                                            in top_own(recordings[name], 10)]
        print(f"      {label}, share of its CPU"
              + (f" (ms per update, at {per_update:.2f} ms of bot CPU per update)"
                 if name == "1" else "") + ":")
        for cost, share in split.items():
            ms = f"{share * per_update:6.3f} ms  " if name == "1" else ""
            print(f"        {100 * share:5.1f} %  {ms}{cost}")
    return result


async def others_use(deployment: Deployment, seconds: float) -> float:
    """Cores used by processes that are neither the target's nor the harness, over `seconds`."""
    before = await cpu_sample(deployment)
    await asyncio.sleep(seconds)
    return cpu_used(before, await cpu_sample(deployment))["other"] / seconds


async def settle(deployment: Deployment, limit: float, max_other: float) -> None:
    """Wait, at most `limit` seconds, until other processes use at most `max_other` cores:
    the machine is shared, and what they take is not there for the target."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and await others_use(deployment, 1.0) > max_other:
        pass


async def measure(deployment: Deployment, name: str, rate: float, args: argparse.Namespace,
                  start_text: str, first_user: int, profiler: Profiler | None
                  ) -> dict[str, Any]:
    """One rate once the machine is quiet; its summary, printed (with the profile's)."""
    await settle(deployment, args.settle, args.max_other)
    pids = {str(i): p.pid for i, p in enumerate(deployment.bots, 1)}
    record = (functools.partial(profiler.record, f"{name}-{rate:g}-{first_user // 1_000_000}",
                                {**pids, "harness": os.getpid()}, args.seconds - args.warmup)
              if profiler else lambda: None)
    run = await run_rate(deployment, rate, args.seconds, args.warmup, args.answer_timeout,
                         start_text, first_user, record,
                         sos_every=FLOOD_SOS_EVERY if args.flood else 0)
    summary = run.summary()
    print_rate(name, summary)
    if profiler:
        summary["profile"] = profile_summary(await profiler.finish(), summary)
    return summary


async def measure_rate(deployment: Deployment, name: str, rate: float,
                       args: argparse.Namespace, start_text: str, attempts: Counter[str],
                       profiler: Profiler | None) -> dict[str, Any]:
    """One rate, measured again (at most --repeat times) while other processes took more
    than --max-other cores; the quietest attempt's summary."""
    tries = []
    for _ in range(1 + args.repeat):
        attempts[name] += 1
        summary = await measure(deployment, name, rate, args, start_text,
                                1_000_000 * attempts[name], profiler)
        tries.append(summary)
        if summary["cpu_cores"]["other"] <= args.max_other:
            break
        print(f"      other processes used {summary['cpu_cores']['other']:.2f} cores (more "
              f"than {args.max_other:g})" + ("; again" if len(tries) <= args.repeat else ""),
              flush=True)
    summary = min(tries, key=lambda s: s["cpu_cores"]["other"])
    summary["others_cores_per_try"] = [s["cpu_cores"]["other"] for s in tries]
    summary["lost_per_try"] = [s["lost"] + s["no_button"] for s in tries]
    return summary


def remove(folders: list[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def prioritise_harness(niceness: int) -> None:
    """Give this process (Telegram and the users' phones, which in life are not on the bot's
    machine) the CPU before the processes it measures, so that its own lateness does not
    pass for theirs. Called once they have started: children inherit a niceness."""
    if niceness >= os.getpriority(os.PRIO_PROCESS, 0):
        return
    try:
        os.setpriority(os.PRIO_PROCESS, 0, niceness)
    except PermissionError:
        print(f"   (the harness stays at niceness {os.getpriority(os.PRIO_PROCESS, 0)}: "
              f"{niceness} needs root)", flush=True)


async def run_all(targets: list[CampaignTarget], args: argparse.Namespace
                  ) -> list[dict[str, Any]]:
    """Start every target, then climb their ladders side by side: each round measures each
    target not yet done at its next rate, in an order that turns round by round, so that
    what else the shared machine runs falls on all of them alike."""
    start_text = campaign_start()
    profiler = Profiler(Path(args.profile)) if args.profile else None
    results = {t.name: {"target": t.name, "description": t.description,
                        "replicas": t.replicas or 1, "runs": []} for t in targets}
    ladders: dict[str, list[tuple[float, bool]]] = {}
    workdirs: list[Path] = []
    # SIGTERM stops like Ctrl-C: the processes stop and the databases are dropped. The flag
    # stops the rounds too should a cancellation be lost on its way (Python 3.11's
    # asyncio.timeout can lose one that comes as its timeout expires).
    main, terminated = asyncio.current_task(), asyncio.Event()

    def terminate() -> None:
        terminated.set()
        if main is not None:
            main.cancel()

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, terminate)
    runner, base_url = await start_standin("127.0.0.1", 0, flood=args.flood)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(runner.cleanup)
        stack.callback(remove, workdirs)
        deployments: dict[str, Deployment] = {}
        for index, target in enumerate(targets):
            print(f"-- {target.name}: {target.description}", flush=True)
            bot = runner.app[STANDIN].bot(f"{800001 + index}:campaign-{target.name}")
            workdir = Path(tempfile.mkdtemp(prefix=f"jol-campaign-{target.name}-"))
            try:
                deployments[target.name] = await stack.enter_async_context(
                    deploy(target, bot, base_url, workdir, args.answer_timeout))
            except NotStarted as error:  # its workdir is kept, for the log
                results[target.name]["skipped"] = str(error)
                print(f"   skipped: {error}", flush=True)
                continue
            workdirs.append(workdir)
            ladders[target.name] = []
        prioritise_harness(args.harness_nice)
        attempts: Counter[str] = Counter()
        for turn in itertools.count():
            due = [(name, rate) for name in deployments
                   if (rate := (every_rate(args.rates, ladders[name]) if args.flood else
                                next_rate(args.rates, ladders[name], args.refine))) is not None]
            if not due:
                break
            shift = turn % len(due)
            print(f"-- round {turn + 1}: "
                  + ", ".join(f"{name} at {rate:g}/s" for name, rate in due), flush=True)
            for name, rate in due[shift:] + due[:shift]:
                if terminated.is_set():
                    raise asyncio.CancelledError
                summary = await measure_rate(deployments[name], name, rate, args, start_text,
                                             attempts, profiler)
                results[name]["runs"].append(summary)
                ladders[name].append((rate, summary["held"]))
        for name, deployment in deployments.items():
            results[name]["errors_logged"] = errors_logged(deployment.logs)
    for name, ladder in ladders.items():
        result = results[name]
        result["runs"].sort(key=lambda s: s["offered_per_s"])
        result["saturation_per_s"] = saturation(ladder)
        failed = [rate for rate, held in ladder if not held]
        result["first_not_held_per_s"] = min(failed) if failed else None
        result["peak_rss_mb"] = max((mb for s in result["runs"] for mb in s["peak_rss_mb"]),
                                    default=math.nan)
    return list(results.values())


# ---- the report ---------------------------------------------------------------------------


def cores(summary: dict[str, Any], group: str) -> str:
    value = summary["cpu_cores"].get(group)
    return "—" if value is None else f"{value:.2f}"


def print_rate(name: str, s: dict[str, Any]) -> None:
    steps = "  ".join(f"{step} {v['p50_ms']:.0f}/{v['p95_ms']:.0f}/{v['p99_ms']:.0f}"
                      for step, v in s["steps"].items())
    unpressed = f" (+{s['no_button']} not pressed)" if s["no_button"] else ""
    print(f"   {name}: {s['offered_per_s']:g}/s offered, {s['sent_per_s']:g} sent, "
          f"{s['achieved_per_s']:g} achieved; ms p50/p95/p99: {steps}; lost {s['lost']}"
          f"{unpressed}; "
          f"peak MB {', '.join(f'{mb:.0f}' for mb in s['peak_rss_mb'])}; "
          f"{'held' if s['held'] else 'NOT held'}", flush=True)
    if s["rate_limited_429"] or "sos" in s["waits"]:
        waits = "  ".join(f"{kind} {v['p50_ms']:.0f}/{v['p95_ms']:.0f}/{v['p99_ms']:.0f}"
                          for kind, v in s["waits"].items())
        print(f"      waits ms p50/p95/p99: {waits}; 429s {s['rate_limited_429']}", flush=True)


def print_table(results: list[dict[str, Any]]) -> None:
    print(f"\n{'target':<12} {'offered':>7} {'sent':>6} {'achieved':>8}  "
          f"{'start p50/p95/p99 ms':>20}  {'press 1':>16}  {'press 2':>16} {'lost':>5} "
          f"{'peak MB':>9}  CPU cores: {'bots':>5} {'haproxy':>7} {'pg':>5} {'harness':>7} "
          f"{'other':>5} {'machine':>7}  held")
    for result in results:
        if "skipped" in result:
            print(f"{result['target']:<12} skipped: {result['skipped'].splitlines()[0]}")
            continue
        for s in result["runs"]:
            steps = [s["steps"][step] for step in STEPS]
            cells = ["/".join(f"{v[f'p{p}_ms']:.0f}" for p in (50, 95, 99)) for v in steps]
            print(f"{result['target']:<12} {s['offered_per_s']:>7g} {s['sent_per_s']:>6.0f} "
                  f"{s['achieved_per_s']:>8.0f}  {cells[0]:>20}  {cells[1]:>16}  "
                  f"{cells[2]:>16} {sum(s['lost_per_try']):>5} "
                  f"{max(s['peak_rss_mb'], default=math.nan):>9.0f}  "
                  f"{'':>10} {cores(s, 'bots'):>5} {cores(s, 'haproxy'):>7} "
                  f"{cores(s, 'postgres'):>5} {cores(s, 'harness'):>7} {cores(s, 'other'):>5} "
                  f"{cores(s, 'machine'):>7}  {'yes' if s['held'] else 'NO'}")
    if any("sos" in s["waits"] for r in results for s in r.get("runs", [])):
        print_flood_waits(results)
        return
    done = {r["target"]: r for r in results if "skipped" not in r}
    aiogram = done.get("aiogram", {}).get("saturation_per_s")
    jol1 = done.get("jol-1", {}).get("saturation_per_s")
    print(f"\n{'target':<12} {'saturation/s':>12} {'first not held':>14} {'vs aiogram':>10} "
          f"{'vs jol-1':>8} {'peak MB/process':>15} {'errors logged':>13}")
    for result in results:
        if "skipped" in result:
            continue
        first = result["first_not_held_per_s"]
        print(f"{result['target']:<12} {result['saturation_per_s']:>12g} "
              f"{'—' if first is None else f'{first:g}':>14} "
              f"{ratio(result['saturation_per_s'], aiogram):>10} "
              f"{ratio(result['saturation_per_s'], jol1):>8} "
              f"{result['peak_rss_mb']:>15.0f} {result['errors_logged']:>13}")


def print_flood_waits(results: list[dict[str, Any]]) -> None:
    print(f"\n{'target':<12} {'offered':>7} {'429s':>6}  waits p50/p95/p99 ms: "
          f"{'SOS':>17} {'link /start':>17} {'press':>17} {'rest':>17}  SOS p99 / rest p99")
    for result in results:
        for s in result.get("runs", []):
            waits = s["waits"]
            cells = ["/".join(f"{waits[kind][f'p{p}_ms']:.0f}" for p in (50, 95, 99))
                     if kind in waits else "—" for kind in ("sos", "start", "press", "rest")]
            share = (f"{waits['sos']['p99_ms'] / waits['rest']['p99_ms']:.2f}"
                     if "sos" in waits and "rest" in waits and waits["rest"]["p99_ms"] else "—")
            print(f"{result['target']:<12} {s['offered_per_s']:>7g} {s['rate_limited_429']:>6}  "
                  f"{'':>20} {cells[0]:>17} {cells[1]:>17} {cells[2]:>17} {cells[3]:>17}  "
                  f"{share}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.campaign",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default=",".join(DEFAULT_TARGETS),
                        help="comma-separated, from: " + ", ".join(campaign_targets()))
    parser.add_argument("--rates", default=",".join(map(str, DEFAULT_RATES)),
                        help="the ladder: new users a second (default 50,200,500,1000)")
    parser.add_argument("--seconds", type=float, default=5.0,
                        help="seconds of arrivals per rate (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="first seconds of each rate left out of the figures (default 1)")
    parser.add_argument("--refine", type=int, default=3,
                        help="rates tried between the highest held and the first not held "
                             "(default 3)")
    parser.add_argument("--answer-timeout", type=float,
                        help="seconds before an answer counts as lost (default 10; 60 with "
                             "--flood)")
    parser.add_argument("--flood", action="store_true",
                        help="Telegram's limit on: the stand-in answers 429 above 30 messages "
                             "a second; every 10th user opens with /sos instead of the link; "
                             "each rate is measured once and each kind of answer's waits "
                             "are reported, SOS beside the rest")
    parser.add_argument("--max-other", type=float, default=0.25, metavar="CORES",
                        help="a rate waits until processes other than the target's and the "
                             "harness use at most this many cores (this machine is shared), "
                             "and is measured again if they used more (default 0.25)")
    parser.add_argument("--settle", type=float, default=15.0, metavar="SECONDS",
                        help="the longest wait for that before each rate (default 15)")
    parser.add_argument("--repeat", type=int, default=2,
                        help="measure a rate again at most this many times when other "
                             "processes used too much; the quietest is kept (default 2)")
    parser.add_argument("--harness-nice", type=int, default=-5, metavar="N",
                        help="the harness's niceness once the targets run, below theirs (0), "
                             "so that it is not the one starved of CPU (default -5; needs "
                             "root, else it stays at 0)")
    parser.add_argument("--profile", metavar="DIR",
                        help="record each bot process with py-spy during each rate's window "
                             "(raw stacks in DIR) and print the costliest frames")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.answer_timeout is None:
        args.answer_timeout = 60.0 if args.flood else 10.0
    try:
        args.rates = sorted({float(rate) for rate in args.rates.split(",")})
    except ValueError:
        parser.error("--rates must be numbers, comma-separated")
    if not args.rates or args.rates[0] <= 0:
        parser.error("--rates must be positive")
    if args.seconds <= args.warmup or args.warmup < 0:
        parser.error("--seconds must be longer than --warmup")
    unknown = set(args.targets.split(",")) - set(campaign_targets())
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    targets = [campaign_targets()[name] for name in args.targets.split(",")]
    about = machine()
    print(f"{about['date']}  {about['nproc']} CPUs ({about['cpu']})  Python {about['python']}")
    print(f"campaign: {campaign_start()}, then 2 presses; rates {args.rates}, "
          f"{args.seconds:g} s each ({args.warmup:g} s warm-up)", flush=True)
    results = asyncio.run(run_all(targets, args))
    print_table(results)
    if args.json:
        report = {"machine": about, "mode": "campaign", "start": campaign_start(),
                  "rates": args.rates, "seconds": args.seconds, "warmup_s": args.warmup,
                  "refine": args.refine, "answer_timeout_s": args.answer_timeout,
                  "p99_limit_ms": P99_LIMIT_MS, "achieved_share": ACHIEVED_SHARE,
                  "results": results}
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    lost = sum(sum(s["lost_per_try"]) for r in results for s in r.get("runs", []))
    return 1 if lost else 0  # no answer may be lost, in any attempt


if __name__ == "__main__":
    raise SystemExit(main())
