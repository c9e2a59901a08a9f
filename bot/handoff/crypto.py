"""The user's chat id, as the cases table may hold it: sealed, or as a keyed HMAC.

Decision (README, "Talk to a person"): the relay needs the chat id back to answer, so it is
sealed with Fernet under JOL_CASE_KEY. Finding a chat's case needs an equality lookup, which a
Fernet token (randomised) cannot give, so the lookup column is HMAC-SHA256 of the chat id
under a key derived from JOL_CASE_KEY; blocks use a second derived key, so a block entry
cannot be matched to a case row. Without JOL_CASE_KEY none of them can be reversed, not even
by trying every possible id; with it, the tokens open anyway, so the HMACs give nothing more.

Fernet writes its creation time into every token in clear; the time is set to the start of
the UTC day, so the table holds no time finer than a day.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, date, datetime


class CaseKeys:
    """Seals, opens and looks up chat ids under one JOL_CASE_KEY."""

    def __init__(self, key: str) -> None:
        # Loaded here, not at import: `cryptography` costs ~8 MB, and only a bot with the
        # handoff configured makes CaseKeys (see bot/__init__.py).
        from cryptography.fernet import Fernet

        self._fernet = Fernet(key.encode("ascii"))
        raw = base64.urlsafe_b64decode(key.encode("ascii"))
        self._lookup_key = hmac.new(raw, b"jol case lookup", hashlib.sha256).digest()
        self._block_key = hmac.new(raw, b"jol case block", hashlib.sha256).digest()

    def seal(self, chat_id: int, today: date) -> str:
        midnight = int(datetime(today.year, today.month, today.day, tzinfo=UTC).timestamp())
        return self._fernet.encrypt_at_time(str(chat_id).encode("ascii"), midnight).decode()

    def open(self, sealed: str) -> int | None:
        """The chat id, or None for a token this key did not seal (the key was changed)."""
        from cryptography.fernet import InvalidToken

        try:
            return int(self._fernet.decrypt(sealed.encode("ascii")))
        except (InvalidToken, ValueError):
            return None

    def lookup(self, chat_id: int) -> str:
        return hmac.new(self._lookup_key, str(chat_id).encode("ascii"),
                        hashlib.sha256).hexdigest()

    def block(self, chat_id: int) -> str:
        return hmac.new(self._block_key, str(chat_id).encode("ascii"),
                        hashlib.sha256).hexdigest()
