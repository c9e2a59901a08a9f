"""Commands for NGO staff (JOL_ADMIN_IDS only; for anyone else they are unknown commands).

/reload  validate content/ again and swap it in only if it has no errors
/content which content is served, since when, its warnings (stale dates among them) and the
         numbers people reported as not working
/stats   the anonymous statistics: a summary, a chart and a CSV file
/workspace a one-time sign-in link to the editors' web workspace (bot/workspace)

Both show released weeks only: sums of noisy cells (bot.stats.release), never raw counters.
"""

from __future__ import annotations

import html
import io
from datetime import UTC

from telegram import InputFile, Update

from bot.content.model import Problem
from bot.context import JolContext
from bot.handlers.screens import reply
from bot.stats.release import Noise, Released, load_released, release_closed_periods
from bot.stats.reports import (
    chart_png,
    contacts_to_recheck,
    gap_list,
    header,
    summary_table,
    to_csv,
)
from bot.workspace.auth import link_url, make_link_token

MESSAGE_BUDGET = 3800  # below Telegram's 4096, leaving room for the heading
REPORT_WEEKS = 5  # the last five closed weeks, about a month


def problem_lines(problems: list[Problem], lang: str | None) -> list[str]:
    """Each problem as `path:line: severity: message`, the message in the admin's language
    (Kyrgyz falls back to Russian, as in `jol content check`)."""
    return [html.escape(p.show(lang or "ru"), quote=False) for p in problems]


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
        lines = problem_lines(problems, context.lang)
    else:
        heading = texts("Content NOT reloaded: users still get version {version}. Fix these "
                        "problems and send /reload again:", version=snapshot.version)
        lines = problem_lines(errors, context.lang)
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
                    warnings=sum(p.severity == "warning" for p in snapshot.warnings))
    lines = problem_lines(list(snapshot.warnings), context.lang)
    lines += _recheck_lines(context, await _released(context))
    for message in chunks(heading, lines):
        await reply(update, context, message)


def _noise(context: JolContext) -> Noise:
    return Noise.from_settings(context.services.settings)


async def _released(context: JolContext) -> Released:
    """Release any week that closed (noise drawn once, stored), then the newest weeks."""
    services = context.services
    await services.stats.flush()
    await release_closed_periods(services.engine, context.content, _noise(context))
    return await load_released(services.engine, REPORT_WEEKS)


def _recheck_lines(context: JolContext, released: Released) -> list[str]:
    """Contacts many different people reported as not working, most-reported first."""
    texts = context.texts
    noise = _noise(context)
    reported = contacts_to_recheck(released, noise)
    lines = ["", "<b>" + html.escape(texts("Numbers to re-check"), quote=False) + "</b>"]
    if not released.periods:
        return [*lines, html.escape(texts("No week has been released yet."), quote=False)]
    newest = released.periods[-1]
    lines.append(html.escape(texts(
        "People pressed «did not work» under these numbers ({first} — {last}; noisy counts: "
        "ε={epsilon}, scale {scale}; only {minimum} or more):",
        first=released.periods[0].start.isoformat(), last=newest.end.isoformat(),
        epsilon=f"{newest.epsilon:g}", scale=f"{newest.scale:g}",
        minimum=noise.threshold_for(len(released.periods))),
        quote=False))
    contacts = context.content.contacts
    for contact_id, count in reported:
        contact = contacts.get(contact_id)
        name = contact.name.get(texts.lang, contact_id) if contact else contact_id
        phone = contact.phone if contact else "?"
        lines.append(html.escape(f"{count} · {phone} · {name} ({contact_id})", quote=False))
    if not reported:
        lines.append("—")
    return lines


async def stats_command(update: Update, context: JolContext) -> None:
    chat = update.effective_chat
    if chat is None:
        return
    noise = _noise(context)
    released = await _released(context)
    lang = context.texts.lang
    if not released.periods:
        await reply(update, context, html.escape(
            context.texts("No week has been released yet."), quote=False))
        return
    content = context.content
    titles = {i: t.title for i in content.topic_ids() if (t := content.topic(lang, i))}
    table = summary_table(released, noise, lang=lang)
    gaps = gap_list(released, noise)
    gap_text = ", ".join(f"{word} ({count})" for word, count in gaps[:30]) or "—"
    table_lines = table.splitlines()[1:]  # the title is the message's heading
    pieces = ["\n".join(table_lines[i : i + 40]) for i in range(0, len(table_lines), 40)]
    lines = [f"<pre>{html.escape(piece, quote=False)}</pre>" for piece in pieces]
    lines += [html.escape(context.texts("Searches that found nothing, frequent words: {words}",
                                       words=gap_text), quote=False)]
    lines += _recheck_lines(context, released)
    for message in chunks(html.escape(header(released, noise, lang)[0], quote=False), lines):
        await reply(update, context, message)
    stamp = released.periods[-1].end.isoformat()
    chart = io.BytesIO()
    chart_png(released, chart, noise, lang=lang, titles=titles)
    await context.bot.send_photo(chat.id, InputFile(chart.getvalue(), f"jol-{stamp}.png"))
    csv_bytes = to_csv(released, noise).encode("utf-8")
    await context.bot.send_document(chat.id, InputFile(csv_bytes, f"jol-stats-{stamp}.csv"))


async def workspace_command(update: Update, context: JolContext) -> None:
    """A link valid for 10 minutes, once; without JOL_PUBLIC_URL the bot cannot know the
    address editors reach, so it points to `jol workspace link` on the server."""
    user = update.effective_user
    public_url = context.services.settings.public_url
    if user is None:
        return
    if not public_url:
        await reply(update, context, html.escape(context.texts(
            "The workspace address is not configured (JOL_PUBLIC_URL). Ask the operator for a "
            "link: they print one on the server with `jol workspace link --editor {id}`.",
            id=user.id), quote=False))
        return
    token = make_link_token(context.services.workspace_key, user.id, user.full_name)
    url = link_url(public_url, token)
    await reply(update, context, html.escape(context.texts(
        "Your sign-in link to the editors' workspace, valid for 10 minutes and only once. "
        "Do not forward it:"), quote=False) + f"\n{html.escape(url)}")
