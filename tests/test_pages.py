"""Pages for a cheap phone and Telegram's limits: 1,500 visible characters, 4,096 at most,
100 pages a topic, 100 buttons a screen."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bot.buttons import Button, TopicButton
from bot.content.loader import load_content
from bot.content.render import visible_length
from bot.i18n import texts
from tests.conftest import write_topic

TODAY = date(2026, 11, 29)


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n\n" + text, encoding="utf-8")


def test_pages_with_their_footer_fit_a_phone_screen(small_content: Path) -> None:
    for lang in ("ru", "ky"):
        append(small_content / lang / "passport-taken.md",
               "\n\n".join(f"Абзац {i}. " + "**текст** " * 60 for i in range(12)))
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is not None, problems
    for lang in ("ru", "ky"):
        pages = snapshot.topic(lang, "passport-taken").pages  # type: ignore[union-attr]
        assert len(pages) > 2
        footer = texts(lang)("Page {n} of {total}", n=len(pages), total=len(pages))
        assert all(visible_length(f"{page}\n\n{footer}") <= 1500 for page in pages)
        assert "Абзац 11." in pages[-1]


def test_a_long_paragraph_is_a_warning_at_its_line(small_content: Path) -> None:
    append(small_content / "ky" / "passport-taken.md", "сөз " * 400)
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is not None
    (warning,) = [p for p in problems if p.severity == "warning"]
    assert str(warning).startswith("content/ky/passport-taken.md:16: warning: this paragraph "
                                   "makes a page of ")
    assert warning.show("ru").endswith("а на экран телефона помещается около 1500: разделите "
                                       "абзац пустой строкой")


def test_a_topic_with_more_pages_than_buttons_reach_is_an_error(small_content: Path) -> None:
    for lang in ("ru", "ky"):
        append(small_content / lang / "passport-taken.md",
               "\n\n".join(f"Абзац {i}. " + "слово " * 230 for i in range(100)))
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    assert "content/ru/passport-taken.md:1: error: the topic has 101 pages; page buttons reach " \
           "at most 100: shorten it or split it into several topics" in map(str, problems)
    assert Button.parse("t:passport-taken:99") == TopicButton("passport-taken", 99)
    assert Button.parse("t:passport-taken:100") is None


def test_a_screen_above_telegrams_100_buttons_is_an_error(small_content: Path) -> None:
    for lang in ("ru", "ky"):
        for n in range(97):
            write_topic(small_content, lang, f"case-{n}", title=f"Случай {n}", body="Текст.",
                        parent="danger", keywords="случай")
    snapshot, problems = load_content(small_content, today=TODAY)
    assert snapshot is None
    shown = list(map(str, problems))
    # 98 children + Back, Menu and SOS
    assert "content/ru/danger.md:1: error: this screen would have 101 buttons; Telegram allows " \
           "at most 100" in shown
    assert "content/ru/danger.md:1: warning: 98 topics in one menu; more than 12 buttons are " \
           "hard to use on a phone" in shown


def test_the_real_sos_says_the_checked_date_once(content_copy: Path) -> None:
    snapshot, problems = load_content(content_copy)
    assert snapshot is not None, problems
    for lang, words in (("ru", "сверен"), ("ky", "салыштырылды")):
        sos = "\n".join(snapshot.topic(lang, "sos").pages)  # type: ignore[union-attr]
        assert sos.count(words) == 1, sos
