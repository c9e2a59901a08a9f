"""Collect the message ids the code passes to a Texts object (calls like texts("…"))."""

from __future__ import annotations

import ast
from pathlib import Path

from bot import REPO_ROOT

TEXT_CALLERS = {"texts", "texts_"}


def _is_texts_call(node: ast.Call) -> bool:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id in TEXT_CALLERS
    if isinstance(func, ast.Attribute):
        return func.attr == "texts"
    if isinstance(func, ast.Call):  # texts(lang)("…")
        return _is_texts_call(func)
    return False


def used_message_ids() -> set[str]:
    """Literal ids in the code, plus the command descriptions and the statistics events'
    report labels (translated from tables)."""
    from bot.app import ADMIN_COMMANDS, USER_COMMANDS
    from bot.events import EVENTS

    found = {description for _, description in USER_COMMANDS + ADMIN_COMMANDS}
    found |= {event.label for event in EVENTS.values()}
    for path in (REPO_ROOT / "bot").rglob("*.py"):
        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
        # texts(lang)("…"): the inner call picks the language, its argument is no message id.
        selectors = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        for node in ast.walk(tree):
            if id(node) in selectors:
                continue
            if isinstance(node, ast.Call) and _is_texts_call(node) and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    found.add(first.value)
    return found


if __name__ == "__main__":
    for msgid in sorted(used_message_ids()):
        print(repr(msgid))
