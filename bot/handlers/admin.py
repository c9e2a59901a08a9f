"""Commands for NGO staff (JOL_ADMIN_IDS only; for anyone else they are unknown commands).

/reload  validate content/ again and swap it in only if it has no errors
/content which content is served, since when, and its warnings (stale dates among them)
/stats   the anonymous counters: a summary, a chart and a CSV file
"""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime

from telegram import InputFile, Update

from bot.content.model import Problem
from bot.context import JolContext
from bot.handlers.screens import reply
from bot.stats.reports import chart_png, gap_words, load_counts, summary_table, to_csv

MESSAGE_BUDGET = 3800  # below Telegram's 4096, leaving room for the heading
REPORT_DAYS = 30


def problem_lines(problems: list[Problem]) -> list[str]:
    return [html.escape(str(p), quote=False) for p in problems]


def chunks(heading: str, lines: list[str]) -> list[str]:
    """Split a heading and lines into messages that fit Telegram's limit."""
    messages: list[str] = []
    current = heading
    for line in lines:
        if len(current) + len(line) + 1 > MESSAGE_BUDGET:
            messages.append(current)
            current = ""
        current = f"{current}\n{line}" if current else line
    messages.append(current)
    return messages


async def reload_command(update: Update, context: JolContext) -> None:
    store = context.services.content
    texts = context.texts
    applied, problems = await store.reload()  # off the event loop, with a time limit
    snapshot = store.snapshot
    errors = [p for p in problems if p.severity == "error"]
    if applied:
        heading = texts("Content reloaded: version {version}, {topics} topics.",
                        version=snapshot.version, topics=len(snapshot.topic_ids()))
        lines = problem_lines(problems)
    else:
        heading = texts("Content NOT reloaded: users still get version {version}. Fix these "
                        "problems and send /reload again:", version=snapshot.version)
        lines = problem_lines(errors)
    for message in chunks(heading, lines):
        await reply(update, context, message)


async def content_command(update: Update, context: JolContext) -> None:
    texts = context.texts
    snapshot = context.content
    heading = texts("Content version {version}, loaded {when} UTC: {topics} topics, "
                    "{contacts} contacts, {warnings} warnings.",
                    version=snapshot.version,
                    when=snapshot.loaded_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M"),
                    topics=len(snapshot.topic_ids()), contacts=len(snapshot.contacts),
                    warnings=len(snapshot.warnings))
    for message in chunks(heading, problem_lines(list(snapshot.warnings))):
        await reply(update, context, message)


async def stats_command(update: Update, context: JolContext) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    services = context.services
    minimum = services.settings.min_report_count
    await services.stats.flush()
    rows = await load_counts(services.engine, days=REPORT_DAYS)
    table = summary_table(rows, minimum, lang=context.texts.lang)
    gaps = gap_words(rows, minimum=max(minimum, 5))
    gap_text = ", ".join(f"{word} ({count})" for word, count in gaps[:30]) or "—"
    heading = context.texts("Statistics for the last {days} days (counts below {minimum} "
                            "are shown as <{minimum}).", days=REPORT_DAYS, minimum=minimum)
    table_lines = table.splitlines()
    pieces = ["\n".join(table_lines[i : i + 40]) for i in range(0, len(table_lines), 40)]
    lines = [f"<pre>{html.escape(piece, quote=False)}</pre>" for piece in pieces]
    lines += [html.escape(context.texts("Searches that found nothing, frequent words: {words}",
                                       words=gap_text), quote=False)]
    for message in chunks(html.escape(heading, quote=False), lines):
        await reply(update, context, message)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d")
    chart = io.BytesIO()
    lang = context.texts.lang
    titles = {t.id: t.title for t in context.content.topics.values() if t.lang == lang}
    chart_png(rows, chart, lang=lang, minimum=minimum, titles=titles)
    await context.bot.send_photo(chat.id, InputFile(chart.getvalue(), f"jol-{stamp}.png"))
    csv_bytes = to_csv(rows, minimum).encode("utf-8")
    await context.bot.send_document(chat.id, InputFile(csv_bytes, f"jol-stats-{stamp}.csv"))
