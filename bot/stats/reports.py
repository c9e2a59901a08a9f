"""Reports for NGO staff (`jol stats`, the admin /stats and /content): tables, CSV, a chart,
search gaps and contacts to re-check.

Every figure here is a sum of stored noisy cells of closed, released weeks (bot.stats.release):
never a raw counter, never the open week. Noisy values below the threshold print as "<τ";
each report names its weeks, ε and the noise scale.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import IO

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.content.campaigns import OTHER
from bot.stats.models import Counter
from bot.stats.recorder import utc_today
from bot.stats.release import Noise, Released

CSV_HEADER = ("period_start", "period_end", "event", "key", "lang", "value", "epsilon",
              "scale")
CHART_TOPICS = 8  # more lines than this are unreadable on a phone screen

LABELS: dict[str, dict[str, str]] = {
    "ru": {
        "title": "Статистика Jol: недели {first} — {last}",
        "note": "Закрытые недели: {weeks}. К каждому числу один раз добавлен случайный шум "
                "(дискретный Лаплас, масштаб {scale:g}, ε={epsilon:g} на человека в день); "
                "примерно 95 % чисел отличаются от правды не больше чем на ±{error}. "
                "Числа меньше {n} показаны как «<{n}».",
        "empty": "Ни одна неделя ещё не закрыта и не выпущена: данных пока нет.",
        "topics": "Просмотры тем",
        "topic": "тема",
        "total": "всего",
        "hidden_rows": "и ещё {n} строк, где всё меньше {t}",
        "starts": "Запуски бота по источнику (кампании)",
        "source": "источник",
        "count": "число",
        "no_source": "(без источника)",
        "other_source": "другие (не объявлены)",
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
        "family_checks": "Проверка вакансии родственника: уровень риска",
        "risk": "риск",
        "gaps": "Слова поиска без результата (только частые)",
        "recheck": "Номера, которые надо перепроверить (люди нажали «не работает»)",
        "contact": "номер",
        "none": "нет данных",
        "chart_title": "Просмотры тем по неделям",
        "chart_y": "просмотров за неделю",
        "chart_empty": "Нет выпущенных недель",
        "chart_hidden": "Недели, где меньше {n} просмотров, не показаны (пропуски на линиях)",
    },
    "ky": {
        "title": "Jol статистикасы: жумалар {first} — {last}",
        "note": "Жабылган жумалар: {weeks}. Ар бир санга бир жолу кокустук ызы-чуу кошулган "
                "(дискреттик Лаплас, масштаб {scale:g}, ε={epsilon:g} бир адамга бир күндө); "
                "сандардын болжол менен 95 % чындыктан ±{error} ашык айырмаланбайт. "
                "{n} санынан аз сандар «<{n}» деп көрсөтүлөт.",
        "empty": "Бир да жума жабыла элек жана чыгарыла элек: азырынча маалымат жок.",
        "topics": "Темаларды көрүү",
        "topic": "тема",
        "total": "баары",
        "hidden_rows": "дагы {n} сап, баары {t} санынан аз",
        "starts": "Ботту ачуулар булак боюнча (кампаниялар)",
        "source": "булак",
        "count": "саны",
        "no_source": "(булаксыз)",
        "other_source": "башкалар (жарыяланбаган)",
        "searches": "Издөө",
        "search": "жыйынтык",
        "found": "табылды",
        "not_found": "табылган жок",
        "sos": "SOS (шашылыш жардам)",
        "opened": "ачылды",
        "languages": "Тил тандоо",
        "language": "тил",
        "forget": "/forget (тилди унутуу)",
        "checks": "Жумуш сунушун текшерүү: тобокелдик деңгээли",
        "family_checks": "Туугандын жумуш сунушун текшерүү: тобокелдик деңгээли",
        "risk": "тобокелдик",
        "gaps": "Эч нерсе табылбаган издөө сөздөрү (көп кездешкендер гана)",
        "recheck": "Кайра текшерүү керек болгон номерлер (адамдар «иштебейт» деп басышкан)",
        "contact": "номер",
        "none": "маалымат жок",
        "chart_title": "Темаларды жума сайын көрүү",
        "chart_y": "жумасына көрүүлөр",
        "chart_empty": "Чыгарылган жума жок",
        "chart_hidden": "Көрүүлөр {n} санынан аз болгон жумалар көрсөтүлгөн жок "
                        "(сызыктагы боштуктар)",
    },
    "en": {
        "title": "Jol statistics: weeks {first} — {last}",
        "note": "Closed weeks: {weeks}. Each number had random noise added once (discrete "
                "Laplace, scale {scale:g}, ε={epsilon:g} per person-day); about 95 % of "
                "numbers are within ±{error} of the truth. Numbers below {n} show as \"<{n}\".",
        "empty": "No week has closed and been released yet: no data so far.",
        "topics": "Topics viewed",
        "topic": "topic",
        "total": "total",
        "hidden_rows": "and {n} more rows, all below {t}",
        "starts": "Starts by campaign source",
        "source": "source",
        "count": "count",
        "no_source": "(no source)",
        "other_source": "other (not declared)",
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
        "family_checks": "Relative's job-offer check results by risk level",
        "risk": "risk",
        "gaps": "Words of searches that found nothing (frequent only)",
        "recheck": "Numbers to re-check (people pressed \"did not work\")",
        "contact": "number",
        "none": "no data",
        "chart_title": "Topic views per week",
        "chart_y": "views per week",
        "chart_empty": "No released week",
        "chart_hidden": "Weeks with fewer than {n} views are left out (gaps in the lines)",
    },
}


@dataclass(frozen=True, slots=True)
class CountRow:
    """One raw counter of the open period (never part of a report): for tests and checks."""

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
    """Raw counters of the last `days` days up to `today` (UTC), oldest first. Not a report:
    raw counts never leave the server."""
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


def shown(value: int, threshold: int) -> str:
    """A noisy sum as text: "<τ" below the threshold (clamping negatives away too)."""
    return f"<{threshold}" if value < threshold else str(value)


def header(released: Released, noise: Noise, lang: str = "ru") -> list[str]:
    """The title and the noise note every report starts with."""
    labels = _labels(lang)
    periods = released.periods
    scale = periods[-1].scale
    epsilon = periods[-1].epsilon
    return [
        labels["title"].format(first=periods[0].start.isoformat(),
                               last=periods[-1].end.isoformat()),
        labels["note"].format(weeks=len(periods), scale=scale, epsilon=epsilon,
                              error=math.ceil(_error95(scale) * math.sqrt(len(periods))),
                              n=noise.threshold_for(len(periods))),
    ]


def _error95(scale: float) -> int:
    """Half-width of the 95 % interval of discrete Laplace noise of this scale."""
    # P(|X| > k) = 2 e^{-(k+1)/b} / (1 + e^{-1/b}) for the discrete Laplace distribution.
    q = math.exp(-1 / scale)
    k = 0
    while 2 * q ** (k + 1) / (1 + q) > 0.05:
        k += 1
    return k


def _format_table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """Aligned plain-text columns: the first left, numbers right (reads well in <pre>)."""
    widths = [max(len(h), *(len(row[i]) for row in body)) for i, h in enumerate(headers)]
    lines = []
    for row in (headers, *body):
        cells = [row[0].ljust(widths[0])]
        cells += [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join(cells).rstrip())
    return lines


def _by_language_section(title: str, first_header: str, groups: Mapping[str, Mapping[str, int]],
                         labels: dict[str, str], threshold: int, languages: Sequence[str],
                         names: Mapping[str, str] | None = None) -> list[str]:
    """Rows with a column per bot language and a total; rows entirely below τ are summarised."""
    lines = [title]
    body = []
    hidden = 0
    order = sorted(groups, key=lambda key: (-sum(groups[key].values()), key))
    for key in order:
        parts = [groups[key].get(lang, 0) for lang in languages]
        total = sum(parts)
        if total < threshold and all(n < threshold for n in parts):
            hidden += 1
            continue
        label = (names or {}).get(key, key) or "—"
        body.append([label, *(shown(n, threshold) for n in parts), shown(total, threshold)])
    if body:
        lines += _format_table([first_header, *languages, labels["total"]], body)
    if body and hidden:
        lines.append("  " + labels["hidden_rows"].format(n=hidden, t=threshold))
    elif not body:
        lines.append(f"  {labels['none']} (<{threshold})")
    return lines


def _single_column_section(title: str, first_header: str, counts: Mapping[str, int],
                           labels: dict[str, str], threshold: int) -> list[str]:
    lines = [title]
    if not counts:
        return [*lines, f"  {labels['none']}"]
    names = sorted(counts, key=lambda name: (-counts[name], name))
    body = [[name, shown(counts[name], threshold)] for name in names]
    return lines + _format_table([first_header, labels["count"]], body)


def _pooled(released: Released, event: str) -> dict[str, int]:
    """lang → sum of the event's cells over every key."""
    pooled: dict[str, int] = defaultdict(int)
    for per_lang in released.sum_by(event).values():
        for lang, n in per_lang.items():
            pooled[lang] += n
    return dict(pooled)


