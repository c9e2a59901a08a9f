"""Greetings, thanks and emoji get a friendly answer with the menu; a cry for help opens SOS;
"спасибо" never does, and a real question is still searched."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.content.search import small_talk as classify
from tests.helpers import running_bot

MENU_TITLE = {"ru": "Главное меню", "ky": "Башкы меню"}
PICKER = {"ru": "В какой вы стране?", "ky": "Кайсы өлкөдөсүз?"}
NOT_FOUND = {"ru": "По этому вопросу я ничего не нашёл", "ky": "Бул суроо боюнча"}
FRIENDLY = {
    ("ru", "greeting"): "Здравствуйте! Я Jol.",
    ("ky", "greeting"): "Саламатсызбы! Мен Jol.",
    ("ru", "thanks"): "Пожалуйста! Берегите себя.",
    ("ky", "thanks"): "Эч нерсе эмес! Өзүңүздү сактаңыз.",
    ("ru", "ok"): "Я здесь. Чем вам помочь?",
    ("ky", "ok"): "Мен бул жердемин.",
}


@pytest.mark.parametrize(("lang", "message", "kind"), [
    ("ru", "Привет!", "greeting"),
    ("ru", "здравствуйте", "greeting"),
    ("ru", "добрый день", "greeting"),
    ("ru", "спасибо большое", "thanks"),
    ("ru", "Благодарю вас", "thanks"),
    ("ru", "ок", "ok"),
    ("ru", "👍", "ok"),
    ("ky", "Салам", "greeting"),
    ("ky", "Ассалому алейкум", "greeting"),
    ("ky", "саламатсызбы", "greeting"),
    ("ky", "рахмат", "thanks"),
    ("ky", "Чоң рахмат сизге!", "thanks"),
    ("ky", "rahmat", "thanks"),
    ("ky", "Жардамыңыз үчүн чоң рахмат", "thanks"),
    ("ru", "спасибо за помощь!", "thanks"),
    ("ky", "макул", "ok"),
    ("ky", "🙏🙏", "ok"),
])
async def test_small_talk_gets_a_friendly_answer_and_the_menu(tmp_path: Path, lang: str,
                                                              message: str, kind: str) -> None:
    async with running_bot(tmp_path) as bot:
        screen = await bot.user(lang).send(message)
        assert screen.text.startswith(FRIENDLY[(lang, kind)])
        assert MENU_TITLE[lang] in screen.text
        assert "🆘 SOS" in screen.button_labels
        assert not screen.text.startswith(NOT_FOUND[lang])
        assert PICKER[lang] not in screen.text  # thanks is never SOS


@pytest.mark.parametrize(("lang", "message"), [
    ("ru", "🆘"),
    ("ru", "помогите"),
    ("ru", "Помогите пожалуйста!!!"),
    ("ru", "спасите"),
    ("ru", "SOS"),
    ("ky", "жардам"),
    ("ky", "Жардам бериңиз"),
    ("ky", "салам, жардам бергиле"),
    ("ky", "🆘 🆘"),
])
async def test_a_cry_for_help_opens_sos(tmp_path: Path, lang: str, message: str) -> None:
    async with running_bot(tmp_path) as bot:
        screen = await bot.user(lang).send(message)
        assert PICKER[lang] in screen.text


def test_questions_are_not_small_talk() -> None:
    for message in ("спасибо, а как проверить агентство?", "привет, забрали паспорт",
                    "помогите найти работу в корее", "салам, айлык бербей жатат", "112",
                    "паспорт"):
        assert classify(message) is None, message
    assert classify("спасибо") == "thanks"
    assert classify("помощь") is None  # what one thanks for is no thanks alone
    assert classify("") is None
