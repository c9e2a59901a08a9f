"""Fixtures of the browser tests: one Chromium per test module (a few hundred ms to start),
a fresh browser context (no cookies) per test, and a Stand (stand.py) per test, so tests that
publish content do not see each other's versions; all of it safe under `pytest -n`."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.stand import CHROMIUM, CHROMIUM_ARGS, Stand, browser_missing

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Route

# Anything not served from this machine's loopback (data: and blob: URLs are not requests).
THIRD_PARTY = re.compile(r"^(?!https?://(127\.0\.0\.1|localhost)(:\d+)?/)")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    problem = browser_missing()
    if problem:
        if os.environ.get("JOL_REQUIRE_E2E") == "1":
            pytest.fail(f"browser tests cannot run: {problem} (JOL_REQUIRE_E2E=1)")
        pytest.skip(f"{problem}; JOL_REQUIRE_E2E=1 makes this a failure")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Opens a page in a fresh context (a person's own browser: no cookies shared). Any request
    one makes beyond this machine (a CDN, a font, an analytics script) is refused and fails the
    test: the workspace serves every asset itself."""
    contexts: list[BrowserContext] = []
    foreign: list[str] = []

    def refuse(route: Route) -> None:
        foreign.append(route.request.url)
        route.abort()

    def open_page() -> Page:
        context = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
        context.set_default_timeout(15_000)  # a shared, busy machine: waits, not speed tests
        context.route(THIRD_PARTY, refuse)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()
    assert not foreign, f"a page asked for third-party URLs: {foreign}"


@pytest.fixture
def page(new_page: Callable[[], Page]) -> Page:
    return new_page()


@pytest.fixture
def stand(tmp_path: Path) -> Iterator[Stand]:
    with Stand(tmp_path) as running:
        yield running
