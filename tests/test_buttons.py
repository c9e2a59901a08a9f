"""Typed buttons (bot/buttons.py): every kind packs to the wire format phones already carry,
parses back to itself, and anything else is None, which the bot answers with "out of date"."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import app, buttons
from bot.buttons import (
    Button,
    CheckButton,
    ClearChatButton,
    ClearChatConfirmedButton,
    FailedNumberButton,
    FamilyCheckButton,
    LanguageButton,
    LanguagePickerButton,
    MainMenuButton,
    NumbersButton,
    SosButton,
    TalkButton,
    TopicButton,
)
from tests.helpers import running_bot

# The formats of buttons sent by earlier versions: they must keep opening the same screens.
WIRE = [
    (MainMenuButton(), "m"),
    (TopicButton("russia"), "t:russia"),
    (TopicButton("passport-taken", 3), "t:passport-taken:3"),
    (SosButton(), "sos"),
    (SosButton("KG"), "sos:KG"),
    (SosButton("-"), "sos:-"),
    (LanguagePickerButton(), "lang"),
    (LanguageButton("ky"), "l:ky"),
    (LanguageButton("uz"), "l:uz"),
    (ClearChatButton(), "clear"),
    (ClearChatConfirmedButton(), "clear!"),
    (CheckButton("0a1f"), "q:0a1f"),
    (CheckButton("0a1f", "3"), "q:0a1f3"),
    (CheckButton("0a1f", "3", "ynu", "*"), "q:0a1f3ynu*"),
    (FamilyCheckButton("0a1f", "b", "nn", "<"), "fq:0a1fbnn<"),
    (NumbersButton("hotlines"), "nw:hotlines"),
    (FailedNumberButton("kg-112"), "nf:kg-112"),
    (TalkButton(), "talk"),
    (TalkButton("ok"), "talk:ok"),
    (TalkButton("end"), "talk:end"),
]


@pytest.mark.parametrize(("button", "data"), WIRE, ids=[data for _, data in WIRE])
def test_each_kind_packs_to_its_wire_format_and_back(button: Button, data: str) -> None:
    assert button.pack() == data
    assert Button.parse(data) == button
    assert type(Button.parse(data)) is type(button)


def test_every_declared_kind_is_answered_by_exactly_one_feature() -> None:
    """A kind nobody answers would only ever say "out of date"; two would be ambiguous."""
    routed = [handler.kind for feature in app.FEATURES_WITH_BUTTONS
              for handler in feature.PRESSES]
    for kind in Button.kinds():
        assert sum(issubclass(kind, r) for r in routed) == 1, kind.__name__
    assert {type(button) for button, _ in WIRE} == set(Button.kinds())  # its wire format


@pytest.mark.parametrize("data", [
    "", "x", "zzz", "m:", "m:1", "t:", "t:Russia", "t:../etc", "t:a--b", "t:russia:0",
    "t:russia:01", "t:russia:100", "t:russia:+1", "t:russia:1:2", "t:" + "a" * 41,
    "sos:", "sos:kg", "sos:KGZ", "sos:--", "l:", "l:e", "l:engl", "l:EN", "clear:", "clear!!",
    "q:", "q:abc", "q:0A1F", "q:0a1f3y3", "q:0a1f3x", "q:0a1f3ynu**", "fq:zzzz", "nw:", "nf:A",
    "t:россия", "t:" + "a" * 70, "lang:ky", "t:russia\u0000",
])
def test_forged_malformed_and_non_canonical_data_parses_to_none(data: str) -> None:
    assert Button.parse(data) is None


def test_a_button_that_cannot_be_packed_raises() -> None:
    with pytest.raises(ValueError, match="bad topic id"):
        TopicButton("Not an id")
    with pytest.raises(ValueError, match="bad page"):
        TopicButton("russia", 100)
    with pytest.raises(ValueError, match="self-check step"):
        CheckButton("0a1f", "", "y")  # an answer before a destination


def test_packing_more_than_64_bytes_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(buttons, "_KINDS", dict(buttons._KINDS))  # this kind is the test's

    @dataclass(frozen=True)
    class NoteButton(Button):
        prefix = "note"
        text: str

    assert NoteButton("a" * 59).pack() == "note:" + "a" * 59  # 64 bytes
    with pytest.raises(ValueError, match="over 64 bytes"):
        NoteButton("a" * 60).pack()
    with pytest.raises(ValueError, match="over 64 bytes"):
        NoteButton("ы" * 30).pack()  # 30 characters, 60 bytes of UTF-8


def test_a_taken_prefix_is_an_error_at_import(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(buttons, "_KINDS", dict(buttons._KINDS))
    with pytest.raises(TypeError, match="'t' of Another is taken by TopicButton"):
        @dataclass(frozen=True)
        class Another(Button):
            prefix = "t"
    with pytest.raises(TypeError, match="needs a prefix of its own"):
        class Inherited(MainMenuButton):  # no prefix: it would claim the parent's
            pass


@pytest.mark.parametrize("data", [
    "zzz",  # a prefix no kind has
    "t:russia:0",  # a bad field: a page written with its default
    "nf:no-such-contact", "nw:no-such-topic",  # well formed, but gone from the content
    "m:", "sos:", "clear!!", "t:" + "a" * 70,  # malformed; over 64 bytes
    "", "lang:ky", "q:0000",  # empty; from no version of the bot; a check that never was
    "safe", "q:yyn", "q:0a1fyyn",  # formats of older versions (the safety screen, old checks)
])
async def test_a_forged_or_stale_press_gets_out_of_date_and_the_menu(tmp_path: Path,
                                                                    data: str) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("ru")
        await user.send("/start")
        screen = await user.press_data(data)
        assert user.chat.callback_answers[-1] == "Эта кнопка устарела."
        assert screen.text.startswith("Главное меню")
        assert "🌐 Язык" in screen.button_labels


async def test_a_language_no_longer_offered_asks_for_the_language(tmp_path: Path) -> None:
    async with running_bot(tmp_path) as bot:
        user = bot.user("en")  # no language yet
        screen = await user.press_data("l:xx", (await user.send("/start")).message_id)
        assert screen.text == "Тилди тандаңыз / Выберите язык / Tilni tanlang"
        assert screen.button_labels == ["Кыргызча", "Русский", "Oʻzbekcha"]
