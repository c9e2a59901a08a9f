"""Settings declared once: each variable's name, type, default, range and help live in SETTINGS.

The parser, the one-line error naming the variable, and the README's configuration table
(`python -m bot.settings` prints it; a test compares) all come from that table. Adding a
setting is one declaration there and its typed field in `Settings`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from bot import REPO_ROOT
from bot.handoff.hours import WorkingHours

DEFAULT_API_BASE_URL = "https://api.telegram.org/bot"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
CONTENT_SOURCES = ("database", "folder")
LOG_FORMATS = ("text", "json")

Env = Mapping[str, str]


class SettingsError(ValueError):
    """A configuration value is missing or malformed; the message names the variable."""


CONFIGURATION_ERROR = "configuration error: "  # how `jol` prefixes a SettingsError's line


@dataclass(frozen=True, slots=True)
class Setting:
    """One environment variable: how it is read, its default, and its line in the README."""

    env: str  # the variable's name
    attr: str  # the Settings field it fills
    help: str  # what it does, one line for the README
    shown_default: str  # the default as the README states it
    # A set value → the setting; ValueError("must be …, got …") for a bad one.
    parse: Callable[[str, Env], object]
    default: Callable[[Env], object]  # the value when unset or empty
    rule: str = ""  # the accepted range or choices, for the README

    def read(self, env: Env) -> object:
        raw = env.get(self.env, "")
        if not raw.strip():
            return self.default(env)
        try:
            return self.parse(raw, env)
        except SettingsError:
            raise  # already one line naming the variable (bot.db's URL check)
        except ValueError as error:
            raise SettingsError(f"{self.env} {error}") from None


def _constant(value: object) -> Callable[[Env], object]:
    return lambda env: value


def _text(raw: str, env: Env) -> str:
    return raw


def text(env: str, attr: str, help: str, default: str | None = None,
         shown_default: str = "unset") -> Setting:
    return Setting(env, attr, help, f"`{default}`" if default else shown_default, _text,
                   _constant(default))


def integer(env: str, attr: str, help: str, default: int, low: int, high: int,
            shown_default: str = "") -> Setting:
    def parse(raw: str, _: Env) -> int:
        try:
            value = int(raw.strip())
        except ValueError:
            raise ValueError(f"must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {raw.strip()}")
        return value

    return Setting(env, attr, help, shown_default or str(default), parse, _constant(default),
                   f"{low}–{high}")


def number(env: str, attr: str, help: str, default: float, low: float, high: float) -> Setting:
    def parse(raw: str, _: Env) -> float:
        try:
            value = float(raw.strip())
        except ValueError:
            raise ValueError(f"must be a number, got {raw!r}") from None
        if not (math.isfinite(value) and low <= value <= high):
            raise ValueError(f"must be between {low:g} and {high:g}, got {raw.strip()}")
        return value

    return Setting(env, attr, help, f"{default:g}", parse, _constant(default),
                   f"{low:g}–{high:g}")


def choice(env: str, attr: str, help: str, default: str, choices: tuple[str, ...]) -> Setting:
    """One of `choices`, in any letter case."""
    def parse(raw: str, _: Env) -> str:
        value = next((c for c in choices if c.lower() == raw.strip().lower()), None)
        if value is None:
            raise ValueError(f"must be one of {', '.join(choices)}, got {raw!r}")
        return value

    return Setting(env, attr, help, f"`{default}`", parse, _constant(default),
                   "one of " + ", ".join(f"`{c}`" for c in choices))


def _http_url(raw: str, env: Env) -> str:
    url = urlparse(raw)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"must be an http:// or https:// address, got {raw!r}")
    return raw


def _database_url(raw: str, env: Env) -> str:
    from bot.db import parse_database_url  # bot.db imports this module: import on use

    parse_database_url(raw)  # raises DatabaseUnusable, one line naming JOL_DATABASE_URL
    return raw


def _default_database_url(env: Env) -> str:
    return f"sqlite+aiosqlite:///{Path.cwd() / 'jol.sqlite3'}"


def _folder(raw: str, env: Env) -> Path:
    path = Path(raw)
    if not path.is_dir():
        raise ValueError(f"must be a folder that exists, got {raw!r}")
    return path


def _public_url(raw: str, env: Env) -> str:
    """The workspace's address as editors open it; sign-in links start with it."""
    return _http_url(raw.strip(), env).rstrip("/")


def _on_off(raw: str, env: Env) -> bool:
    value = raw.strip().lower()
    if value not in ("on", "off"):
        raise ValueError(f"must be on or off, got {raw!r}")
    return value == "on"


