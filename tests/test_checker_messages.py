"""Every message the content checker prints has its Russian line in one catalog."""

from __future__ import annotations

import ast
import string
from pathlib import Path

from bot import REPO_ROOT
from bot.content import yamlfile
from bot.content.checker_messages import MESSAGES, SUMMARY, translate
from bot.content.render import markdown_problems

# The call and the position of its message argument.
MESSAGE_ARGUMENT = {"report": 2, "fail": 1, "refuse": 0, "Located": 1, "PhoneError": 0,
                    "Problem": 4, "_Refused": 1}
SOURCES = ("bot/content/loader.py", "bot/content/yamlfile.py", "bot/content/store.py",
           "bot/content/source.py", "bot/languages.py", "bot/i18n.py")


def used_messages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        index = MESSAGE_ARGUMENT.get(str(name))
        if index is None or len(node.args) <= index:
            continue
        argument = node.args[index]
        assert isinstance(argument, ast.Constant | ast.Attribute | ast.Name), (
            f"{path}:{node.lineno}: a checker message must be a literal id, not built text")
        if isinstance(argument, ast.Constant):
            found.add(argument.value)
    return found


def test_every_checker_message_has_russian() -> None:
    used = set().union(*(used_messages(REPO_ROOT / source) for source in SOURCES))
    used |= {explanation for _, _, explanation in yamlfile._EXPLANATIONS}
    body = "<b>x</b>\n[a](http://a)\n1. one"
    used |= {message for _, message, _, _ in markdown_problems(body)}
    assert len(used) > 80
    missing = sorted(m for m in used if not MESSAGES.get(m, {}).get("ru"))
    assert missing == []
    unused = sorted(set(MESSAGES) - used)
    assert unused == []


def test_translations_keep_the_placeholders() -> None:
    for key, languages in {**MESSAGES, **SUMMARY}.items():
        for text in languages.values():
            assert sorted(ast_names(text)) == sorted(ast_names(key)), key


def ast_names(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def test_unknown_messages_are_shown_as_written() -> None:
    # selfcheck.py reports English text without an id: it is shown as it is.
    assert translate("question 'fee': weight must be 1, 2 or 3", {}, "ru") == (
        "question 'fee': weight must be 1, 2 or 3")
    assert translate("country {code}: no {lang} name", {"code": "KG", "lang": "ky"}, "en") == (
        "country KG: no ky name")
    assert translate("country {code}: no {lang} name", {"code": "KG", "lang": "ky"}, "ky") == (
        "страна KG: нет названия на ky")
