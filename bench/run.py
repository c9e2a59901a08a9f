"""The load benchmark: closed-loop simulated users against a Bot API stand-in.

Each target bot runs as its own process, long-polling a stand-in (bot/standin.py) that lives in
this process beside the simulated users. A user takes one action, waits for the bot's visible
answer, then takes the next: /start, two presses on buttons the bot actually sent, a free-text
search. Latency is the time from the action to the answer. See bench/README.md.

    python -m bench                           # all targets, 100 users, 20 s each
    python -m bench --targets jol,aiogram --users 50 --duration 10 --json out.json
    python -m bench --flood                   # 429s above 30 messages/s; 400 new users in 8 s,
                                              # 3 actions each, 1 in 10 opening with /sos
    python -m bench --targets jol --reload-every 2   # jol, then jol with /reload every 2 s
    python -m bench --targets jol --reload-every 2 --reload-edit   # a topic edited each time
    python -m bench --cold-start              # 100 users' /start waiting before jol starts
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import functools
import itertools
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/run.py` as well as `python -m bench`
    sys.path.insert(0, str(REPO))

from bot.fake_telegram import JSON, ChatLog  # noqa: E402
from bot.standin import STANDIN, StandIn, StandInBot, start_standin  # noqa: E402

QUERIES = {
    "ru": ["забрали паспорт", "работа в корее", "не платят зарплату", "как сделать патент",
           "регистрация в москве", "проверить агентство", "запрет на въезд", "телефон доверия",
           "работодатель угрожает", "сколько дней можно быть в россии"],
    "ky": ["айлык бербей жатат", "паспортумду алып коюшту", "кореяга кантип барам",
           "орусияда каттоо", "жумуш сунушун текшерүү", "элчиликтин телефону",
           "кирүүгө тыюу салынган", "агенттик акча сурап жатат"],
}
SCRIPT = ("start", "press", "press", "search")  # one cycle of a user in the load run
FLOOD_SCRIPT = ("start", "press", "search")  # the whole life of a user in the flood run
# In the flood, every FLOOD_SOS_EVERY-th user opens with /sos instead of /start: their answers'
# waits are reported apart from the rest (the urgent answers should go out first).
FLOOD_SOS_EVERY = 10
FLOOD_SOS_SCRIPT = ("sos", "press", "search")
# Deletes the chat's history in several calls: not the navigation this benchmark measures.
SKIP_BUTTONS = {"clear!"}
# A bot that only answers the callback query gets this long for a new screen to follow before
# the press counts as answered without one ("press-only", timed at the callback answer). Jol
# does this on purpose for a press on the screen already shown; for the echo peers, whose
# every press sends a message, it means the message was lost.
PRESS_GRACE = 1.0
START_TIMEOUT = 60.0  # seconds for a bot process to reach its first getUpdates
STOP_TIMEOUT = 15.0
# With --reload-every, this user is Jol's admin (JOL_ADMIN_IDS) and sends /reload; its actions
# are counted apart, so the figures are those of the other chats.
ADMIN_ID = 9_999
RELOADED = "Контент обновлён"  # the start of the Russian answer to a /reload that applied
# With --reload-edit, the admin changes this many topics' texts before each /reload, a new
# sentence at the end of each, so the content really differs (and is parsed again).
EDITED_TOPICS = 1
# With --cold-start, these targets unless --targets names others: Jol beside the bare echo on
# the same transport, so the cold start is compared with what the framework itself costs.
COLD_TARGETS = ("jol", "ptb-aiohttp")
QUEUED = "queued"  # the detail of a cold-start /start that waited before the bot started


@dataclass(frozen=True)
class Target:
    name: str
    description: str
    command: tuple[str, ...]
    jol: bool = False
    reloads: bool = False  # an admin sends /reload during the load (--reload-every)


def all_targets() -> dict[str, Target]:
    python = sys.executable
    peers = REPO / "bench" / "peers"
    targets = [
        Target("jol", "Jol (`jol run`, long polling)", (python, "-m", "bot.cli", "run"),
               jol=True),
        Target("ptb", "PTB echo, default settings (httpx, one update at a time)",
               (python, str(peers / "ptb_echo.py"))),
        Target("ptb-aiohttp", "PTB echo on Jol's AiohttpRequest, concurrent updates",
               (python, str(peers / "ptb_echo.py"), "--aiohttp", "--concurrent")),
        Target("aiogram", "aiogram 3 echo, default settings",
               (python, str(peers / "aiogram_echo.py"))),
        Target("raw", "raw aiohttp loop, no framework (the harness's ceiling)",
               (python, str(peers / "raw_aiohttp.py"))),
        # Not run by default: each of the two changes in ptb-aiohttp on its own.
        Target("ptb-concurrent", "PTB echo, httpx, concurrent updates",
               (python, str(peers / "ptb_echo.py"), "--concurrent")),
        Target("ptb-aiohttp-seq", "PTB echo on Jol's AiohttpRequest, one update at a time",
               (python, str(peers / "ptb_echo.py"), "--aiohttp")),
    ]
    return {target.name: target for target in targets}


DEFAULT_TARGETS = ("jol", "ptb", "ptb-aiohttp", "aiogram", "raw")


@dataclass
class Action:
    kind: str
    started: float
    finished: float
    outcome: str  # "answer", "press-only" (only the callback answered), "lost", "no-button"
    detail: str = ""  # the text sent or the button's callback data

    @property
    def latency(self) -> float:
        return self.finished - self.started


def is_url(data: str) -> bool:
    return "://" in data or data.startswith("tg:")


def buttons_on_screen(chat: ChatLog) -> tuple[int, list[str]] | None:
    """The newest message with buttons a user would press, and their callback data."""
    for message in reversed(chat.messages.values()):
        if message.deleted or not message.buttons:
            continue
        data = [d for row in message.buttons for _, d in row
                if not is_url(d) and d not in SKIP_BUTTONS]
        if data:
            return message.message_id, data
    return None


class TopicEditor:
    """An editor changing Jol's content folder between reloads: each edit gives the next of
    the Russian topics a new last sentence (in place of the one the previous edit added)."""

    def __init__(self, content: Path) -> None:
        self.originals = {path: path.read_text("utf-8")
                          for path in sorted((content / "ru").glob("*.md"))}
        self.edits = 0

    def edit(self) -> None:
        paths = list(self.originals)
        for _ in range(EDITED_TOPICS):
            self.edits += 1
            path = paths[self.edits % len(paths)]
            path.write_text(f"{self.originals[path].rstrip()}\n\nПравка № {self.edits}.\n",
                            "utf-8")


class SimulatedUser:
    """One person in a private chat with the bot; waits for each answer before acting again.

    `send` hands an update to the bot: by default the stand-in's queue, which getUpdates
    reads; the campaign benchmark POSTs it to a webhook instead. `start` is what /start says
    (a deep link's payload after it)."""

    def __init__(self, bot: StandInBot, user_id: int, lang: str, rng: random.Random,
                 answer_timeout: float, send: Callable[[JSON], None] | None = None,
                 start: str = "/start") -> None:
        self.bot = bot
        self.user_id = user_id
        self.lang = lang
        self.rng = rng
        self.answer_timeout = answer_timeout
        self.send = send or bot.push
        self.start = start
        self.chat = bot.chat(user_id)

    async def act(self, kind: str) -> Action:
        if kind == "press":
            return await self.press()
        text = ({"start": self.start, "sos": "/sos"}.get(kind)
                or self.rng.choice(QUERIES[self.lang]))
        events = len(self.chat.events)
        started = time.perf_counter()
        update = self.bot.telegram.message_update(self.user_id, text, language_code=self.lang)
        events += 1  # the user's own message ("user N") is an event too
        self.send(update)
        answered = await self.bot.wait_for_chat(self.user_id, events, self.answer_timeout)
        return Action(kind, started, time.perf_counter(), "answer" if answered else "lost",
                      text)

    async def press(self) -> Action:
        started = time.perf_counter()
        screen = buttons_on_screen(self.chat)
        if screen is None:
            return Action("press", started, started, "no-button")
        message_id, choices = screen
        events, answers = len(self.chat.events), len(self.chat.callback_answers)
        unchanged = self.bot.unchanged[self.user_id]

        def screen_changed(chat: ChatLog) -> bool:
            return (len(chat.events) > events
                    or self.bot.unchanged[self.user_id] > unchanged)

        data = self.rng.choice(choices)
        self.send(self.bot.telegram.callback_update(self.user_id, message_id, data,
                                                    language_code=self.lang))
        answered = await self.bot.wait_until(
            self.user_id, lambda c: screen_changed(c) or len(c.callback_answers) > answers,
            self.answer_timeout)
        if not answered:
            return Action("press", started, time.perf_counter(), "lost", data)
        if screen_changed(self.chat):
            return Action("press", started, time.perf_counter(), "answer", data)
        answered_at = time.perf_counter()
        if await self.bot.wait_until(self.user_id, screen_changed, PRESS_GRACE):
            return Action("press", started, time.perf_counter(), "answer", data)
        return Action("press", started, answered_at, "press-only", data)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory (VmHWM), in MiB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return math.nan


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)] * 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def polling(bot: StandInBot, process: subprocess.Popen[bytes]) -> bool:
    """Whether the bot process reached its first getUpdates within START_TIMEOUT."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and process.poll() is None:
        if bot.calls["getUpdates"]:
            return True
        await asyncio.sleep(0.1)
    return False


async def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it lingers; the loop keeps serving its last calls."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT
        while process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
    if process.poll() is None:
        process.kill()
        process.wait()


def with_reloads(target: Target, every: float, edit: bool, publish: bool = False) -> Target:
    """The same bot, measured again while an admin sends /reload (or an editor publishes a
    version) every `every` seconds."""
    if publish:
        return replace(target, name=f"{target.name}+publish", reloads=True,
                       description=f"{target.description}, a topic edited and published "
                                   f"every {every:g} s")
    what = "a topic edited before each" if edit else "nothing edited"
    return replace(target, name=f"{target.name}+reload",
                   description=f"{target.description}, /reload every {every:g} s ({what})",
                   reloads=True)


# Jol runs as its image runs it (Dockerfile): `python -OO` drops docstrings and asserts, ~7 MB
# a process, from bytecode compiled before the start.
IMAGE_PYTHON = {"PYTHONOPTIMIZE": "2",
                "PYTHONPYCACHEPREFIX": str(Path(tempfile.gettempdir()) / "jol-bench-pyc-OO")}


@functools.cache
def image_python_env() -> dict[str, str]:
    """IMAGE_PYTHON, with what a Jol process imports compiled once: compiling at a measured
    start would cost it ~1.6 s of CPU and a few MB of peak. Jol writes no bytecode itself
    (PYTHONDONTWRITEBYTECODE may be set), as in the image."""
    env = {**os.environ, **IMAGE_PYTHON, "PYTHONPATH": str(REPO)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", "import bot.cli, bot.server, bot.workspace.app, "
                    "aiosqlite, asyncpg, sqlalchemy.dialects.postgresql.asyncpg"],
                   env=env, cwd=REPO, check=True)
    return {**IMAGE_PYTHON, "PYTHONDONTWRITEBYTECODE": "1"}


def target_env(target: Target, token: str, base_url: str, workdir: Path,
               admin: bool = False, content: Path = REPO / "content",
               publish: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JOL_", "TELEGRAM_", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
                                "http_proxy", "https_proxy", "all_proxy"))}
    env.update({
        "TELEGRAM_BOT_TOKEN": token,
        "JOL_API_BASE_URL": base_url,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        "NO_PROXY": "127.0.0.1,localhost",
    })
    if target.jol:
        env.update({
            "JOL_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'jol.sqlite3'}",
            "JOL_CONTENT_DIR": str(content),
            "JOL_SECRET": "benchmark-secret",
            "JOL_HTTP_HOST": "127.0.0.1",
            "JOL_HTTP_PORT": str(free_port()),
            **image_python_env(),
        })
        if admin and not publish:
            env["JOL_ADMIN_IDS"] = str(ADMIN_ID)
            # The admin's /reload must re-read the folder it edits (--reload-edit); served from
            # the database, /reload re-reads the unchanged published version and costs nothing.
            env["JOL_CONTENT_SOURCE"] = "folder"
    return env


class Backlog:
    """--cold-start: each user's /start, queued in the stand-in before the bot's process is
    spawned (as when a restart meets a backlog), and the moment of the bot's first getUpdates
    (when it starts taking updates) with the CPU its process had used by then."""

    def __init__(self, bot: StandInBot, users: list[SimulatedUser], timeout: float) -> None:
        self.users = users
        self.pid = 0  # the bot's process, set once it is spawned
        self.start_cpu = math.nan
        self.first_poll: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self.answered: dict[int, asyncio.Task[float | None]] = {}  # user id -> answer time
        call = bot.call

        async def timed_call(method: str, params: Any) -> tuple[int, bytes]:
            if method.lower() == "getupdates" and not self.first_poll.done():
                self.first_poll.set_result(time.perf_counter())
                if self.pid:
                    self.start_cpu = cpu_seconds(self.pid)
            return await call(method, params)

        bot.call = timed_call  # type: ignore[method-assign]
        for user in users:
            events = len(user.chat.events) + 1  # + the user's own message
            bot.push(bot.telegram.message_update(user.user_id, "/start",
                                                 language_code=user.lang))
            self.answered[user.user_id] = asyncio.create_task(
                self._answer(bot, user.user_id, events, timeout))

    @staticmethod
    async def _answer(bot: StandInBot, chat_id: int, events: int,
                      timeout: float) -> float | None:
        return time.perf_counter() if await bot.wait_for_chat(chat_id, events, timeout) else None

    def cancel(self) -> None:
        for task in self.answered.values():
            task.cancel()


@dataclass
class ColdStart:
    """What --cold-start measured; times are time.perf_counter() seconds."""

    window: float  # the cold start: this many seconds from the first getUpdates
    spawned: float  # just before the bot's process was spawned
    first_poll: float  # the bot's first getUpdates
    start_cpu: float  # CPU seconds the bot's process used until then
    steady: tuple[float, float] = (0.0, 0.0)  # the steady state, after the cold start
    cold_cpu: float = math.nan  # CPU seconds of the bot's process within the cold window

    def summary(self, actions: list[Action]) -> dict[str, Any]:
        """Latency over the cold window counted from the first getUpdates (a queued /start
        "started" then), and counted from the spawn (the window begins there and a queued
        /start waited since then); the steady state after; their ratio."""
        answered = [a for a in actions if a.outcome in ("answer", "press-only")]
        queued = [a for a in answered if a.detail == QUEUED]
        cold_end, spawn_end = self.first_poll + self.window, self.spawned + self.window
        cold = [a.latency for a in answered if self.first_poll <= a.started < cold_end]
        from_spawn = [a.finished - self.spawned if a.detail == QUEUED else a.latency
                      for a in answered if a.detail == QUEUED or a.started < spawn_end]
        steady = [a.latency for a in answered if self.steady[0] <= a.started < self.steady[1]]
        cold_p99, steady_p99 = percentile(cold, 99), percentile(steady, 99)
        return {
            "window_s": self.window,
            "start_s": round(self.first_poll - self.spawned, 3),
            "start_cpu_s": round(self.start_cpu, 2),
            "queued": sum(a.detail == QUEUED for a in actions),
            "queued_answered": len(queued),
            "backlog_answered_s": round(max((a.finished for a in queued),
                                            default=math.nan) - self.first_poll, 3),
            "cold_n": len(cold),
            "cold_p50_ms": round(percentile(cold, 50), 1),
            "cold_p90_ms": round(percentile(cold, 90), 1),
            "cold_p99_ms": round(cold_p99, 1),
            "cold_max_ms": round(max(cold, default=math.nan) * 1000, 1),
            "cold_lost": sum(a.outcome == "lost" and self.first_poll <= a.started < cold_end
                             for a in actions),
            "cold_cpu_percent": round(100 * self.cold_cpu / self.window, 1),
            "from_spawn_p50_ms": round(percentile(from_spawn, 50), 1),
            "from_spawn_p99_ms": round(percentile(from_spawn, 99), 1),
            "steady_n": len(steady),
            "steady_p50_ms": round(percentile(steady, 50), 1),
            "steady_p99_ms": round(steady_p99, 1),
            "cold_over_steady_p99": round(cold_p99 / steady_p99, 2) if steady_p99 else math.nan,
            # p99 of the actions started in each second of the cold window (the queued /start
            # in the first), None for a second in which none started
            "cold_p99_ms_by_second": [
                None if math.isnan(p99) else round(p99) for p99 in (
                    percentile([a.latency for a in answered
                                if second <= a.started - self.first_poll < second + 1], 99)
                    for second in range(math.ceil(self.window)))],
        }


@dataclass
class Run:
    """What one target did: its actions, and what its process used."""

    target: Target
    actions: list[Action] = field(default_factory=list)
    skipped: str = ""
    window: tuple[float, float] = (0.0, 0.0)
    bot_cpu: float = 0.0  # CPU seconds of the bot process within the window
    harness_cpu: float = 0.0  # CPU seconds of this process within the window
    peak_rss_mb: float = math.nan
    api_errors: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    expected_actions: int = 0
    elapsed: float = 0.0
    reloads: list[Action] = field(default_factory=list)  # the admin's /reload, apart
    cold: ColdStart | None = None  # with --cold-start

    def summary(self) -> dict[str, Any]:
        if self.skipped:
            return {"target": self.target.name, "skipped": self.skipped}
        start, end = self.window
        seconds = max(end - start, 1e-9)
        answered = [a for a in self.actions if a.outcome in ("answer", "press-only")]
        in_window = [a for a in answered if start <= a.started and a.finished <= end]
        latencies = [a.latency for a in answered if start <= a.started < end]
        outcomes = Counter(a.outcome for a in self.actions)
        by_kind = {kind: {"p50_ms": round(percentile(lat, 50), 1),
                          "p99_ms": round(percentile(lat, 99), 1), "n": len(lat)}
                   for kind in ("start", "press", "search")
                   if (lat := [a.latency for a in answered if a.kind == kind])}
        result = {
            "target": self.target.name,
            "description": self.target.description,
            "actions_per_s": round(len(in_window) / seconds, 1),
            "p50_ms": round(percentile(latencies, 50), 1),
            "p90_ms": round(percentile(latencies, 90), 1),
            "p99_ms": round(percentile(latencies, 99), 1),
            "max_ms": round(max(latencies, default=math.nan) * 1000, 1),
            "actions": len(self.actions),
            "answered": len(answered),
            "lost": outcomes["lost"],
            "no_button": outcomes["no-button"],
            "press_only": outcomes["press-only"],
            "api_errors": self.api_errors,
            "rate_limited_429": self.rate_limited,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "bot_cpu_percent": round(100 * self.bot_cpu / seconds, 1),
            "bot_cpu_ms_per_action": round(1000 * self.bot_cpu / max(len(in_window), 1), 3),
            "harness_cpu_percent": round(100 * self.harness_cpu / seconds, 1),
            "by_kind": by_kind,
            "slowest": [{"kind": a.kind, "at_s": round(a.started - start, 2),
                         "ms": round(a.latency * 1000, 1), "outcome": a.outcome,
                         "detail": a.detail}
                        for a in sorted(answered, key=lambda a: -a.latency)[:5]],
        }
        if self.reloads:
            done = [a for a in self.reloads if a.outcome == "answer"]
            result["reloads"] = {
                "sent": len(self.reloads), "answered": len(done),
                "applied": sum(a.detail.startswith(RELOADED) or a.kind == "publish"
                               for a in done),
                "p50_ms": round(percentile([a.latency for a in done], 50), 1),
                "max_ms": round(max((a.latency for a in done), default=math.nan) * 1000, 1)}
        if self.cold is not None:
            result["cold_start"] = self.cold.summary(self.actions)
        if self.expected_actions:
            result["expected_actions"] = self.expected_actions
            result["unfinished"] = self.expected_actions - len(self.actions)
            result["elapsed_s"] = round(self.elapsed, 1)
            result["waits"] = flood_waits(answered)
        return result


def start_failure(target: Target, process: subprocess.Popen[bytes], log_path: Path) -> str:
    """Why a target is skipped: it exited or did not poll in time, and its log's last lines."""
    tail = log_path.read_text(errors="replace").strip().splitlines()[-8:]
    state = (f"exited with code {process.returncode}" if process.returncode
             is not None else f"did not poll within {START_TIMEOUT:.0f} s")
    return f"{target.name} {state} during start-up; log {log_path}:\n      " \
        + "\n      ".join(tail)


