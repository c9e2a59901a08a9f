"""Reports for NGO staff (`jol stats`, the admin /stats): tables, CSV, a chart, search gaps.

Everything that leaves the server shows counts below the minimum as "<5", so nobody's single
visit can be picked out. Where a total would reveal a hidden cell, it is rounded ("~15").
"""

from __future__ import annotations

import csv
import io
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import IO

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.stats.models import Counter
from bot.stats.recorder import utc_today

CSV_HEADER = ("day", "event", "key", "lang", "source", "count")
CHART_TOPICS = 8  # more lines than this are unreadable on a phone screen
REPORT_LANGUAGES = ("ky", "ru")

LABELS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Статистика Jol: {first} — {last}",
        "note": "Числа меньше {n} показаны как «<{n}», «~» — итог округлён, "
                "чтобы нельзя было узнать одного человека.",
        "empty": "За этот период данных нет.",
        "topics": "Просмотры тем",
        "topic": "тема",
        "total": "всего",
        "other": "др.",
        "starts": "Запуски бота по источнику (кампании)",
        "source": "источник",
        "count": "число",
        "no_source": "(без источника)",
        "all": "все",
        "searches": "Поиск",
        "search": "результат",
        "found": "нашлось",
        "not_found": "не нашлось",
        "sos": "SOS (экстренная помощь)",
        "opened": "открыто",
        "languages": "Выбор языка",
        "language": "язык",
        "forget": "/forget (забыть язык)",
        "checks": "Проверка вакансии: уровень риска",
        "risk": "риск",
        "others": "Другие события",
        "event": "событие",
        "none": "нет данных",
        "chart_title": "Просмотры тем по дням",
        "chart_y": "просмотров за день",
        "chart_empty": "Нет данных за этот период",
        "chart_hidden": "Дни, где меньше {n} просмотров, не показаны (пропуски на линиях)",
    },
    "ky": {
        "title": "Jol статистикасы: {first} — {last}",
        "note": "{n} санынан аз сандар «<{n}» деп көрсөтүлөт, «~» — жыйынтык тегеректелген: "
                "ошондо бир адамды таанып алууга болбойт.",
        "empty": "Бул мезгилде маалымат жок.",
        "topics": "Темаларды көрүү",
        "topic": "тема",
        "total": "баары",
        "other": "башка",
        "starts": "Ботту ачуулар булак боюнча (кампаниялар)",
        "source": "булак",
        "count": "саны",
        "no_source": "(булаксыз)",
        "all": "баары",
        "searches": "Издөө",
        "search": "натыйжа",
        "found": "табылды",
        "not_found": "табылган жок",
        "sos": "SOS (шашылыш жардам)",
        "opened": "ачылды",
        "languages": "Тил тандоо",
        "language": "тил",
        "forget": "/forget (тилди унутуу)",
        "checks": "Жумушту текшерүү: тобокелдик деңгээли",
        "risk": "тобокелдик",
        "others": "Башка окуялар",
        "event": "окуя",
        "none": "маалымат жок",
        "chart_title": "Темаларды күн сайын көрүү",
        "chart_y": "күнүнө көрүүлөр",
        "chart_empty": "Бул мезгилде маалымат жок",
        "chart_hidden": "Көрүүлөр {n} санынан аз болгон күндөр көрсөтүлгөн жок "
                        "(сызыктагы боштуктар)",
    },
    "en": {
        "title": "Jol statistics: {first} — {last}",
        "note": 'Counts below {n} are shown as "<{n}"; "~" marks a total rounded so that '
                "no single person can be picked out.",
        "empty": "No counts in this period.",
        "topics": "Topics viewed",
        "topic": "topic",
        "total": "total",
        "other": "other",
        "starts": "Starts by campaign source",
        "source": "source",
        "count": "count",
        "no_source": "(no source)",
        "all": "all",
        "searches": "Searches",
        "search": "result",
        "found": "found",
        "not_found": "not found",
        "sos": "SOS opened",
        "opened": "opened",
        "languages": "Languages chosen",
        "language": "language",
        "forget": "/forget (language forgotten)",
        "checks": "Job-offer check results by risk level",
        "risk": "risk",
        "others": "Other events",
        "event": "event",
        "none": "no data",
        "chart_title": "Topic views per day",
        "chart_y": "views per day",
        "chart_empty": "No data for this period",
        "chart_hidden": "Days with fewer than {n} views are left out (gaps in the lines)",
    },
}

