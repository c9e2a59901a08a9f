"""Prometheus metrics, defined once per process (the client library's registry is global)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# No `*_created` series beside each counter: /metrics shows what the README lists, at half
# the size, and Prometheus does not need them to compute rates.
disable_created_metrics()  # type: ignore[no-untyped-call]  # the library leaves it unannotated

UPDATES = Counter("jol_updates_total", "Updates handled, by kind", ["kind"])
ERRORS = Counter("jol_errors_total", "Updates whose handler raised")
LATENCY = Histogram(
    "jol_handler_seconds", "Time to handle one update, from its turn in its chat to the end",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
FLUSH_LAG = Gauge("jol_stats_flush_lag_seconds", "Age of the oldest statistics not yet written")
RATE_LIMITED = Counter("jol_telegram_429_total", "Telegram 429 answers waited out and retried")
DUPLICATES = Counter("jol_webhook_duplicates_total", "Webhook updates received twice, skipped")
TELEGRAM_5XX = Counter("jol_telegram_5xx_total",
                       "Bot API 5xx answers (transient) retried after a pause", ["status"])
TELEGRAM_REFUSED = Counter("jol_telegram_bad_requests_total",
                           "Bot API calls refused (400 Bad Request), the reason in the log")
BAD_UPDATES = Counter("jol_bad_updates_total",
                      "Updates that could not be parsed and were skipped", ["intake"])
HTTP_CONNECTIONS_DROPPED = Counter(
    "jol_http_connections_dropped_total",
    "Connections to the bot's HTTP server closed to stay under the connection cap")
LOG_LINES_SUPPRESSED = Counter("jol_log_lines_suppressed_total",
                               "Repeated log lines held back by the log rate limit")
BACKLOG = Gauge("jol_update_backlog", "Updates received and not yet handled")
STATS_DROPPED = Counter(
    "jol_stats_dropped_total",
    "Counts lost because too many different counters waited for the database")
FLUSH_FAILURES = Counter(
    "jol_flush_failures_total",
    "Writes of counters or language choices that failed; kept for the next try", ["store"])


def update_kind(update: object) -> str:
    """A coarse, data-free label: message, callback_query, edited_message, …"""
    for kind in ("message", "callback_query", "edited_message", "channel_post",
                 "my_chat_member", "inline_query"):
        if getattr(update, kind, None) is not None:
            return kind
    return "other"
