"""A handler that raises: the user gets a short apology, the failure is counted in /metrics."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from bot.handlers import start
from tests.helpers import running_bot


async def test_a_failing_handler_is_counted_and_the_user_is_not_left_in_silence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(start, "show_main_menu", broken)
    before = REGISTRY.get_sample_value("jol_errors_total") or 0.0
    async with running_bot(tmp_path) as bot:
        screen = await bot.user("ru").send("/start")
    assert screen.text.startswith("Извините, что-то пошло не так")
    assert REGISTRY.get_sample_value("jol_errors_total") == before + 1