def summary_table(released: Released, noise: Noise, lang: str = "ru",
                  titles: Mapping[str, str] | None = None) -> str:
    """A plain-text summary for NGO staff, from noisy cells of released weeks only."""
    labels = _labels(lang)
    if not released.periods:
        return labels["empty"] + "\n"
    t = noise.threshold_for(len(released.periods))
    starts = {labels["no_source"] if k == "" else labels["other_source"] if k == OTHER else k: n
              for k, n in released.totals("start").items()}
    searches = {labels["found"]: _pooled(released, "search_found"),
                labels["not_found"]: _pooled(released, "search_not_found")}
    chosen = {k: n for k, n in released.totals("language").items()}
    langs = released.languages  # a column each, as released
    sections = [
        _by_language_section(labels["topics"], labels["topic"], released.sum_by("topic"),
                             labels, t, langs, titles),
        _single_column_section(labels["starts"], labels["source"], starts, labels, t),
        _by_language_section(labels["searches"], labels["search"], searches, labels, t, langs),
        _by_language_section(labels["sos"], "", {labels["opened"]: _pooled(released, "sos")},
                             labels, t, langs),
        _single_column_section(labels["languages"], labels["language"], chosen, labels, t),
        _by_language_section(labels["forget"], "", {labels["forget"]:
                                                    _pooled(released, "forget")}, labels, t,
                             langs),
        _by_language_section(labels["checks"], labels["risk"], released.sum_by("check"),
                             labels, t, langs),
        _by_language_section(labels["family_checks"], labels["risk"],
                             released.sum_by("family_check"), labels, t, langs),
    ]
    lines = header(released, noise, lang)
    for section in sections:
        lines.append("")
        lines.extend(section)
    return "\n".join(lines) + "\n"


