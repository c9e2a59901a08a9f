"""Prometheus metrics, defined once per process (the client library's registry is global)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

UPDATES = Counter("jol_updates_total", "Updates handled, by kind", ["kind"])
ERRORS = Counter("jol_errors_total", "Updates whose handler raised")
LATENCY = Histogram(
    "jol_handler_seconds", "Time to handle one update, from its turn in its chat to the end",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
FLUSH_LAG = Gauge("jol_stats_flush_lag_seconds", "Age of the oldest statistics not yet written")
RATE_LIMITED = Counter("jol_telegram_429_total", "Telegram 429 answers waited out and retried")
DUPLICATES = Counter("jol_webhook_duplicates_total", "Webhook updates received twice, skipped")
BACKLOG = Gauge("jol_update_backlog", "Updates received and not yet handled")


def update_kind(update: object) -> str:
    """A coarse, data-free label: message, callback_query, edited_message, …"""
    for kind in ("message", "callback_query", "edited_message", "channel_post",
                 "my_chat_member", "inline_query"):
        if getattr(update, kind, None) is not None:
            return kind
    return "other"