def flood_waits(answered: list[Action]) -> dict[str, dict[str, float]]:
    """The answers' waits in the flood by kind of action, and of all but the SOS ones."""
    groups = {kind: [a.latency for a in answered if a.kind == kind]
              for kind in ("sos", "start", "press", "search")}
    groups["rest"] = [a.latency for a in answered if a.kind != "sos"]
    return {kind: {"n": len(waits), **{f"p{p}_ms": round(percentile(waits, p), 1)
                                       for p in (50, 95, 99)}}
            for kind, waits in groups.items() if waits}


class Benchmark:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.flood: bool = args.flood
        self.users: int = args.users or (400 if self.flood else 100)
        self.answer_timeout: float = args.answer_timeout or (30.0 if self.flood else 10.0)
        self.reload_every: float | None = args.reload_every
        self.reload_edit: bool = args.reload_edit
        self.cold_window: float | None = args.cold_window if args.cold_start else None
        self.publish: bool = args.publish

    async def run(self, targets: list[Target]) -> list[Run]:
        runner, base_url = await start_standin("127.0.0.1", 0, flood=self.flood)
        standin = runner.app[STANDIN]
        runs = []
        try:
            for index, target in enumerate(targets):
                print(f"-- {target.name}: {target.description}", flush=True)
                run = await (self.run_cold_target if self.cold_window else self.run_target)(
                    standin, base_url, target, index)
                runs.append(run)
                summary = run.summary()
                if run.skipped:
                    print(f"   skipped: {run.skipped}", flush=True)
                else:
                    print(f"   {summary['actions_per_s']} actions/s, p50 {summary['p50_ms']} ms,"
                          f" p99 {summary['p99_ms']} ms, lost {summary['lost']},"
                          f" peak RSS {summary['peak_rss_mb']} MB", flush=True)
                    if "reloads" in summary:
                        print(f"   /reload: {summary['reloads']}", flush=True)
                    if "cold_start" in summary:
                        print(f"   cold start: {summary['cold_start']}", flush=True)
                await asyncio.sleep(1)  # let the machine settle between targets
        finally:
            await runner.cleanup()
        return runs

    async def run_target(self, standin: StandIn, base_url: str, target: Target,
                         index: int) -> Run:
        run = Run(target)
        token = f"{700001 + index}:bench-{target.name.replace('+', '-')}"
        bot = standin.bot(token)
        workdir = Path(tempfile.mkdtemp(prefix=f"jol-bench-{target.name}-"))
        log_path = workdir / "bot.log"
        content = REPO / "content"
        if self.reload_every and target.jol:
            bot.chat(ADMIN_ID)  # the admin has talked to the bot: its commands can be set
            if self.reload_edit:  # the admin edits a copy; with and without reloads alike
                content = workdir / "content"
                shutil.copytree(REPO / "content", content)
        with log_path.open("wb") as log:
            process = subprocess.Popen(target.command, cwd=REPO, stdout=log,
                                       stderr=subprocess.STDOUT, start_new_session=True,
                                       env=target_env(target, token, base_url, workdir,
                                                      admin=bool(self.reload_every),
                                                      content=content, publish=self.publish))
        try:
            if not await polling(bot, process):
                run.skipped = start_failure(target, process, log_path)
                return run
            if self.flood:
                await self.drive_flood(bot, process, run)
            else:
                await self.drive_load(bot, process, run, content)
            run.peak_rss_mb = peak_rss_mb(process.pid)
            run.api_errors = {k: v for k, v in bot.errors.items()
                              if " 429: " not in k}
            run.rate_limited = bot.telegram.rate_limited
            if process.poll() is not None:
                run.api_errors["process exited"] = process.returncode or 0
        finally:
            await stop_process(process)
            standin.bots.pop(token, None)
        shutil.rmtree(workdir, ignore_errors=True)  # kept above when the bot did not start
        return run

    async def run_cold_target(self, standin: StandIn, base_url: str, target: Target,
                              index: int) -> Run:
        """--cold-start: the bot is started and stopped once, so that its database is migrated
        and its content seeded as before any restart; then every user's /start is queued and
        the bot is started again, and measured (drive_cold_start)."""
        run = Run(target)
        token = f"{700001 + index}:bench-{target.name.replace('+', '-')}"
        bot = standin.bot(token)
        workdir = Path(tempfile.mkdtemp(prefix=f"jol-bench-{target.name}-"))
        log_path = workdir / "bot.log"
        env = target_env(target, token, base_url, workdir)

        def spawn() -> subprocess.Popen[bytes]:
            with log_path.open("ab") as log:
                return subprocess.Popen(target.command, cwd=REPO, stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True,
                                        env=env)

        backlog = None
        process = spawn()
        try:
            if not await polling(bot, process):
                run.skipped = start_failure(target, process, log_path)
                return run
            await stop_process(process)
            bot.calls.clear()
            bot.errors.clear()
            backlog = Backlog(bot, self.new_users(bot, seed=1),
                              START_TIMEOUT + self.answer_timeout)
            spawned = time.perf_counter()
            process = spawn()
            backlog.pid = process.pid
            if not await polling(bot, process):
                run.skipped = start_failure(target, process, log_path)
                return run
            await self.drive_cold_start(bot, process, run, backlog, spawned)
            run.peak_rss_mb = peak_rss_mb(process.pid)
            run.api_errors = {k: v for k, v in bot.errors.items() if " 429: " not in k}
            if process.poll() is not None:
                run.api_errors["process exited"] = process.returncode or 0
        finally:
            if backlog is not None:
                backlog.cancel()
            await stop_process(process)
            standin.bots.pop(token, None)
        shutil.rmtree(workdir, ignore_errors=True)  # kept above when the bot did not start
        return run

    async def drive_cold_start(self, bot: StandInBot, process: subprocess.Popen[bytes],
                               run: Run, backlog: Backlog, spawned: float) -> None:
        """Each user waits for the answer to its queued /start, then goes on as in the load
        run (two presses, a search, /start, ...) until `duration` seconds after the bot's
        first getUpdates. The cold window is its first `cold_window` seconds; the steady
        state begins `warmup` seconds after that."""
        assert self.cold_window is not None
        first_poll = await backlog.first_poll
        stop_at = first_poll + self.args.duration
        run.window = (first_poll + self.cold_window + self.args.warmup, stop_at)
        cold = run.cold = ColdStart(self.cold_window, spawned, first_poll, backlog.start_cpu,
                                    steady=run.window)

        async def live(user: SimulatedUser) -> None:
            answered_at = await backlog.answered[user.user_id]
            in_time = answered_at is not None and answered_at - first_poll <= self.answer_timeout
            run.actions.append(Action("start", first_poll, answered_at or time.perf_counter(),
                                      "answer" if in_time else "lost", QUEUED))
            for step in itertools.chain(SCRIPT[1:], itertools.cycle(SCRIPT)):
                if time.perf_counter() >= stop_at:
                    return
                run.actions.append(await user.act(step))

        async def sample_cpu() -> None:
            await asyncio.sleep(max(0.0, first_poll + self.cold_window - time.perf_counter()))
            cold.cold_cpu = cpu_seconds(process.pid) - backlog.start_cpu
            await asyncio.sleep(max(0.0, run.window[0] - time.perf_counter()))
            bot_start, own_start = cpu_seconds(process.pid), cpu_seconds(os.getpid())
            await asyncio.sleep(max(0.0, run.window[1] - time.perf_counter()))
            run.bot_cpu = cpu_seconds(process.pid) - bot_start
            run.harness_cpu = cpu_seconds(os.getpid()) - own_start

        await asyncio.gather(sample_cpu(), *(live(user) for user in backlog.users))

    def new_users(self, bot: StandInBot, seed: int) -> list[SimulatedUser]:
        rng = random.Random(seed)
        # About a third of the users' phones report Kyrgyz; the rest Russian.
        return [SimulatedUser(bot, 10_000 + i, "ky" if i % 3 == 0 else "ru",
                              random.Random(rng.random()), self.answer_timeout)
                for i in range(self.users)]

    async def drive_load(self, bot: StandInBot, process: subprocess.Popen[bytes],
                         run: Run, content: Path) -> None:
        duration, warmup = self.args.duration, self.args.warmup
        users = self.new_users(bot, seed=1)
        began = time.perf_counter()
        stop_at = began + duration
        window = (began + warmup, stop_at)
        run.window = window

        async def live(user: SimulatedUser, delay: float) -> None:
            await asyncio.sleep(delay)  # users arrive spread over the warm-up
            while time.perf_counter() < stop_at:
                for step in SCRIPT:
                    if time.perf_counter() >= stop_at:
                        return
                    run.actions.append(await user.act(step))

        async def sample_cpu() -> None:
            await asyncio.sleep(max(0.0, window[0] - time.perf_counter()))
            bot_start, own_start = cpu_seconds(process.pid), cpu_seconds(os.getpid())
            await asyncio.sleep(max(0.0, window[1] - time.perf_counter()))
            run.bot_cpu = cpu_seconds(process.pid) - bot_start
            run.harness_cpu = cpu_seconds(os.getpid()) - own_start

        async def reload_now_and_then() -> None:
            """The admin's /reload every `reload_every` seconds of the measured window."""
            if not (run.target.reloads and self.reload_every):
                return
            admin = SimulatedUser(bot, ADMIN_ID, "ru", random.Random(0), self.answer_timeout)
            editor = TopicEditor(content) if self.reload_edit else None
            next_at = window[0]
            while (now := time.perf_counter()) < stop_at:
                await asyncio.sleep(max(0.0, min(next_at, stop_at) - now))
                if time.perf_counter() >= stop_at:
                    return
                if editor is not None:
                    editor.edit()
                if self.publish:
                    run.reloads.append(await publish(process, content, self.answer_timeout))
                    next_at = run.reloads[-1].started + self.reload_every
                    continue
                events = len(admin.chat.events) + 1  # + the admin's own message
                started = time.perf_counter()
                bot.push(bot.telegram.message_update(ADMIN_ID, "/reload", language_code="ru"))
                answered = await bot.wait_for_chat(ADMIN_ID, events, self.answer_timeout)
                reply = admin.chat.messages[max(admin.chat.messages)].text if answered else ""
                run.reloads.append(Action("reload", started, time.perf_counter(),
                                          "answer" if answered else "lost", reply))
                next_at = started + self.reload_every

        spread = min(1.0, warmup / 2)
        await asyncio.gather(sample_cpu(), reload_now_and_then(),
                             *(live(user, spread * i / len(users))
                               for i, user in enumerate(users)))

    async def drive_flood(self, bot: StandInBot, process: subprocess.Popen[bytes],
                          run: Run) -> None:
        users = self.new_users(bot, seed=2)
        run.expected_actions = len(users) * len(FLOOD_SCRIPT)
        began = time.perf_counter()
        bot_start, own_start = cpu_seconds(process.pid), cpu_seconds(os.getpid())

        async def live(index: int, user: SimulatedUser) -> None:
            await asyncio.sleep(self.args.arrive_over * index / len(users))  # evenly spread
            script = FLOOD_SOS_SCRIPT if index % FLOOD_SOS_EVERY == 0 else FLOOD_SCRIPT
            for step in script:
                run.actions.append(await user.act(step))

        # Bounded: a user's three actions take at most three answer timeouts.
        await asyncio.gather(*(live(i, user) for i, user in enumerate(users)))
        run.elapsed = time.perf_counter() - began
        run.window = (began, began + run.elapsed)
        run.bot_cpu = cpu_seconds(process.pid) - bot_start
        run.harness_cpu = cpu_seconds(os.getpid()) - own_start


