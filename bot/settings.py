"""Settings read once from the environment; a bad value stops the bot with the variable's name."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from bot import REPO_ROOT
from bot.handoff.hours import WorkingHours

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


CONFIGURATION_ERROR = "configuration error: "  # how `jol` prefixes a SettingsError's line


def _int_env(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, got {raw}")
    return value


def _float_env(env: dict[str, str], name: str, default: float, low: float,
               high: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None
    if not low <= value <= high:  # also refuses nan and inf
        raise SettingsError(f"{name} must be between {low:g} and {high:g}, got {raw}")
    return value


def _webhook_url(env: dict[str, str]) -> str | None:
    """Telegram delivers only to https; plain http is left for a loopback address (the
    stand-in, a test), which Telegram itself could never reach."""
    raw = env.get("JOL_WEBHOOK_URL") or None
    if raw is None:
        return None
    url = urlparse(raw)
    loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
    if not url.hostname or not (url.scheme == "https" or (url.scheme == "http" and loopback)):
        raise SettingsError(f"JOL_WEBHOOK_URL must be an https:// address, got {raw!r}")
    return raw


def _choice_env(env: dict[str, str], name: str, choices: tuple[str, ...], default: str,
                fold: str = "") -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    value = raw.upper() if fold == "upper" else raw.lower()
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, got {raw!r}")
    return value


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


# --- handoff to caseworkers (bot/handoff; README "Talk to a person") ---------------------
@dataclass(frozen=True)
class Casework:
    """Where cases go and what the consent screen says: all four are required together."""

    chat_id: int  # JOL_CASEWORK_CHAT_ID: the caseworkers' forum supergroup
    key: str = field(repr=False)  # JOL_CASE_KEY: the Fernet key sealing chat ids
    ngo_name: str  # JOL_CASEWORK_NGO_NAME
    hours: WorkingHours  # JOL_CASEWORK_HOURS


def _casework(env: dict[str, str]) -> Casework | None:
    """JOL_CASEWORK_CHAT_ID turns the handoff on; it then needs the key, the NGO's name and
    its hours, so that the consent screen never promises what nobody configured."""
    raw = env.get("JOL_CASEWORK_CHAT_ID", "").strip()
    if not raw:
        return None
    if not (raw.startswith("-100") and raw[1:].isdigit()):
        raise SettingsError("JOL_CASEWORK_CHAT_ID must be a supergroup id like -1001234567890, "
                            f"got {raw!r}")
    key = env.get("JOL_CASE_KEY", "").strip()
    if not key:
        raise SettingsError("JOL_CASE_KEY must be set when JOL_CASEWORK_CHAT_ID is set; make "
                            "one with: python -c 'from cryptography.fernet import Fernet; "
                            "print(Fernet.generate_key().decode())'")
    from cryptography.fernet import Fernet  # only a bot with the handoff needs it

    try:
        Fernet(key.encode("ascii"))
    except (ValueError, UnicodeError):
        raise SettingsError("JOL_CASE_KEY must be a Fernet key (44 characters of url-safe "
                            "base64, from Fernet.generate_key())") from None
    name = " ".join(env.get("JOL_CASEWORK_NGO_NAME", "").split())
    if not 1 <= len(name) <= 100:
        raise SettingsError("JOL_CASEWORK_NGO_NAME must name the caseworkers' organisation "
                            "(1-100 characters) when JOL_CASEWORK_CHAT_ID is set")
    try:
        hours = WorkingHours.parse(env.get("JOL_CASEWORK_HOURS", ""))
    except ValueError as error:
        raise SettingsError(f"JOL_CASEWORK_HOURS: {error}") from None
    return Casework(chat_id=int(raw), key=key, ngo_name=name, hours=hours)


# --- end of the handoff block -------------------------------------------------------------


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
    # chat may add to in a day besides SOS and number reports (bot.stats.cap); the noise
    # scale is (cap + their allowances)/ε.
    stats_epsilon: float = 1.0
    stats_cap: int = 4
    log_level: str = "INFO"  # DEBUG, INFO, WARNING or ERROR; user data is never logged
    log_format: str = "text"  # text, or json: one object a line (time, level, logger, message)
    # Handoff (bot/handoff): None turns it off. Closed cases go at the next purge, idle ones
    # after case_retention_days (JOL_CASE_RETENTION_DAYS).
    casework: Casework | None = None
    case_retention_days: int = 30

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        content_dir = Path(env.get("JOL_CONTENT_DIR") or REPO_ROOT / "content")
        database_url = (env.get("JOL_DATABASE_URL")
                        or f"sqlite+aiosqlite:///{Path.cwd() / 'jol.sqlite3'}")
        webhook_url = _webhook_url(env)
        webhook_secret = env.get("JOL_WEBHOOK_SECRET") or None
        if webhook_url and not webhook_secret:
            raise SettingsError("JOL_WEBHOOK_SECRET must be set when JOL_WEBHOOK_URL is set")
        if webhook_secret and not all(c.isalnum() or c in "_-" for c in webhook_secret):
            raise SettingsError("JOL_WEBHOOK_SECRET may hold only A-Z, a-z, 0-9, _ and -")
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
            http_port=_int_env(env, "JOL_HTTP_PORT", 8080, 0, 65535),  # 0: any free port
            # Below 2 one chat's word or count would be written or released on its own.
            min_report_count=_int_env(env, "JOL_MIN_REPORT_COUNT", 5, 2, 1000),
            retention_days=_int_env(env, "JOL_RETENTION_DAYS", 730, 1, 36500),
            stale_after_days=_int_env(env, "JOL_STALE_AFTER_DAYS", 180, 1, 3650),
            stats_flush_seconds=_float_env(env, "JOL_STATS_FLUSH_SECONDS", 2.0, 0.1, 3600),
            max_messages_per_second=_int_env(env, "JOL_MAX_MESSAGES_PER_SECOND", 0, 0, 1000),
            stats_epsilon=_float_env(env, "JOL_STATS_EPSILON", 1.0, 0.01, 10),
            stats_cap=_int_env(env, "JOL_STATS_CAP", 4, 1, 100),
            log_level=_choice_env(env, "JOL_LOG_LEVEL", LOG_LEVELS, "INFO", fold="upper"),
            log_format=_choice_env(env, "JOL_LOG_FORMAT", LOG_FORMATS, "text"),
            casework=_casework(env),
            case_retention_days=_int_env(env, "JOL_CASE_RETENTION_DAYS", 30, 1, 365),
        )
