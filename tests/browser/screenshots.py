"""Screenshots of the workspace's main pages for docs/workspace/ (run: python -m
tests.browser.screenshots): a real `jol run` with the real content, Debian's Chromium."""

from __future__ import annotations

import tempfile
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from bot import REPO_ROOT
from tests.browser.stand import CHROMIUM, CHROMIUM_ARGS, EDITORS, Stand

OUT = REPO_ROOT / "docs" / "workspace"


def sign_in(stand: Stand, page: Page, editor: int) -> None:
    page.goto(stand.link_from_bot(editor))
    page.get_by_role("button", name="Войти").click()
    page.wait_for_url(stand.url("/workspace/"))


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as root, Stand(Path(root)) as stand, \
            sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=CHROMIUM_ARGS)
        desktop = browser.new_context(locale="ru-RU", viewport={"width": 1280, "height": 900})
        page = desktop.new_page()
        sign_in(stand, page, EDITORS[0])
        page.screenshot(path=OUT / "home.png", full_page=True)
        page.goto(stand.url("/workspace/topic/detained"))
        page.screenshot(path=OUT / "topic-with-preview.png")
        page.goto(stand.url("/workspace/contact/kg-mfa-consular"))
        page.get_by_label("Телефон", exact=True).fill("+996 999 31")
        page.wait_for_timeout(800)  # the live phone check
        page.screenshot(path=OUT / "contact-problem.png")
        page.get_by_label("Телефон", exact=True).fill("+996 999 312 777")
        page.get_by_role("button", name="Сохранить в черновик").click()
        page.locator("p.draft-line a").click()
        page.screenshot(path=OUT / "draft-diff.png", full_page=True)
        page.goto(stand.url("/workspace/history"))
        page.screenshot(path=OUT / "history.png")
        phone = browser.new_context(locale="ru-RU", viewport={"width": 360, "height": 740})
        small = phone.new_page()
        sign_in(stand, small, EDITORS[1])
        small.goto(stand.url("/workspace/topic/detained"))
        small.screenshot(path=OUT / "topic-360px.png")
        browser.close()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