def gap_list(released: Released, noise: Noise) -> list[tuple[str, int]]:
    """Gap words whose noisy sum reaches the threshold, most first; no other word ever shows."""
    totals = released.totals("gap")
    t = noise.threshold_for(len(released.periods))
    return sorted(((w, n) for w, n in totals.items() if w and n >= t),
                  key=lambda item: (-item[1], item[0]))


def contacts_to_recheck(released: Released, noise: Noise) -> list[tuple[str, int]]:
    """Contact ids people reported as not working, noisy sum at or above τ, most first."""
    totals = released.totals("contact_failed")
    t = noise.threshold_for(len(released.periods))
    return sorted(((c, n) for c, n in totals.items() if n >= t),
                  key=lambda item: (-item[1], item[0]))


def _spreadsheet_safe(text: str) -> str:
    """Stop a spreadsheet from running a cell as a formula."""
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def to_csv(released: Released, noise: Noise) -> str:
    """Spreadsheet-ready CSV, one line per released cell and week; noisy values below τ as
    "<τ". A gap word below τ is left out entirely: its word alone would say too much.

    Write it with encoding "utf-8-sig" so that Excel reads Cyrillic correctly.
    """
    t = noise.threshold
    ends = {p.start: p for p in released.periods}
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for cell in released.cells:
        if cell.event == "gap" and cell.noisy < t:
            continue
        period = ends[cell.period]
        writer.writerow([
            cell.period.isoformat(), period.end.isoformat(), _spreadsheet_safe(cell.event),
            _spreadsheet_safe(cell.key), _spreadsheet_safe(cell.lang), shown(cell.noisy, t),
            f"{period.epsilon:g}", f"{period.scale:g}",
        ])
    return buffer.getvalue()


