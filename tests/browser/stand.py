"""What the browser tests drive: `jol run` as its own process against the Bot API stand-in
(bot/standin.py, also its own process), and Debian's Chromium through Playwright.

Both servers are real processes, as an operator runs them, so the browser and the simulated
Telegram users meet the same web app and bot. The test process only talks HTTP to them: the
stand-in's control API for users (bot/standin.py lists it), the web app for the browser.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import httpx

from bot import REPO_ROOT
from tests.helpers import REAL_CONTENT, migrated_sqlite_url
from tests.serving_helpers import STARTUP_TIMEOUT, free_port

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path(os.environ.get("JOL_CHROMIUM", "/usr/bin/chromium"))
# As root in a container Chromium needs --no-sandbox; the rest keep it off this machine's
# closed network (it would try Google's hosts at every start and wait for them).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
TOKEN = "737373:browser-tests"
EDITORS = (9_100_001, 9_100_002)  # two editors: a publish needs the other one's review
PHONE_WIDTH = 360
SIGN_IN_LINK = re.compile(r"https?://[^\s\"'<>]+/workspace/login\?t=[A-Za-z0-9_.=-]+")


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


class Stand:
    """The stand-in and `jol run` against it, in `root`; stopped by `close()` (or `with`)."""

    def __init__(self, root: Path, **env: str) -> None:
        self.root = root
        self.content = root / "content"
        shutil.copytree(REAL_CONTENT, self.content)
        self.http = httpx.Client(timeout=30)
        self._processes: list[subprocess.Popen[bytes]] = []
        try:
            self.api = self._start_standin()
            self.port = free_port()
            self.base = f"http://127.0.0.1:{self.port}"
            self.env = self._env(env)
            self._spawn("jol", "-m", "bot.cli", "run", env=self.env)
            self._wait_healthy()
        except BaseException:
            self.close()
            raise

    def _env(self, overrides: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("JOL_", "TELEGRAM_"))}
        env.update({
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "JOL_API_BASE_URL": self.api,
            "JOL_DATABASE_URL": migrated_sqlite_url(self.root / "jol.sqlite3"),
            "JOL_CONTENT_DIR": str(self.content),
            "JOL_SECRET": "browser-test-secret",
            "JOL_ADMIN_IDS": ",".join(map(str, EDITORS)),
            "JOL_HTTP_HOST": "127.0.0.1",
            "JOL_HTTP_PORT": str(self.port),
            "JOL_PUBLIC_URL": self.base,
            "JOL_STATS_FLUSH_SECONDS": "3600",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH"))
                                          if p),
            "PYTHONUNBUFFERED": "1",
        })
        env.update(overrides)
        return env

    def _spawn(self, name: str, *args: str, env: dict[str, str] | None = None
               ) -> subprocess.Popen[bytes]:
        with (self.root / f"{name}.log").open("wb") as log:
            process = subprocess.Popen([sys.executable, *args], cwd=self.root, env=env,
                                       stdin=subprocess.DEVNULL, stdout=log,
                                       stderr=subprocess.STDOUT)
        self._processes.append(process)
        return process

    def _start_standin(self) -> str:
        """Port 0, and the stand-in prints the address it got: no port to race for."""
        self._spawn("standin", "-m", "bot.standin", "--port", "0")
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            found = re.search(r"JOL_API_BASE_URL=(\S+)\)", self.log("standin"))
            if found:
                return found.group(1)
            self._check_alive()
            time.sleep(0.05)
        raise TimeoutError(f"the Bot API stand-in did not start:\n{self.log('standin')}")

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if self.http.get(self.url("/healthz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"jol run is not healthy:\n{self.log('jol')}")

    def _check_alive(self) -> None:
        for process in self._processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args} exited with {process.returncode}:\n"
                                   f"{self.log('standin')}\n{self.log('jol')}")

    def log(self, name: str) -> str:
        path = self.root / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    # --- simulated Telegram users, through the stand-in's control API

    def _control(self, path: str) -> str:
        return f"{self.api.removesuffix('/bot')}/control/{TOKEN}/{path}"

    def say(self, user_id: int, text: str, language_code: str = "ru") -> list[dict[str, Any]]:
        """`user_id` writes `text` to the bot; the messages of its answer (`text` is what the
        user reads, `html` what the bot sent, `buttons` the rows of button labels)."""
        sent = self.http.post(self._control("message"), json={
            "user_id": user_id, "text": text, "language_code": language_code})
        sent.raise_for_status()
        after = sent.json()["events"]
        reply = self.http.get(self._control("wait"), params={
            "chat_id": user_id, "after": after, "timeout": 20})
        reply.raise_for_status()
        answer: dict[str, Any] = reply.json()
        assert not answer["timed_out"], f"the bot did not answer {text!r}"
        messages: list[dict[str, Any]] = answer["messages"]
        return messages

    # --- editors' sign-in links

    def link_from_bot(self, editor_id: int) -> str:
        """The one-time link the bot sends an editor for /workspace, as an editor gets it."""
        messages = self.say(editor_id, "/workspace")
        for message in messages:
            candidates = [message["text"], message["html"] or ""]
            candidates += [target for row in message["buttons"] for _, target in row]
            for candidate in candidates:
                found = SIGN_IN_LINK.search(candidate)
                if found:
                    return found.group(0)
        raise AssertionError(f"no sign-in link in the bot's answer: {messages}")

    def link_from_cli(self, editor_id: int) -> str:
        """The link `jol workspace link --editor ID` prints for the operator on the server."""
        printed = subprocess.run(
            [sys.executable, "-m", "bot.cli", "workspace", "link", "--editor", str(editor_id)],
            cwd=self.root, env=self.env, capture_output=True, text=True, timeout=60)
        assert printed.returncode == 0, printed.stderr
        found = SIGN_IN_LINK.search(printed.stdout)
        assert found, f"no sign-in link in {printed.stdout!r}"
        return found.group(0)

    def close(self) -> None:
        for process in self._processes:
            if process.poll() is None:
                process.terminate()
        for process in self._processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.http.close()

    def __enter__(self) -> Stand:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()


def assert_fits_phone(page: Page) -> None:
    """At PHONE_WIDTH px the page scrolls only up and down: nothing sticks out sideways."""
    page.set_viewport_size({"width": PHONE_WIDTH, "height": 740})
    widths = page.evaluate("() => [document.documentElement.scrollWidth,"
                           " document.documentElement.clientWidth]")
    assert widths[0] <= widths[1], (
        f"{page.url} scrolls sideways at {PHONE_WIDTH} px: {widths[0]} px of content in "
        f"{widths[1]} px")
