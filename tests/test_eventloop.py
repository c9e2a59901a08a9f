"""JOL_EVENT_LOOP: `jol run` serves on the loop it names."""

from __future__ import annotations

import asyncio

import pytest

from bot import eventloop, settings
from bot.settings import Settings, SettingsError


async def running_loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_uvloop_is_the_default_where_installed() -> None:
    assert eventloop.uvloop_installed()  # a dependency on this platform
    assert Settings.from_env({}).event_loop == "uvloop"
    assert eventloop.run(running_loop_module(), "uvloop").startswith("uvloop")


def test_asyncio_runs_asyncio_own_loop() -> None:
    name = Settings.from_env({"JOL_EVENT_LOOP": "asyncio"}).event_loop
    assert eventloop.run(running_loop_module(), name).startswith("asyncio")


def test_without_uvloop_the_default_is_asyncio_and_asking_for_it_is_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "uvloop_installed", lambda: False)
    assert Settings.from_env({}).event_loop == "asyncio"
    with pytest.raises(SettingsError, match=r"^JOL_EVENT_LOOP is uvloop, which is not installed"):
        Settings.from_env({"JOL_EVENT_LOOP": "uvloop"})
