"""Where a bot process's CPU goes under load: py-spy samples, split into a few costs.

py-spy records with `--gil`: only samples where the thread holds the GIL, so the time a process
spends preempted inside a socket write on a busy two-core machine (which a plain wall-clock
sample would charge to `transport.write`) is left out, and the split is of the CPU Python runs.
Kernel time (about a tenth of a replica's, from /proc) is not in it.

Each sample goes to the first cost (in the order below) that one of its frames matches: a
database call inside a handler is database, JSON parsing inside the webhook's checks is the
webhook's, and what is left of a handler once its calls out are taken is the handler's.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

Rules = tuple[tuple[str, re.Pattern[str]], ...]

BOT_COSTS: Rules = tuple((name, re.compile(pattern)) for name, pattern in (
    ("webhook: body checks + json.loads (read_update)", r"^read_update \(bot/web\.py"),
    ("update → PTB objects (Update.de_json)", r"^Update\.de_json "),
    ("database (language memory, SQLAlchemy, asyncpg)", r"\((sqlalchemy|asyncpg|bot/db)/"),
    ("counting (statistics, Prometheus)", r"\((bot/stats/|prometheus_client/)"),
    ("Bot API calls out (PTB request, transport, aiohttp client)",
     r"\((telegram/request/|bot/transport\.py|bot/ratelimit\.py|aiohttp/client)"
     r"|^(Ext)?Bot\._(do_)?post "),
    ("Jol's handlers (screens, content, texts)",
     r"\(bot/(handlers|content|i18n|context|buttons|languages)"),
    ("PTB dispatch (Application, handler matching)", r"\(telegram/"),
    ("aiohttp server and the webhook's handler (requests in, answers out)",
     r"\(aiohttp/web_(protocol|request|response|app|urldispatcher|middlewares)"),
    ("Jol's serving (update processor)", r"\(bot/(?!cli\.py)"),
))

HARNESS_COSTS: Rules = tuple((name, re.compile(pattern)) for name, pattern in (
    ("stand-in: FakeTelegram (Telegram's checks, updates, chat logs)",
     r"\(bot/fake_telegram\.py"),
    ("stand-in: Bot API routes", r"\(bot/standin\.py"),
    ("webhook POSTs (aiohttp client)", r"\(aiohttp/client"),
    ("aiohttp server (the bots' Bot API calls in)",
     r"\(aiohttp/web_(protocol|request|response|app|urldispatcher|middlewares)"),
    ("simulated users, schedule",
     r"^(SimulatedUser|buttons_on_screen|run_rate\.<locals>\.live|Webhook\.send) "),
))
REST = "event loop, sockets, the rest"


def stacks(path: Path) -> list[tuple[list[str], int]]:
    """(frames, outermost first; samples) from py-spy's raw output (`a;b;c 12` a line)."""
    found = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if stack and samples.isdigit():
            found.append((stack.split(";"), int(samples)))
    return found


def cost_split(path: Path, rules: Rules) -> dict[str, float]:
    """Each cost's share of the samples, largest first."""
    costs: Counter[str] = Counter()
    for frames, samples in stacks(path):
        cost = next((name for name, pattern in rules
                     if any(pattern.search(frame) for frame in frames)), REST)
        costs[cost] += samples
    total = sum(costs.values()) or 1
    return {name: n / total for name, n in costs.most_common()}


def top_own(path: Path, count: int = 10) -> list[tuple[str, float]]:
    """The functions with most samples in themselves, and their share."""
    own: Counter[str] = Counter()
    for frames, samples in stacks(path):
        own[frames[-1]] += samples
    total = sum(own.values()) or 1
    return [(frame, n / total) for frame, n in own.most_common(count)]


class Profiler:
    """py-spy on each bot process and on this harness for one window at a time; the raw
    stacks go to `folder` as <label>-<name>.txt (names: 1, 2, … the bot processes, and
    `harness`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        found = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable)
                                                                            .parent))
        if found is None:
            raise SystemExit("--profile needs py-spy: pip install py-spy")
        self.py_spy = found
        self.running: list[tuple[subprocess.Popen[bytes], Path]] = []
        folder.mkdir(parents=True, exist_ok=True)

    def record(self, label: str, pids: dict[str, int], seconds: float) -> None:
        for name, pid in pids.items():
            path = self.folder / f"{label}-{name}.txt"
            process = subprocess.Popen(
                (self.py_spy, "record", "--pid", str(pid), "--duration",
                 str(max(1, round(seconds))), "--rate", "100", "--nonblocking", "--gil",
                 "--function", "--format", "raw", "--output", str(path)),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            self.running.append((process, path))

    async def finish(self) -> dict[str, Path]:
        """The recordings of the window, once py-spy has written them."""
        running, self.running = self.running, []
        for process, _ in running:
            while process.poll() is None:
                await asyncio.sleep(0.1)
        return {path.stem.rsplit("-", 1)[1]: path for _, path in running if path.exists()}
