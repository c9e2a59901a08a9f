"""Settings read once from the environment; a bad value stops the bot with the variable's name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from bot import REPO_ROOT

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


CONFIGURATION_ERROR = "configuration error: "  # how `jol` prefixes a SettingsError's line


def _int_env(env: dict[str, str], name: str, default: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None


def _admin_ids(raw: str) -> frozenset[int]:
    ids: set[int] = set()
    for part in raw.replace(" ", "").split(","):
        if not part:
            continue
        if not part.lstrip("-").isdigit():
            raise SettingsError(
                f"JOL_ADMIN_IDS must be comma-separated Telegram user ids, got {part!r}"
            )
        ids.add(int(part))
    return frozenset(ids)


def _secret_file(env: dict[str, str]) -> Path:
    """JOL_SECRET_FILE, else the user's config folder: never the database's folder, so a copy
    of the database (a backup, a seized disk) does not carry the key that reverses its keys."""
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    if raw := env.get("JOL_SECRET_FILE"):
        return home / raw[2:] if raw.startswith("~/") else Path(raw)
    config_home = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    return config_home / "jol" / "secret"


@dataclass(frozen=True)
class Settings:
    token: str | None
    api_base_url: str
    database_url: str
    content_dir: Path
    admin_ids: frozenset[int]
    secret: str | None
    secret_file: Path  # where the key is read, or generated once when JOL_SECRET is unset
    webhook_url: str | None
    webhook_secret: str | None
    http_host: str
    http_port: int
    # Counts below this are shown as "<N" in anything that leaves the server.
    min_report_count: int = 5
    retention_days: int = 730
    stale_after_days: int = 180
    stats_flush_seconds: float = 2.0
    max_messages_per_second: int = 0  # 0: no proactive cap; 429s are always waited out
    # Differential privacy of the weekly releases: ε per person-day, and how many cells one
    # chat may add to in a day (the noise scale is cap/ε).
    stats_epsilon: float = 1.0
    stats_cap: int = 4

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        content_dir = Path(env.get("JOL_CONTENT_DIR") or REPO_ROOT / "content")
        database_url = (env.get("JOL_DATABASE_URL")
                        or f"sqlite+aiosqlite:///{Path.cwd() / 'jol.sqlite3'}")
        webhook_url = env.get("JOL_WEBHOOK_URL") or None
        webhook_secret = env.get("JOL_WEBHOOK_SECRET") or None
        if webhook_url and not webhook_secret:
            raise SettingsError("JOL_WEBHOOK_SECRET must be set when JOL_WEBHOOK_URL is set")
        if webhook_secret and not all(c.isalnum() or c in "_-" for c in webhook_secret):
            raise SettingsError("JOL_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and -")
        flush = env.get("JOL_STATS_FLUSH_SECONDS", "").strip()
        try:
            flush_seconds = float(flush) if flush else 2.0
        except ValueError:
            raise SettingsError(
                f"JOL_STATS_FLUSH_SECONDS must be a number, got {flush!r}") from None
        raw_epsilon = env.get("JOL_STATS_EPSILON", "").strip()
        try:
            epsilon = float(raw_epsilon) if raw_epsilon else 1.0
        except ValueError:
            raise SettingsError(
                f"JOL_STATS_EPSILON must be a number, got {raw_epsilon!r}") from None
        if not 0.01 <= epsilon <= 10:
            raise SettingsError(f"JOL_STATS_EPSILON must be between 0.01 and 10, got {epsilon}")
        cap = _int_env(env, "JOL_STATS_CAP", 4)
        if not 1 <= cap <= 100:
            raise SettingsError(f"JOL_STATS_CAP must be between 1 and 100, got {cap}")
        return cls(
            token=env.get("TELEGRAM_BOT_TOKEN") or None,
            api_base_url=env.get("JOL_API_BASE_URL") or DEFAULT_API_BASE_URL,
            database_url=database_url,
            content_dir=content_dir,
            admin_ids=_admin_ids(env.get("JOL_ADMIN_IDS", "")),
            secret=env.get("JOL_SECRET") or None,
            secret_file=_secret_file(env),
            webhook_url=webhook_url,
            webhook_secret=webhook_secret,
            http_host=env.get("JOL_HTTP_HOST") or "127.0.0.1",
            http_port=_int_env(env, "JOL_HTTP_PORT", 8080),
            min_report_count=_int_env(env, "JOL_MIN_REPORT_COUNT", 5),
            retention_days=_int_env(env, "JOL_RETENTION_DAYS", 730),
            stale_after_days=_int_env(env, "JOL_STALE_AFTER_DAYS", 180),
            stats_flush_seconds=flush_seconds,
            max_messages_per_second=_int_env(env, "JOL_MAX_MESSAGES_PER_SECOND", 0),
            stats_epsilon=epsilon,
            stats_cap=cap,
        )