# Events the summary shows in their own sections; anything else goes to "other events".
# "gap" holds words people searched for: shown only by gap_words(), never in the summary.
_SECTION_EVENTS = frozenset(
    {"topic", "start", "search_found", "search_not_found", "sos", "language", "forget", "check",
     "gap"}
)


@dataclass(frozen=True, slots=True)
class CountRow:
    """One stored counter: how many times `event` happened on `day` for (key, lang, source)."""

    day: date
    event: str
    key: str
    lang: str
    source: str
    count: int


def _labels(lang: str) -> dict[str, str]:
    return LABELS.get(lang, LABELS["ru"])


async def load_counts(
    engine: AsyncEngine, days: int, today: date | None = None
) -> list[CountRow]:
    """Counters of the last `days` days up to and including `today` (UTC), oldest first."""
    if days < 1:
        raise ValueError("days must be at least 1")
    last = today or utc_today()
    first = last - timedelta(days=days - 1)
    statement = (
        select(Counter.day, Counter.event, Counter.key, Counter.lang, Counter.source,
               Counter.count)
        .where(Counter.day >= first, Counter.day <= last)
        .order_by(Counter.day, Counter.event, Counter.key, Counter.lang, Counter.source)
    )
    async with engine.connect() as conn:
        result = await conn.execute(statement)
        return [CountRow(*row) for row in result]


async def delete_older_than(engine: AsyncEngine, days: int, today: date | None = None) -> int:
    """Retention: delete counters from before `today - days`; returns how many rows went."""
    if days < 1:
        raise ValueError("days must be at least 1 (0 would delete everything)")
    cutoff = (today or utc_today()) - timedelta(days=days)
    async with engine.begin() as conn:
        result = await conn.execute(delete(Counter).where(Counter.day < cutoff))
    return int(result.rowcount or 0)


def suppress(count: int, minimum: int) -> str:
    """A count as text, "<minimum" when it is small enough to point at a person."""
    if minimum > 1 and count < minimum:
        return f"<{minimum}"
    return str(count)


def _cell(count: int, minimum: int) -> str:
    """Like suppress(), but an honest "–" for none: nobody can be picked out of zero."""
    return "–" if count == 0 else suppress(count, minimum)


def _total_cell(parts: Iterable[int], total: int, minimum: int) -> str:
    """A total; rounded to a multiple of `minimum` when an exact one would reveal a "<5"."""
    if minimum > 1 and total >= minimum and any(0 < n < minimum for n in parts):
        return f"~{(total + minimum // 2) // minimum * minimum}"
    return _cell(total, minimum)


def _format_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """Aligned plain-text columns: the first left, numbers right (reads well in <pre>)."""
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(headers)]
    lines = []
    for row in (headers, *body):
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return lines


def _by_language_section(
    title: str,
    first_header: str,
    groups: dict[str, dict[str, int]],
    labels: dict[str, str],
    minimum: int,
    sort_by_total: bool = True,
) -> list[str]:
    """Rows (topic, risk level, …) with a column per bot language, "other" if any, and total."""
    lines = [title]
    if not groups:
        return [*lines, f"  {labels['none']}"]
    has_other = any(
        lang not in REPORT_LANGUAGES for per_lang in groups.values() for lang in per_lang
    )
    headers = [first_header, *REPORT_LANGUAGES]
    if has_other:
        headers.append(labels["other"])
    headers.append(labels["total"])
    names = list(groups)
    if sort_by_total:
        names.sort(key=lambda name: (-sum(groups[name].values()), name))
    body = []
    for name in names:
        per_lang = groups[name]
        parts = [per_lang.get(lang, 0) for lang in REPORT_LANGUAGES]
        if has_other:
            parts.append(sum(n for lang, n in per_lang.items() if lang not in REPORT_LANGUAGES))
        total = sum(parts)
        body.append(
            [name, *(_cell(n, minimum) for n in parts), _total_cell(parts, total, minimum)]
        )
    return lines + _format_table(headers, body)


