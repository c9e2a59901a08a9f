"""Markdown subset → Telegram HTML: escaped, balanced, only allowed tags."""

from __future__ import annotations

import re
from datetime import date

from bot.content.model import Contact
from bot.content.render import paginate, render_block, render_contacts, visible_length
from bot.i18n import texts

ALLOWED = {"b", "i", "a"}


def assert_valid_html(html: str) -> None:
    stack: list[str] = []
    for closing, name in re.findall(r"<(/?)([a-z]+)[^>]*>", html):
        assert name in ALLOWED, name
        if closing:
            assert stack and stack.pop() == name, html
        else:
            stack.append(name)
    assert not stack, html
    text = re.sub(r"<[^>]+>", "", html)
    assert "<" not in text and ">" not in text
    assert re.search(r"&(?!amp;|lt;|gt;|quot;)", text) is None


def test_inline_formatting() -> None:
    html = render_block("**Важно:** не _отдавайте_ паспорт. [МОМ](https://kyrgyzstan.iom.int)")
    assert html == ('<b>Важно:</b> не <i>отдавайте</i> паспорт. '
                    '<a href="https://kyrgyzstan.iom.int">МОМ</a>')
    assert_valid_html(html)


def test_raw_html_and_ampersands_are_escaped() -> None:
    html = render_block('<script>alert(1)</script> Tom & Jerry <b>bold</b> 5 < 6')
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "Tom &amp; Jerry" in html
    assert_valid_html(html)


def test_unbalanced_markers_stay_text() -> None:
    html = render_block("**не закрыто и _тоже")
    assert html == "**не закрыто и _тоже"
    assert_valid_html(html)


def test_lists_headings_and_non_https_links() -> None:
    html = render_block("## Что делать\n- Копия паспорта\n- [сайт](http://example.org)")
    assert html.splitlines() == ["<b>Что делать</b>", "• Копия паспорта",
                                 "• [сайт](http://example.org)"]
    assert_valid_html(html)


def test_snake_case_words_are_not_italic() -> None:
    assert render_block("file_name_here") == "file_name_here"


def test_contacts_show_checked_date_or_caution() -> None:
    verified = Contact("kg-112", "KG", "112", {"ru": "Спасатели", "ky": "Куткаруучулар"}, {}, {},
                       None, date(2026, 1, 10), "FCDO", True, 1)
    unverified = Contact("kg-189", "KG", "189", {"ru": "Линия 189", "ky": "189 линиясы"}, {}, {},
                         None, date(2017, 4, 10), "old", False, 2)
    (block,) = render_contacts([verified, unverified], {"KG": {"ru": "Кыргызстан"}}, texts("ru"))
    assert block.startswith("<b>🇰🇬 Кыргызстан</b>")
    assert "☎️ <b>112</b> — Спасатели\nНомер сверен с источником 10 января 2026\u202fг." in block
    assert "☎️ <b>189</b> — Линия 189\n⚠️ Не подтверждён" in block
    (ky_block,) = render_contacts([verified], {}, texts("ky"))
    assert "Номер булагы менен салыштырылды: 2026-ж., 10-январь" in ky_block
    assert_valid_html(block)


def test_compact_contacts_say_the_date_once_and_keep_each_caution() -> None:
    names = {"ru": "Линия", "ky": "Линия"}
    contacts = [Contact(f"kg-{n}", "KG", str(n), names, {}, {}, None, date(2026, 1, day),
                        "src", verified, n) for n, day, verified in
                ((112, 10, True), (101, 10, True), (189, 12, False), (102, 20, True))]
    blocks = render_contacts(contacts, {}, texts("ru"), compact=True)
    shown = "\n".join(blocks)
    assert "сверен" not in shown.split("Номера сверены")[0]  # no date under each number
    assert shown.count("Номера сверены с источниками") == 1
    assert shown.endswith("<i>Номера сверены с источниками с 10 января 2026\u202fг. по "
                          "20 января 2026\u202fг.</i>")
    assert shown.count("⚠️ Не подтверждён") == 1
    (same_day,) = render_contacts(contacts[:2], {}, texts("ky"), compact=True)
    assert same_day.endswith("<i>Номерлер булактары менен салыштырылды: 2026-ж., 10-январь</i>")


def test_paginate_keeps_blocks_whole() -> None:
    blocks = [f"блок {i} " + "х" * 1000 for i in range(7)]
    pages = paginate("Заголовок", blocks, limit=2500)
    assert len(pages) == 4
    assert all(p.startswith("<b>Заголовок</b>\n\n") and len(p) <= 2500 for p in pages)
    assert "".join(pages).count("блок") == 7


def test_paginate_counts_visible_characters_not_tags() -> None:
    # 200 bold words: 2,600 characters of HTML but 1,200 visible, so they share one page.
    blocks = ["<b>слово</b> " * 100, "<b>слово</b> " * 100]
    (page,) = paginate("Т", blocks)
    assert visible_length(page) < 1500 < len(page)
    # Telegram counts UTF-16 code units: each half of a flag is two.
    assert visible_length("<b>🇰🇬 a &amp; b</b>") == len("🇰🇬 a & b") + 2
