"""Jol: a Telegram bot for safe labour migration from Kyrgyzstan."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
