"""The editors' workspace in a real browser (issue 13, item 4), as two NGO editors use it:
signing in by the link the bot sends, a bad phone number flagged at its field and blocking the
publish, the fix shown in the phone preview, content that tries to be a script shown as text,
the main pages at phone width, and a change reviewed by the second editor, published, seen by a
user of the bot, and rolled back.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.stand import EDITORS, Stand, assert_fits_phone

CONTACT = "kg-mfa-consular"  # shown under the topic "detained" (content/ru/detained.md)
OLD_NUMBER = "+996 999 312 002"
NEW_NUMBER = "+996 999 312 777"


def sign_in(stand: Stand, page: Page, editor: int) -> str:
    """The editor sends /workspace to the bot, opens the link it answers with, signs in."""
    link = stand.link_from_bot(editor)
    page.goto(link)
    page.get_by_role("button", name="Войти").click()
    expect(page).to_have_url(stand.url("/workspace/"))
    return link


def test_sign_in_by_the_bots_link_and_the_link_only_once(
        stand: Stand, new_page: Callable[[], Page]) -> None:
    editor = new_page()
    link = sign_in(stand, editor, EDITORS[0])
    expect(editor.get_by_role("button", name="Выйти")).to_be_visible()

    someone = new_page()  # the same link forwarded to, or stolen by, someone else
    someone.goto(link)
    someone.get_by_role("button", name="Войти").click()
    expect(someone.get_by_role("alert")).to_contain_text("уже использована")
    someone.goto(stand.url("/workspace/"))
    expect(someone.get_by_role("button", name="Выйти")).to_have_count(0)


def test_a_bad_number_is_flagged_at_its_field_and_the_fix_is_previewed(
        stand: Stand, new_page: Callable[[], Page]) -> None:
    page = new_page()
    sign_in(stand, page, EDITORS[0])
    page.goto(stand.url(f"/workspace/contact/{CONTACT}"))
    phone = page.get_by_label("Телефон", exact=True)
    expect(phone).to_have_value(OLD_NUMBER)

    phone.fill("+996 999 31")
    expect(page.locator("#problem-phone")).not_to_be_empty()  # live, before saving
    expect(phone).to_have_attribute("aria-invalid", "true")
    page.get_by_role("button", name="Сохранить в черновик").click()
    expect(page.locator("#problem-phone")).not_to_be_empty()  # and from the server
    expect(page.get_by_label("Телефон", exact=True)).to_have_value("+996 999 31")
    draft = draft_url(page)
    page.goto(draft)
    expect(page.locator("#problem-publish")).to_be_visible()
    # With two editors the author cannot publish at all (a reviewer does); the page says why
    # this draft could not be published by anyone yet.
    expect(page.get_by_role("button", name="Опубликовать", exact=True)).to_have_count(0)
    expect(page.locator("#problem-publish")).to_contain_text("Опубликовать нельзя")

    page.goto(stand.url(f"/workspace/contact/{CONTACT}?draft={draft.rsplit('/', 1)[1]}"))
    page.get_by_label("Телефон", exact=True).fill(NEW_NUMBER)
    expect(page.locator("#problem-phone")).to_be_empty()
    expect(page.locator("#phone-shown")).to_contain_text("999 312 777")
    page.get_by_role("button", name="Сохранить в черновик").click()
    page.goto(stand.url(f"/workspace/topic/detained?draft={draft.rsplit('/', 1)[1]}"))
    expect(page.locator('[data-preview="ru"]')).to_contain_text("999 312 777")
    expect(page.locator('[data-preview="ru"]')).not_to_contain_text("999 312 002")


def draft_url(page: Page) -> str:
    link = page.locator("p.draft-line a")
    expect(link).to_be_visible()
    href = link.get_attribute("href")
    assert href and re.fullmatch(r"/workspace/drafts/\d+", href), href
    return page.url.split("/workspace/")[0] + href


def test_a_script_typed_into_content_is_shown_as_text(
        stand: Stand, new_page: Callable[[], Page]) -> None:
    page = new_page()
    sign_in(stand, page, EDITORS[0])
    page.goto(stand.url("/workspace/topic/detained"))
    alerts: list[str] = []
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    body = page.locator("#body_ru")  # the Russian column; the Kyrgyz one comes first
    attack = ('<script>alert(1)</script> <img src=x onerror=alert(2)> '
              '[позвонить](javascript:alert(3))')
    body.fill(attack)
    preview = page.locator('[data-preview="ru"]')
    expect(preview).to_contain_text("<script>alert(1)</script>")  # as text, live
    page.get_by_role("button", name="Сохранить в черновик").click()
    expect(preview).to_contain_text("<script>alert(1)</script>")  # as text, from the server
    expect(preview).to_contain_text("<img src=x onerror=alert(2)>")
    assert preview.locator("script, img, [onerror]").count() == 0
    assert preview.locator('a[href^="javascript:"]').count() == 0
    page.wait_for_timeout(300)
    assert alerts == [], f"a script ran: {alerts}"


def test_the_main_pages_fit_a_phone(stand: Stand, page: Page) -> None:
    sign_in(stand, page, EDITORS[0])
    page.set_viewport_size({"width": 360, "height": 740})
    for path in ("/workspace/", "/workspace/topic/detained", f"/workspace/contact/{CONTACT}",
                 "/workspace/selfcheck", "/workspace/new", "/workspace/history",
                 "/workspace/stale"):
        answer = page.goto(stand.url(path))
        assert answer is not None and answer.status == 200, path
        assert_fits_phone(page)


def bot_shows(stand: Stand, text: str, present: bool, seconds: float = 10.0) -> None:
    """A user opens the topic until the bot's answer does (or no longer does) show `text`:
    a publish reaches the bot within the content poll (JOL_CONTENT_POLL_SECONDS)."""
    import time

    deadline = time.monotonic() + seconds
    while True:
        shown = " ".join(m["text"] for m in stand.say(USER, "/start detained"))
        if (text in shown) == present or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert (text in shown) == present, shown


USER = 5550123


def test_review_publish_reaches_the_bot_and_rollback_restores(
        stand: Stand, new_page: Callable[[], Page]) -> None:
    bot_shows(stand, NEW_TITLE, present=False)
    author = new_page()
    sign_in(stand, author, EDITORS[0])
    author.goto(stand.url("/workspace/topic/detained"))
    author.locator("#title_ru").fill(NEW_TITLE)
    author.get_by_role("button", name="Сохранить в черновик").click()
    draft = draft_url(author)
    author.goto(draft)
    author.get_by_label("Что изменено (одна строка для истории)").fill("Новый заголовок")
    author.get_by_role("button", name="Отправить на проверку").click()

    reviewer = new_page()  # the second editor, in another browser
    sign_in(stand, reviewer, EDITORS[1])
    reviewer.goto(draft)
    expect(reviewer.locator("main")).to_contain_text(NEW_TITLE)  # the diff
    reviewer.get_by_role("button", name="Опубликовать", exact=True).click()
    expect(reviewer.locator("main")).to_contain_text("версия 2")
    bot_shows(stand, NEW_TITLE, present=True)

    reviewer.goto(stand.url("/workspace/history"))
    expect(reviewer.locator("main")).to_contain_text("Новый заголовок")
    reviewer.get_by_role("button", name="Сделать опубликованной снова: 1").click()
    bot_shows(stand, NEW_TITLE, present=False)


NEW_TITLE = "Задержала полиция: что делать"