def _admin_ids(raw: str, env: Env) -> frozenset[int]:
    ids: set[int] = set()
    for part in raw.replace(" ", "").split(","):
        if not part:
            continue
        if not part.lstrip("-").isdigit():
            raise ValueError(f"must be comma-separated Telegram user ids, got {part!r}")
        ids.add(int(part))
    return frozenset(ids)


def _home(env: Env) -> Path:
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def _secret_file(raw: str, env: Env) -> Path:
    return _home(env) / raw[2:] if raw.startswith("~/") else Path(raw)


def _default_secret_file(env: Env) -> Path:
    """The user's config folder: never the database's folder, so a copy of the database (a
    backup, a seized disk) does not carry the key that reverses its keys."""
    config_home = Path(env.get("XDG_CONFIG_HOME") or _home(env) / ".config")
    return config_home / "jol" / "secret"


# --- handoff to caseworkers (bot/handoff; README "Talk to a person") ---------------------
@dataclass(frozen=True)
class Casework:
    """Where cases go and what the consent screen says: all four are required together."""

    chat_id: int  # JOL_CASEWORK_CHAT_ID: the caseworkers' forum supergroup
    key: str = field(repr=False)  # JOL_CASE_KEY: the Fernet key sealing chat ids
    ngo_name: str  # JOL_CASEWORK_NGO_NAME
    hours: WorkingHours  # JOL_CASEWORK_HOURS


def _supergroup_id(raw: str, env: Env) -> int:
    raw = raw.strip()
    if not (raw.startswith("-100") and raw[1:].isdigit()):
        raise ValueError(f"must be a supergroup id like -1001234567890, got {raw!r}")
    return int(raw)


def _fernet_key(raw: str, env: Env) -> str:
    from cryptography.fernet import Fernet  # only a bot with the handoff needs it

    try:
        Fernet(raw.strip().encode("ascii"))
    except (ValueError, UnicodeError):
        raise ValueError("must be a Fernet key (44 characters of url-safe base64), made "
                         "with: python -c 'from cryptography.fernet import Fernet; "
                         "print(Fernet.generate_key().decode())'") from None
    return raw.strip()


def _ngo_name(raw: str, env: Env) -> str:
    name = " ".join(raw.split())
    if len(name) > 100:
        raise ValueError("must be at most 100 characters")
    return name


def _working_hours(raw: str, env: Env) -> WorkingHours:
    return WorkingHours.parse(raw)  # its ValueError names what is wrong


def _webhook_url(raw: str, env: Env) -> str:
    """Telegram delivers only to https; plain http is left for a loopback address (the
    stand-in, a test), which Telegram itself could never reach."""
    url = urlparse(raw)
    loopback = url.hostname in ("127.0.0.1", "localhost", "::1")
    if not url.hostname or not (url.scheme == "https" or (url.scheme == "http" and loopback)):
        raise ValueError(f"must be an https:// address, got {raw!r}")
    return raw


def _webhook_secret(raw: str, env: Env) -> str:
    if not all(c.isalnum() or c in "_-" for c in raw):
        raise ValueError("may hold only A-Z, a-z, 0-9, _ and -")
    return raw


