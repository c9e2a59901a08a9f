"""Sign-in links, sessions and CSRF tokens, all keyed from the bot's secret (bot/db/secret.py).

A link is `<payload>.<signature>`: base64url JSON {editor, name, expires, nonce} and an HMAC of
it. It is single-use across replicas because its nonce is recorded in the database on first
use (bot/workspace/store.py) until it expires. A session is a random token in a cookie; only
its SHA-256 is stored, so a copy of the database opens no session. The CSRF token of a session
is an HMAC of the token, so it needs no storage and is the same on every replica.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

LINK_SECONDS = 10 * 60
SESSION_SECONDS = 8 * 60 * 60
NAME_LIMIT = 64


def workspace_key(secret: bytes) -> bytes:
    """A key of its own for the workspace: knowing it says nothing about chat-language keys."""
    return hmac.new(secret, b"jol workspace v1", hashlib.sha256).digest()


class LinkRefused(ValueError):
    """A sign-in link that is forged, malformed or expired; `reason` names which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "forged" | "expired" | "used"


@dataclass(frozen=True)
class LinkClaim:
    editor_id: int
    name: str
    expires: int  # Unix time
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, b"link\0" + payload.encode("ascii"), hashlib.sha256).digest())


def make_link_token(key: bytes, editor_id: int, name: str, now: float | None = None) -> str:
    now = time.time() if now is None else now
    claim = {"e": editor_id, "n": " ".join(name.split())[:NAME_LIMIT],
             "x": int(now) + LINK_SECONDS, "r": secrets.token_hex(16)}
    payload = _b64(json.dumps(claim, ensure_ascii=False).encode("utf-8"))
    return f"{payload}.{_sign(key, payload)}"


def read_link_token(key: bytes, token: str, now: float | None = None) -> LinkClaim:
    """The claim of a genuine, unexpired link; LinkRefused otherwise (never another error)."""
    now = time.time() if now is None else now
    payload, _, signature = token.partition(".")
    if not payload or not signature or len(token) > 1000 or not token.isascii():
        raise LinkRefused("forged")
    if not hmac.compare_digest(_sign(key, payload), signature):
        raise LinkRefused("forged")
    try:
        claim = json.loads(_unb64(payload))
        result = LinkClaim(int(claim["e"]), str(claim["n"]), int(claim["x"]), str(claim["r"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise LinkRefused("forged") from None
    if result.expires < now:
        raise LinkRefused("expired")
    return result


def link_url(base: str, token: str) -> str:
    return f"{base.rstrip('/')}/workspace/login?t={token}"


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def csrf_token(key: bytes, session_token: str) -> str:
    return _b64(hmac.new(key, b"csrf\0" + session_token.encode(), hashlib.sha256).digest())


def csrf_matches(key: bytes, session_token: str, given: str) -> bool:
    return hmac.compare_digest(csrf_token(key, session_token).encode(),
                               given.encode("utf-8", "replace"))
