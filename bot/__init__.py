"""Jol: a Telegram bot for safe labour migration from Kyrgyzstan."""

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def _import_telegram_without_passport() -> None:
    """python-telegram-bot imports `cryptography` (~8 MB resident) when it is installed, only
    to decrypt Telegram Passport data, which Jol never asks for; it supports running without
    it. So `cryptography` is hidden while PTB is first imported; the handoff, when configured,
    imports it itself (bot/handoff/crypto.py)."""
    if "telegram" in sys.modules or "cryptography" in sys.modules:
        return
    sys.modules["cryptography"] = None  # type: ignore[assignment]  # ImportError on import
    try:
        import telegram  # noqa: F401
    finally:
        del sys.modules["cryptography"]


_import_telegram_without_passport()