SETTINGS: tuple[Setting, ...] = (
    text("TELEGRAM_BOT_TOKEN", "token", "the bot's token", shown_default="required by `jol run`"),
    Setting("JOL_API_BASE_URL", "api_base_url",
            "Bot API base; token and method are appended (`{base}{token}/{method}`)",
            f"`{DEFAULT_API_BASE_URL}`", _http_url, _constant(DEFAULT_API_BASE_URL)),
    Setting("JOL_DATABASE_URL", "database_url",
            "SQLAlchemy URL: `sqlite+aiosqlite:///path.db` or `postgresql+asyncpg://…`",
            "`jol.sqlite3` in the working directory", _database_url, _default_database_url),
    Setting("JOL_CONTENT_DIR", "content_dir", "content folder; it must exist",
            "the repository's `content/`", _folder, _constant(REPO_ROOT / "content")),
    choice("JOL_CONTENT_SOURCE", "content_source",
           "what `jol run` serves: `database`, the published content version (JOL_CONTENT_DIR "
           "seeds an empty database), or `folder`, JOL_CONTENT_DIR as it is (development; "
           "`jol chat` always serves the folder)", "database", CONTENT_SOURCES),
    number("JOL_CONTENT_POLL_SECONDS", "content_poll_seconds",
           "how often a replica looks for a newly published content version (PostgreSQL also "
           "notifies at once)", 2.0, 0.1, 3600),
    Setting("JOL_ADMIN_IDS", "admin_ids",
            "comma-separated Telegram user ids of NGO staff (admin commands)", "none",
            _admin_ids, _constant(frozenset())),
    text("JOL_SECRET", "secret",
         "key for the HMAC of chat ids (language memory); wins over the file",
         shown_default="unset: read from `JOL_SECRET_FILE`"),
    Setting("JOL_SECRET_FILE", "secret_file",
            "file holding that key; generated there once (0600, logged at start) when missing. "
            "Keep it apart from the database (see Privacy)",
            "`$XDG_CONFIG_HOME/jol/secret`, else `~/.config/jol/secret`; `/secret/jol.secret` "
            "in the Docker image", _secret_file, _default_secret_file),
    Setting("JOL_WEBHOOK_URL", "webhook_url",
            "webhook mode (else long polling): an `https://` address (plain `http://` only on "
            "127.0.0.1/localhost, for the stand-in)", "unset", _webhook_url, _constant(None)),
    Setting("JOL_WEBHOOK_SECRET", "webhook_secret",
            "required with `JOL_WEBHOOK_URL`: Telegram sends it with every update", "unset",
            _webhook_secret, _constant(None), "A-Z a-z 0-9 _ -"),
    integer("JOL_WEBHOOK_CONNECTIONS", "webhook_connections",
            "webhook deliveries Telegram may make at once (`setWebhook`'s max_connections), "
            "each an update in progress: with N replicas about 40 × N, so each has ~40 (more "
            "in flight is more memory; fewer makes replicas wait for Telegram)", 40, 1, 100),
    text("JOL_HTTP_HOST", "http_host", "the HTTP server's address: webhook, `/healthz`, "
         "`/metrics`", default="127.0.0.1"),
    integer("JOL_HTTP_PORT", "http_port", "the HTTP server's port; 0 picks a free one",
            8080, 0, 65535),
    # Below 2 one chat's word or count would be written or released on its own.
    integer("JOL_MIN_REPORT_COUNT", "min_report_count",
            "a search-gap word is written only once this many different chats typed it the "
            "same day; the smallest threshold for released figures (`<N`); never 1: one chat "
            "alone must not be written", 5, 2, 1000),
    # ε per person-day, and the cells one chat may add to a day besides the reserved events
    # (bot.stats.cap): the release's noise scale is (cap + their allowances)/ε.
    number("JOL_STATS_EPSILON", "stats_epsilon",
           "ε of the weekly releases, per person-day (smaller: more noise, more privacy)",
           1.0, 0.01, 10),
    integer("JOL_STATS_CAP", "stats_cap",
            "cells one chat may add 1 to per day (the rest are not counted), besides SOS and "
            "number reports, which have 2 each of their own; noise scale = (cap + 4)/ε",
            4, 1, 100),
    integer("JOL_RETENTION_DAYS", "retention_days",
            "counters older than this are deleted daily", 730, 1, 36500),
    integer("JOL_STALE_AFTER_DAYS", "stale_after_days",
            "`reviewed` / `verified_on` older than this is a warning", 180, 1, 3650),
    number("JOL_STATS_FLUSH_SECONDS", "stats_flush_seconds",
           "how often counters and language choices are written; a crash loses at most this "
           "much", 2.0, 0.1, 3600),
    integer("JOL_MAX_MESSAGES_PER_SECOND", "max_messages_per_second",
            "optional cap on new messages a second, SOS first (Telegram states about 30 for "
            "a bot; with N replicas give each 30/N); edits and button answers are not "
            "capped; 429s are always waited out", 0, 0, 1000, shown_default="0 (off)"),
    choice("JOL_LOG_LEVEL", "log_level", "how much is logged; even at `DEBUG` never Bot API "
           "parameters, answers or SQL parameters", "INFO", LOG_LEVELS),
    choice("JOL_LOG_FORMAT", "log_format", "`json` is one JSON object a line with `time`, "
           "`level`, `logger`, `message` (and `error` with a traceback)", "text", LOG_FORMATS),
    # The handoff: off unless JOL_CASEWORK_CHAT_ID is set; then the next three are required.
    Setting("JOL_CASEWORK_CHAT_ID", "casework_chat_id",
            "the caseworkers' forum supergroup; setting it turns on \"Talk to a person\"",
            "unset (handoff off)", _supergroup_id, _constant(None), "-100…"),
    Setting("JOL_CASE_KEY", "case_key",
            "Fernet key that encrypts the chat ids of open cases (required with the chat id)",
            "unset", _fernet_key, _constant(None)),
    Setting("JOL_CASEWORK_NGO_NAME", "casework_ngo_name",
            "the caseworkers' organisation, named on the consent screen (required with the "
            "chat id)", "unset", _ngo_name, _constant(None), "1–100 characters"),
    Setting("JOL_CASEWORK_HOURS", "casework_hours",
            "when caseworkers answer, e.g. `Mon-Fri 09:00-18:00 Asia/Bishkek` (days `Mon-Fri` "
            "or `Mon,Wed`; an IANA zone); outside them the consent screen says so (required "
            "with the chat id)", "unset", _working_hours, _constant(None)),
    integer("JOL_CASE_RETENTION_DAYS", "case_retention_days",
            "an idle case (and its forum topic) is purged after this many days; a closed one "
            "at once", 30, 1, 365),
    # The editors' workspace (bot/workspace; README "The editors' workspace").
    Setting("JOL_PUBLIC_URL", "public_url",
            "the address editors open, behind your TLS proxy; `/workspace` links point to "
            "`{url}/workspace/login`", "unset: sign-in links only from `jol workspace link`",
            _public_url, _constant(None)),
    Setting("JOL_REVIEW_REQUIRED", "review_required",
            "a second editor must approve a publish in the workspace",
            "on when `JOL_ADMIN_IDS` has two or more editors", _on_off, _constant(None),
            "`on` or `off`"),
)