def _single_column_section(
    title: str,
    first_header: str,
    counts: dict[str, int],
    labels: dict[str, str],
    minimum: int,
    with_total: bool = True,
) -> list[str]:
    """Rows with one count each and an "all" row that never gives away a hidden row."""
    lines = [title]
    if not counts:
        return [*lines, f"  {labels['none']}"]
    names = sorted(counts, key=lambda name: (-counts[name], name))
    body = [[name, _cell(counts[name], minimum)] for name in names]
    if with_total and len(names) > 1:
        total = sum(counts.values())
        body.append([labels["all"], _total_cell(counts.values(), total, minimum)])
    return lines + _format_table([first_header, labels["count"]], body)


def summary_table(rows: Iterable[CountRow], minimum: int, lang: str = "ru") -> str:
    """A plain-text summary for NGO staff; counts below `minimum` appear as "<5"."""
    labels = _labels(lang)
    rows = list(rows)
    if not rows:
        return labels["empty"]
    first = min(row.day for row in rows)
    last = max(row.day for row in rows)

    by_key: dict[str, dict[str, dict[str, int]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(int))
    )  # event → key → lang → count
    starts: dict[str, int] = defaultdict(int)
    others: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.event == "start":
            starts[row.source or labels["no_source"]] += row.count
        elif row.event in _SECTION_EVENTS:
            by_key[row.event][row.key][row.lang] += row.count
        else:
            others[row.event] += row.count

    searches: dict[str, dict[str, int]] = {}
    for event, label in (("search_found", "found"), ("search_not_found", "not_found")):
        per_lang: dict[str, int] = defaultdict(int)
        for counts in by_key[event].values():  # the key (first topic) does not matter here
            for row_lang, n in counts.items():
                per_lang[row_lang] += n
        if per_lang:
            searches[labels[label]] = per_lang
    sos: dict[str, dict[str, int]] = {}
    sos_per_lang: dict[str, int] = defaultdict(int)
    for counts in by_key["sos"].values():
        for row_lang, n in counts.items():
            sos_per_lang[row_lang] += n
    if sos_per_lang:
        sos[labels["opened"]] = sos_per_lang
    chosen = {key or "?": sum(c.values()) for key, c in by_key["language"].items()}
    forgotten = sum(sum(c.values()) for c in by_key["forget"].values())
    if forgotten:
        others[labels["forget"]] += forgotten

    n = minimum if minimum > 1 else 0
    lines = [labels["title"].format(first=first.isoformat(), last=last.isoformat())]
    if n:
        lines.append(labels["note"].format(n=n))
    sections = [
        _by_language_section(labels["topics"], labels["topic"],
                             {k: dict(v) for k, v in by_key["topic"].items()}, labels, minimum),
        _single_column_section(labels["starts"], labels["source"], dict(starts), labels,
                               minimum),
        _by_language_section(labels["searches"], labels["search"], searches, labels, minimum,
                             sort_by_total=False),
        _by_language_section(labels["sos"], "", sos, labels, minimum),
        _single_column_section(labels["languages"], labels["language"], chosen, labels,
                               minimum),
        _by_language_section(labels["checks"], labels["risk"],
                             {k or "?": dict(v) for k, v in by_key["check"].items()}, labels,
                             minimum),
    ]
    if others:
        sections.append(
            _single_column_section(labels["others"], labels["event"], dict(others), labels,
                                   minimum, with_total=False)
        )
    for section in sections:
        lines.append("")
        lines.extend(section)
    return "\n".join(lines) + "\n"


