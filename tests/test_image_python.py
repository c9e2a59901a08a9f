"""Jol as its image runs it: `python -OO` (PYTHONOPTIMIZE=2, Dockerfile), which drops docstrings
and asserts to save ~7 MB a process. The image's default is one `jol run` polling on SQLite;
this runs that mode so, through a conversation (the three-replica test runs its webhook
replicas so too)."""

from __future__ import annotations

import re
from pathlib import Path

from bot import REPO_ROOT
from bot.standin import STANDIN, start_standin
from tests.serving_helpers import free_port, jol_run, log_text, wait_for_log

TOKEN = "616161:image-python"
USER = 6161


def test_the_image_runs_python_optimised_from_bytecode_compiled_at_build() -> None:
    dockerfile = (REPO_ROOT / "Dockerfile").read_text()
    final_stage = dockerfile.rpartition("\nFROM ")[2]
    assert re.search(r"^\s*PYTHONOPTIMIZE=2\b", final_stage, re.M)
    assert re.search(r"^RUN python -OO -m compileall .*/usr/local/lib/python3", final_stage, re.M)


async def test_a_conversation_under_python_oo(tmp_path: Path) -> None:
    runner, base_url = await start_standin("127.0.0.1", 0)
    standin = runner.app[STANDIN].bot(TOKEN)
    try:
        async with jol_run(base_url, tmp_path, free_port(), token=TOKEN, PYTHONOPTIMIZE="2"):
            await wait_for_log(tmp_path, "serving by long polling")
            standin.message(USER, "/start")
            assert await standin.wait_for_chat(USER, 1, timeout=30), log_text(tmp_path)
            menu = standin.chat(USER).last
            shown = menu.text  # the press edits this message in place
            assert shown.startswith("Главное меню")
            _, data = menu.buttons[0][0]
            standin.press(USER, menu.message_id, data)
            assert await standin.wait_until(
                USER, lambda chat: chat.last.text != shown, timeout=30), log_text(tmp_path)
            standin.message(USER, "/sos")
            assert await standin.wait_until(
                USER, lambda chat: chat.last.text.startswith("SOS"),
                timeout=30), log_text(tmp_path)
    finally:
        await runner.cleanup()
    log = log_text(tmp_path)
    assert "Traceback" not in log and "ERROR" not in log, log