def chart_png(
    released: Released,
    path_or_buffer: str | os.PathLike[str] | IO[bytes],
    noise: Noise,
    lang: str = "ru",
    *,
    titles: Mapping[str, str] | None = None,
) -> None:
    """A PNG line chart of weekly views of the most viewed topics (or one saying "no data").

    Weeks below the threshold are gaps rather than points, like "<τ" in the tables.
    `titles` maps topic ids to the names staff know (the legend falls back to the id).
    """
    # Imported here: matplotlib costs tens of megabytes, and only reports need it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    labels = _labels(lang)
    t = noise.threshold
    weekly: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for cell in released.cells:
        if cell.event == "topic":
            weekly[cell.key][cell.period] += cell.noisy

    figure = Figure(figsize=(10, 5.6), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    weeks = [p.start for p in released.periods]
    top = sorted(weekly, key=lambda key: (-sum(weekly[key].values()), key))[:CHART_TOPICS]
    top = [key for key in top if any(n >= t for n in weekly[key].values())]
    if not top:
        axes.set_title(labels["chart_title"], fontsize=15)
        axes.text(0.5, 0.5, labels["chart_empty"] if not weeks else labels["none"],
                  ha="center", va="center", fontsize=16, color="#555555",
                  transform=axes.transAxes)
        axes.set_xticks([])
        axes.set_yticks([])
        figure.savefig(path_or_buffer, format="png")
        return

    hidden_any = False
    for key in top:
        values: list[float] = []
        for week in weeks:
            n = weekly[key].get(week, 0)
            if n < t:
                hidden_any = True
                values.append(float("nan"))
            else:
                values.append(float(n))
        label = (titles or {}).get(key) or key
        axes.plot(weeks, values, label=label, linewidth=2,  # type: ignore[arg-type]
                  marker="o", markersize=4)

    first, last = released.periods[0].start, released.periods[-1].end
    axes.set_title(f"{labels['chart_title']}: {first:%d.%m.%Y} — {last:%d.%m.%Y}", fontsize=15)
    axes.set_ylabel(labels["chart_y"], fontsize=12)
    axes.set_ylim(bottom=0)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    if len(weeks) == 1:  # one week: widen the axis instead of a zero-width range
        axes.set_xlim(weeks[0] - timedelta(days=7),  # type: ignore[arg-type]
                      weeks[0] + timedelta(days=7))  # type: ignore[arg-type]
    axes.set_xticks(weeks)  # type: ignore[arg-type]
    axes.xaxis.set_major_formatter(DateFormatter("%d.%m"))  # type: ignore[no-untyped-call]
    axes.grid(True, alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=10, frameon=False)
    epsilon = released.periods[-1].epsilon
    note = f"ε={epsilon:g}, scale {released.periods[-1].scale:g}"
    if hidden_any:  # as the axis label, so the layout makes room for it under the dates
        note = labels["chart_hidden"].format(n=t) + "; " + note
    axes.set_xlabel(note, fontsize=9, color="#555555")
    figure.savefig(path_or_buffer, format="png")


def recheck_section(released: Released, noise: Noise, names: Mapping[str, str],
                    lang: str = "ru") -> list[str]:
    """"Numbers to re-check": contacts reported as not working by many, most first."""
    labels = _labels(lang)
    reported = contacts_to_recheck(released, noise)
    lines = [labels["recheck"]]
    if not reported:
        return [*lines, f"  {labels['none']} (<{noise.threshold_for(len(released.periods))})"]
    body = [[names.get(contact_id, contact_id), str(n)] for contact_id, n in reported]
    return lines + _format_table([labels["contact"], labels["count"]], body)