def _spreadsheet_safe(text: str) -> str:
    """Stop a spreadsheet from running a cell as a formula (a campaign source "-A1", say)."""
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def to_csv(rows: Iterable[CountRow], minimum: int) -> str:
    """Spreadsheet-ready CSV, one line per stored counter; small counts as "<5".

    Write it with encoding "utf-8-sig" so that Excel reads Cyrillic correctly.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for row in rows:
        writer.writerow(
            [
                row.day.isoformat(),
                _spreadsheet_safe(row.event),
                _spreadsheet_safe(row.key),
                _spreadsheet_safe(row.lang),
                _spreadsheet_safe(row.source),
                suppress(row.count, minimum),
            ]
        )
    return buffer.getvalue()


def gap_words(rows: Iterable[CountRow], minimum: int = 5) -> list[tuple[str, int]]:
    """Words people searched for without a result, seen at least `minimum` times, most first."""
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        if row.event == "gap" and row.key:
            totals[row.key] += row.count
    return sorted(
        ((word, n) for word, n in totals.items() if n >= minimum),
        key=lambda item: (-item[1], item[0]),
    )


def chart_png(
    rows: Iterable[CountRow],
    path_or_buffer: str | os.PathLike[str] | IO[bytes],
    lang: str = "ru",
    *,
    minimum: int = 5,
    titles: Mapping[str, str] | None = None,
) -> None:
    """A PNG line chart of daily views of the most viewed topics (or a chart saying "no data").

    Days below `minimum` views are left as gaps rather than drawn, like "<5" in the tables.
    `titles` maps topic ids to the names staff know (the legend falls back to the id).
    """
    # Imported here: matplotlib costs tens of megabytes, and only reports need it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, DateFormatter, DayLocator
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    labels = _labels(lang)
    daily: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        if row.event == "topic" and row.key:
            daily[row.key][row.day] += row.count

    figure = Figure(figsize=(10, 5.6), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    if not daily:
        axes.set_title(labels["chart_title"], fontsize=15)
        axes.text(0.5, 0.5, labels["chart_empty"], ha="center", va="center", fontsize=16,
                  color="#555555", transform=axes.transAxes)
        axes.set_xticks([])
        axes.set_yticks([])
        figure.savefig(path_or_buffer, format="png")
        return

    first = min(day for per_day in daily.values() for day in per_day)
    last = max(day for per_day in daily.values() for day in per_day)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    top = sorted(daily, key=lambda key: (-sum(daily[key].values()), key))[:CHART_TOPICS]
    hidden_any = False
    for key in top:
        values: list[float] = []
        for day in days:
            n = daily[key].get(day, 0)
            if minimum > 1 and n < minimum:
                hidden_any = True
                values.append(float("nan"))
            else:
                values.append(float(n))
        label = (titles or {}).get(key) or key
        axes.plot(days, values, label=label, linewidth=2,  # type: ignore[arg-type]
                  marker="o" if len(days) <= 31 else None, markersize=4)

    period = f"{first:%d.%m.%Y}" if first == last else f"{first:%d.%m.%Y} — {last:%d.%m.%Y}"
    axes.set_title(f"{labels['chart_title']}: {period}", fontsize=15)
    axes.set_ylabel(labels["chart_y"], fontsize=12)
    axes.set_ylim(bottom=0)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if len(days) == 1:  # one day: widen the axis instead of a zero-width range
        axes.set_xlim(first - timedelta(days=1), last + timedelta(days=1))  # type: ignore[arg-type]
    # Whole days only: a tick per day for short periods, fewer for long ones.
    if len(days) <= 14:
        axes.xaxis.set_major_locator(DayLocator())  # type: ignore[no-untyped-call]
    else:
        axes.xaxis.set_major_locator(
            AutoDateLocator(minticks=3, maxticks=10)  # type: ignore[no-untyped-call]
        )
    axes.xaxis.set_major_formatter(DateFormatter("%d.%m"))  # type: ignore[no-untyped-call]
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10, frameon=False)
    if hidden_any:  # as the axis label, so the layout makes room for it under the dates
        axes.set_xlabel(labels["chart_hidden"].format(n=minimum), fontsize=9, color="#555555")
    figure.savefig(path_or_buffer, format="png")
