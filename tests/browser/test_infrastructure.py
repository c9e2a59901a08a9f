"""The browser stand itself: Debian's Chromium opens what a real `jol run` serves, the bot
answers through the stand-in, and the layout check catches a page wider than a phone."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.stand import Stand, assert_fits_phone


def test_chromium_opens_what_jol_run_serves(stand: Stand, page: Page) -> None:
    answer = page.goto(stand.url("/healthz"))
    assert answer is not None and answer.status == 200
    assert '"status": "ok"' in page.inner_text("body")
    assert page.evaluate("navigator.userAgent").count("HeadlessChrome/") == 1
    menu = stand.say(5_550_001, "/start")
    assert menu[-1]["text"].startswith("Главное меню"), menu


def test_a_page_wider_than_a_phone_is_caught(page: Page) -> None:
    page.set_content('<meta name="viewport" content="width=device-width">'
                     '<p>fits</p>')
    assert_fits_phone(page)
    page.set_content('<meta name="viewport" content="width=device-width">'
                     '<pre>' + "0123456789" * 50 + "</pre>")
    with pytest.raises(AssertionError, match="scrolls sideways at 360 px"):
        assert_fits_phone(page)
