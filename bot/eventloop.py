"""The event loop `jol run` serves on: uvloop (libuv, in C) where it is installed, else
asyncio's own (JOL_EVENT_LOOP chooses).

A replica's time is mostly small socket reads and writes, timers and callbacks — the loop's own
work. uvloop does that work in C: measured side by side (bench/README.md, "Campaign"), one
webhook replica holds about 1.7× the new users a second on it. uvloop is a dependency except on
Windows, which it does not support.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

EVENT_LOOPS = ("uvloop", "asyncio")
T = TypeVar("T")


def uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What asyncio.Runner takes: None is asyncio's default loop."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def run(main: Coroutine[Any, Any, T], name: str) -> T:
    """asyncio.run on the named loop."""
    with asyncio.Runner(loop_factory=loop_factory(name)) as runner:
        return runner.run(main)