async def publish(bot_process: subprocess.Popen[bytes], content: Path,
                  timeout: float) -> Action:
    """What an editor's publish does to the database the bot serves from: `jol content import`
    (it checks the folder, then writes a new version), run with the bot's own settings; the
    bot finds the new version by its poll (SQLite) and swaps its snapshot meanwhile."""
    env = {**os.environ, **{k: v for k, v in _environ_of(bot_process.pid).items()
                            if k.startswith(("JOL_", "PYTHONPATH"))}}
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "content", "import", str(content), "--note", "bench",
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        return Action("publish", started, time.perf_counter(), "lost", "timed out")
    outcome = "answer" if process.returncode == 0 else "lost"
    return Action("publish", started, time.perf_counter(), outcome,
                  output.decode(errors="replace").strip()[-200:])


def _environ_of(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0")
                if "=" in item)


def machine() -> dict[str, Any]:
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in ("python-telegram-bot", "aiogram", "aiohttp", "httpx"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return {"date": dt.date.today().isoformat(), "nproc": os.cpu_count(), "cpu": model,
            "python": platform.python_version(), **versions}


def ratio(value: float, base: float | None) -> str:
    if base is None or not base or math.isnan(value) or math.isnan(base):
        return "—"
    return f"{value / base:.2f}×"


def print_load_table(summaries: list[dict[str, Any]]) -> None:
    done = {s["target"]: s for s in summaries if "skipped" not in s}
    aiogram = done.get("aiogram", {}).get("actions_per_s")
    ptb = done.get("ptb", {}).get("actions_per_s")
    print(f"{'target':<16} {'actions/s':>9} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
          f"{'lost':>5} {'no btn':>6} {'API err':>7} {'peak MB':>8} {'bot CPU':>7} "
          f"{'CPU ms/act':>10} {'harness':>7} {'vs aiogram':>10} {'vs PTB':>7}")
    for s in summaries:
        if "skipped" in s:
            print(f"{s['target']:<16} skipped (see above)")
            continue
        print(f"{s['target']:<16} {s['actions_per_s']:>9.0f} {s['p50_ms']:>7.1f} "
              f"{s['p90_ms']:>7.1f} {s['p99_ms']:>7.1f} {s['lost']:>5} {s['no_button']:>6} "
              f"{sum(s['api_errors'].values()):>7} {s['peak_rss_mb']:>8.1f} "
              f"{s['bot_cpu_percent']:>6.0f}% {s['bot_cpu_ms_per_action']:>10.3f} "
              f"{s['harness_cpu_percent']:>6.0f}% "
              f"{ratio(s['actions_per_s'], aiogram):>10} {ratio(s['actions_per_s'], ptb):>7}")
    for s in summaries:
        for error, count in sorted(s.get("api_errors", {}).items()):
            print(f"  {s['target']}: {count} × {error}")


def print_flood_table(summaries: list[dict[str, Any]]) -> None:
    print(f"{'target':<16} {'answered':>11} {'press-only':>10} {'lost':>5} {'no button':>9} "
          f"{'429s':>6} {'errors':>6} {'seconds':>7} {'p50 ms':>8} {'p99 ms':>8}  "
          "every answer arrived?")
    for s in summaries:
        if "skipped" in s:
            print(f"{s['target']:<16} skipped (see above)")
            continue
        complete = not (s["lost"] or s["no_button"] or s["unfinished"])
        print(f"{s['target']:<16} {s['answered']:>5}/{s['expected_actions']:<5} "
              f"{s['press_only']:>10} {s['lost']:>5} {s['no_button']:>9} "
              f"{s['rate_limited_429']:>6} {sum(s['api_errors'].values()):>6} "
              f"{s['elapsed_s']:>7.1f} {s['p50_ms']:>8.0f} {s['p99_ms']:>8.0f}  "
              f"{'yes' if complete else 'NO'}")
    print(f"\nanswers' waits (ms) by kind; SOS: the 1 in {FLOOD_SOS_EVERY} users who open with "
          "/sos; rest: every other answer")
    print(f"{'target':<16} {'kind':<7} {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8}")
    for s in summaries:
        waits = s.get("waits", {})
        for kind, w in waits.items():
            print(f"{s['target']:<16} {kind:<7} {w['n']:>5} {w['p50_ms']:>8.0f} "
                  f"{w['p95_ms']:>8.0f} {w['p99_ms']:>8.0f}")
        if "sos" in waits and "rest" in waits:
            share = waits["sos"]["p99_ms"] / max(waits["rest"]["p99_ms"], 1e-9)
            print(f"{s['target']:<16} SOS p99 / rest p99 = {share:.2f} "
                  f"({'within' if share <= 0.2 else 'over'} the 1/5 goal)")


def print_cold_table(summaries: list[dict[str, Any]]) -> None:
    """--cold-start: the cold window counted from the first getUpdates, the same from the
    spawn of the process, and the steady state after."""
    print(f"{'target':<16} {'start s':>7} {'CPU s':>5} {'backlog s':>9} {'cold n':>6} "
          f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'lost':>4} {'spawn p99':>9} "
          f"{'steady p50':>10} {'steady p99':>10} {'cold/steady':>11}")
    for s in summaries:
        c = s.get("cold_start")
        if c is None:
            print(f"{s['target']:<16} skipped (see above)")
            continue
        print(f"{s['target']:<16} {c['start_s']:>7.2f} {c['start_cpu_s']:>5.2f} "
              f"{c['backlog_answered_s']:>9.2f} {c['cold_n']:>6} {c['cold_p50_ms']:>7.0f} "
              f"{c['cold_p99_ms']:>7.0f} {c['cold_max_ms']:>7.0f} {c['cold_lost']:>4} "
              f"{c['from_spawn_p99_ms']:>9.0f} {c['steady_p50_ms']:>10.0f} "
              f"{c['steady_p99_ms']:>10.0f} {c['cold_over_steady_p99']:>10.2f}×")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, help="simulated users (default 100; 400 flood)")
    parser.add_argument("--duration", type=float, default=20.0,
                        help="seconds of load per target (default 20)")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="first seconds left out of the figures (default 2)")
    parser.add_argument("--targets",
                        help="comma-separated, from: " + ", ".join(all_targets())
                             + f" (default {','.join(DEFAULT_TARGETS)}; with --cold-start "
                             f"{','.join(COLD_TARGETS)})")
    parser.add_argument("--flood", action="store_true",
                        help="the stand-in answers 429 above 30 messages/s; each user takes "
                             "3 actions, 1 in 10 opening with /sos; reports whether every "
                             "answer arrived and the SOS answers' waits beside the rest")
    parser.add_argument("--arrive-over", type=float, default=8.0, metavar="SECONDS",
                        help="with --flood: the users arrive evenly over the first SECONDS "
                             "(default 8: 50 new users a second; 0: all at once)")
    parser.add_argument("--answer-timeout", type=float,
                        help="seconds before an answer counts as lost (default 10; 30 flood)")
    parser.add_argument("--reload-every", type=float, metavar="SECONDS",
                        help="Jol is measured twice, without and then with an admin sending "
                             "/reload every SECONDS of the measured window (jol+reload); the "
                             "figures are the other chats'")
    parser.add_argument("--reload-edit", action="store_true",
                        help="with --reload-every: the admin edits a topic in (a copy of) "
                             "Jol's content folder before each /reload, so it is parsed again")
    parser.add_argument("--cold-start", action="store_true",
                        help="each user's /start waits in the stand-in before the bot is "
                             "(re)started; latency over the first --cold-window seconds "
                             "against the steady state after")
    parser.add_argument("--cold-window", type=float, default=5.0, metavar="SECONDS",
                        help="with --cold-start: the seconds after the first getUpdates that "
                             "count as the cold start (default 5)")
    parser.add_argument("--publish", action="store_true",
                        help="with --reload-every --reload-edit: instead of /reload, publish "
                             "the edited folder as a new content version (jol content import) "
                             "into the database the bot serves from")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the targets this many times, alternating (default 1)")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = parser.parse_args(argv)
    if args.reload_every is not None and (args.reload_every <= 0 or args.flood):
        parser.error("--reload-every needs a positive number of seconds, and no --flood")
    if args.reload_edit and args.reload_every is None:
        parser.error("--reload-edit needs --reload-every")
    if args.cold_start and (args.flood or args.reload_every is not None):
        parser.error("--cold-start goes with neither --flood nor --reload-every")
    if args.cold_start and args.duration <= args.cold_window + args.warmup:
        parser.error("--duration must be longer than --cold-window plus --warmup")
    if args.targets is None:
        args.targets = ",".join(COLD_TARGETS if args.cold_start else DEFAULT_TARGETS)
    if args.publish and not args.reload_edit:
        parser.error("--publish needs --reload-every and --reload-edit")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.arrive_over < 0:
        parser.error("--arrive-over cannot be negative")
    if args.duration <= args.warmup:
        parser.error("--duration must be longer than --warmup")
    unknown = set(args.targets.split(",")) - set(all_targets())
    if unknown:
        parser.error(f"unknown targets: {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    targets = [all_targets()[name] for name in args.targets.split(",")]
    if args.reload_every:  # each Jol target a second time, with the reloads: side by side
        targets = [twin for target in targets for twin in
                   ((target, with_reloads(target, args.reload_every, args.reload_edit,
                                          args.publish))
                    if target.jol else (target,))]
    targets *= args.rounds
    about = machine()
    mode = (f"flood: 429 above 30 messages/s, users arriving over {args.arrive_over:g} s, each "
            "/start (1 in 10: /sos), a press, a search"
            if args.flood else f"load: {args.duration:.0f} s per target, {args.warmup:.0f} s "
                               "warm-up, each user /start, 2 presses, a search, repeated")
    if args.cold_start:
        mode = (f"cold start: each user's /start queued before the bot starts, then the load "
                f"run for {args.duration:.0f} s from its first getUpdates; the first "
                f"{args.cold_window:g} s against the steady state from "
                f"{args.cold_window + args.warmup:g} s")
    if args.reload_every:
        mode += (f"; Jol again with a topic edited and published every {args.reload_every:g} s"
                 if args.publish else
                 f"; Jol again with an admin's /reload every {args.reload_every:g} s"
                 + (", a topic edited before each" if args.reload_edit else ""))
    bench = Benchmark(args)
    print(f"{about['date']}  {about['nproc']} CPUs ({about['cpu']})  Python {about['python']}")
    print(f"{bench.users} users; {mode}", flush=True)
    runs = asyncio.run(bench.run(targets))
    summaries = [run.summary() for run in runs]
    print()
    (print_flood_table if args.flood else print_load_table)(summaries)
    if args.cold_start:
        print()
        print_cold_table(summaries)
    if args.json:
        report = {"machine": about,
                  "mode": "flood" if args.flood else "cold-start" if args.cold_start else "load",
                  "cold_window_s": args.cold_window if args.cold_start else None,
                  "users": bench.users, "duration_s": args.duration, "warmup_s": args.warmup,
                  "reload_every_s": args.reload_every, "reload_edit": args.reload_edit,
                  "rounds": args.rounds,
                  "arrive_over_s": args.arrive_over if args.flood else None,
                  "results": summaries}
        Path(args.json).write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    jol = next((s for s in summaries if s["target"] == "jol" and "skipped" not in s), None)
    if args.flood and jol is not None and (jol["lost"] or jol["no_button"]
                                           or jol["unfinished"]):
        return 1  # Jol must never lose an answer to flood limits
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