@dataclass(frozen=True)
class Settings:
    """The values of SETTINGS, typed; built by from_env only."""

    token: str | None
    api_base_url: str
    database_url: str
    content_dir: Path
    content_source: str  # "database" (the published version) or "folder" (JOL_CONTENT_DIR)
    content_poll_seconds: float
    admin_ids: frozenset[int]
    secret: str | None
    secret_file: Path  # where the key is read, or generated once when JOL_SECRET is unset
    webhook_url: str | None
    webhook_secret: str | None
    webhook_connections: int  # setWebhook's max_connections: shared by every replica
    http_host: str
    http_port: int
    min_report_count: int  # counts below this are shown as "<N" in anything that leaves
    stats_epsilon: float
    stats_cap: int
    retention_days: int
    stale_after_days: int
    stats_flush_seconds: float
    max_messages_per_second: int  # new messages a second; 0: no cap (429s are waited out)
    log_level: str  # user data is never logged, at any level
    log_format: str
    casework_chat_id: int | None
    case_key: str | None = field(repr=False)
    casework_ngo_name: str | None
    casework_hours: WorkingHours | None
    case_retention_days: int
    public_url: str | None  # without a trailing slash
    review_required: bool | None  # None: decided by the number of editors

    @property
    def review_needed(self) -> bool:
        """Whether a publish in the workspace needs another editor's approval."""
        if self.review_required is not None:
            return self.review_required
        return len(self.admin_ids) >= 2

    @property
    def casework(self) -> Casework | None:
        """The handoff's configuration; None when it is off (from_env checked it is whole)."""
        if self.casework_chat_id is None:
            return None
        assert self.case_key and self.casework_ngo_name and self.casework_hours
        return Casework(self.casework_chat_id, self.case_key, self.casework_ngo_name,
                        self.casework_hours)

    @classmethod
    def from_env(cls, env: Env | None = None) -> Settings:
        env = dict(os.environ if env is None else env)
        values: dict[str, Any] = {setting.attr: setting.read(env) for setting in SETTINGS}
        if values["webhook_url"] and not values["webhook_secret"]:
            raise SettingsError("JOL_WEBHOOK_SECRET must be set when JOL_WEBHOOK_URL is set")
        if values["casework_chat_id"] is not None:
            for env_name, attr in (("JOL_CASE_KEY", "case_key"),
                                   ("JOL_CASEWORK_NGO_NAME", "casework_ngo_name"),
                                   ("JOL_CASEWORK_HOURS", "casework_hours")):
                if not values[attr]:
                    raise SettingsError(f"{env_name} must be set when JOL_CASEWORK_CHAT_ID "
                                        "is set (see README, Talk to a person)")
        return cls(**values)


def markdown_table() -> str:
    """The README's configuration table, generated from SETTINGS."""
    lines = ["| variable | meaning | default |", "|---|---|---|"]
    for setting in SETTINGS:
        meaning = f"{setting.help} ({setting.rule})" if setting.rule else setting.help
        lines.append(f"| `{setting.env}` | {meaning} | {setting.shown_default} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
