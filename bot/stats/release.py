"""Noisy weekly releases: the only figures that ever leave the server.

The recipe (see README, Statistics): raw counters are kept per day while a week (Monday to
Sunday, UTC) is open. Once the week is over, every cell of a fixed key space taken from the
content (events × languages, topic ids, declared campaigns + "other", contact ids, self-check
levels), zeros included, gets discrete Laplace noise once, drawn by OpenDP; the noisy cells are
stored, and the week's raw counters deleted, in one transaction. Every report (table, CSV,
chart, /stats, gap words, contacts to re-check) adds up stored noisy cells of closed weeks
and nothing else, so overlapping reports differ only by other noisy cells, and asking again
never draws new noise to average away.

Privacy unit: the person-day. A chat adds at most 1 to a cell and to at most `cap` cells a
day, plus the reserved allowances of SOS and number reports (bot.stats.cap), so one day of one
person moves the whole release by at most that sensitivity (L1), and the noise scale
b = sensitivity / ε gives ε-differential privacy per person-day; a person active
on k days of a week is protected at k·ε.

Gap words are the one part of the key space that comes from the data: a word is a cell only
if enough different chats typed it on one day (bot.stats.gaps). Its noisy count is released
like any other cell.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.content.campaigns import OTHER
from bot.content.model import ContentSnapshot
from bot.stats.cap import RESERVED_TOTAL, Cell
from bot.stats.models import Counter, Release, ReleasedCell
from bot.stats.recorder import utc_today

if TYPE_CHECKING:
    from bot.context import Services
    from bot.settings import Settings

logger = logging.getLogger(__name__)

PERIOD_DAYS = 7
MECHANISM = "opendp discrete Laplace"
RELEASE_CHECK_SECONDS = 3600  # how often the running bot looks for a newly closed week

# Events counted once with no key, in the user's language.
_PLAIN_EVENTS = ("search_found", "search_not_found", "sos", "forget")


def period_start(day: date) -> date:
    """The Monday that starts the week holding `day`."""
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True, slots=True)
class Noise:
    """The release parameters, printed with every report."""

    epsilon: float  # per person-day
    cap: int  # cells one chat may add to a day, besides the reserved events
    minimum: int  # JOL_MIN_REPORT_COUNT

    @classmethod
    def from_settings(cls, settings: Settings) -> Noise:
        return cls(settings.stats_epsilon, settings.stats_cap, settings.min_report_count)

    @property
    def sensitivity(self) -> int:
        """The most one chat can add to a release in a day: the cap plus the reserved
        allowances (bot.stats.cap), the L1 bound the noise is scaled to."""
        return self.cap + RESERVED_TOTAL

    @property
    def scale(self) -> float:
        return self.sensitivity / self.epsilon

    @property
    def threshold(self) -> int:
        """Noisy values of one week below this print as "<τ": three scales, so that a zero
        rarely shows."""
        return self.threshold_for(1)

    def threshold_for(self, weeks: int) -> int:
        """The same for a sum of `weeks` weekly cells, whose noise grows with √weeks: without
        it, a month of zeros would put a few never-reported numbers on the re-check list."""
        return max(self.minimum, math.ceil(3 * self.scale * math.sqrt(max(1, weeks))))


def key_space(content: ContentSnapshot) -> list[Cell]:
    """Every cell a release covers, fixed by the content, not by what was counted."""
    cells: list[Cell] = []
    for lang in content.languages.codes:  # the configured languages (content/languages.yaml)
        cells += [("topic", topic_id, lang) for topic_id in content.topic_ids()]
        cells += [("start", source, lang) for source in ("", *sorted(content.campaigns), OTHER)]
        cells += [(event, "", lang) for event in _PLAIN_EVENTS]
        cells.append(("language", lang, lang))
        for event in ("check", "family_check"):
            cells += [(event, level.id, lang) for level in content.selfcheck.levels]
    cells += [("contact_failed", contact_id, "") for contact_id in sorted(content.contacts)]
    return cells


def add_noise(values: list[int], scale: float, cap: int, epsilon: float) -> list[int]:
    """One draw of discrete Laplace noise per value (OpenDP, exact integer sampler)."""
    if not values:
        return []
    import opendp.prelude as dp  # imported here: only a release needs it

    dp.enable_features("contrib")
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    measurement = space >> dp.m.then_laplace(scale=scale)
    spent = measurement.map(cap)
    if spent > epsilon * (1 + 1e-9):
        raise RuntimeError(f"the release would spend ε={spent}, more than {epsilon}")
    return [int(v) for v in measurement(values)]


async def release_closed_periods(engine: AsyncEngine, content: ContentSnapshot, noise: Noise,
                                 today: date | None = None) -> list[date]:
    """Release every closed week not yet released; returns the Mondays released now.

    Raw counters of already released weeks (a late flush) are deleted, never released again.
    Two processes releasing at once is safe: the second one's insert fails and rolls back.
    """
    open_start = period_start(today or utc_today())
    async with engine.connect() as conn:
        last = await conn.scalar(select(func.max(Release.period_start)))
        earliest = await conn.scalar(select(func.min(Counter.day))
                                     .where(Counter.day < open_start))
    if last is not None:
        async with engine.begin() as conn:
            await conn.execute(delete(Counter).where(
                Counter.day < last + timedelta(days=PERIOD_DAYS)))
        first = last + timedelta(days=PERIOD_DAYS)
    elif earliest is not None:
        first = period_start(earliest)
    else:
        return []
    released = []
    start = first
    while start < open_start:
        try:
            await _release_one(engine, content, noise, start)
            released.append(start)
        except IntegrityError:
            logger.info("week %s was released by another process", start)
        start += timedelta(days=PERIOD_DAYS)
    return released


async def _release_one(engine: AsyncEngine, content: ContentSnapshot, noise: Noise,
                       start: date) -> None:
    end = start + timedelta(days=PERIOD_DAYS - 1)
    in_period = (Counter.day >= start, Counter.day <= end)
    async with engine.begin() as conn:
        result = await conn.execute(
            select(Counter.event, Counter.key, Counter.lang, func.sum(Counter.count))
            .where(*in_period).group_by(Counter.event, Counter.key, Counter.lang))
        true: dict[Cell, int] = defaultdict(int)
        for event, key, lang, n in result:
            # Plain events are one cell per language whatever the key (search_found keeps
            # its first topic): one chat still adds at most `cap` in all, the L1 bound.
            true[(event, "" if event in _PLAIN_EVENTS else key, lang)] += int(n)
        cells = key_space(content)
        known = set(cells)
        cells += sorted(c for c in true if c[0] == "gap" and c[2] == "" and c not in known)
        noisy = add_noise([true.get(c, 0) for c in cells], noise.scale, noise.sensitivity,
                          noise.epsilon)
        await conn.execute(insert(Release).values(
            period_start=start, period_end=end, epsilon=noise.epsilon, cap=noise.sensitivity,
            scale=noise.scale, mechanism=MECHANISM))
        await conn.execute(insert(ReleasedCell), [
            {"period_start": start, "event": e, "key": k, "lang": lang, "noisy": n}
            for (e, k, lang), n in zip(cells, noisy, strict=True)])
        # The raw counts are gone once released: nothing can be re-queried or re-noised.
        await conn.execute(delete(Counter).where(*in_period))


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date
    epsilon: float
    scale: float


@dataclass(frozen=True, slots=True)
class NoisyCell:
    period: date
    event: str
    key: str
    lang: str
    noisy: int


@dataclass(frozen=True, slots=True)
class Released:
    """What reports may use: closed, released weeks and their stored noisy cells."""

    periods: list[Period]
    cells: list[NoisyCell]

    def sum_by(self, event: str, by_lang: bool = True) -> dict[str, dict[str, int]]:
        """key → lang (or "" when not by_lang) → sum of noisy cells of `event`."""
        sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for cell in self.cells:
            if cell.event == event:
                sums[cell.key][cell.lang if by_lang else ""] += cell.noisy
        return {key: dict(per_lang) for key, per_lang in sums.items()}

    @property
    def languages(self) -> list[str]:
        """The languages these weeks were released for: the configured ones at the time."""
        return sorted({cell.lang for cell in self.cells if cell.lang})

    def totals(self, event: str) -> dict[str, int]:
        """key → sum over languages and periods."""
        return {key: sum(v.values()) for key, v in self.sum_by(event, by_lang=False).items()}


async def load_released(engine: AsyncEngine, weeks: int) -> Released:
    """The newest `weeks` released weeks and their cells, oldest first."""
    if weeks < 1:
        raise ValueError("weeks must be at least 1")
    async with engine.connect() as conn:
        result = await conn.execute(
            select(Release.period_start, Release.period_end, Release.epsilon, Release.scale)
            .order_by(Release.period_start.desc()).limit(weeks))
        periods = sorted((Period(*row) for row in result), key=lambda p: p.start)
        if not periods:
            return Released([], [])
        cells = await conn.execute(
            select(ReleasedCell.period_start, ReleasedCell.event, ReleasedCell.key,
                   ReleasedCell.lang, ReleasedCell.noisy)
            .where(ReleasedCell.period_start >= periods[0].start)
            .order_by(ReleasedCell.period_start, ReleasedCell.event, ReleasedCell.key,
                      ReleasedCell.lang))
        return Released(periods, [NoisyCell(*row) for row in cells])


async def release_loop(services: Services, stopping: asyncio.Event,
                       seconds: float = RELEASE_CHECK_SECONDS) -> None:
    """In the running bot: flush, then release any week that closed, every `seconds`."""
    noise = Noise.from_settings(services.settings)
    while not stopping.is_set():
        try:
            await services.stats.flush()
            done = await release_closed_periods(services.engine, services.content.snapshot,
                                                noise)
            for start in done:
                logger.info("statistics: released the week of %s (noise added once)", start)
        except Exception as error:  # the database may be down; try again next time
            logger.error("statistics release failed: %s", type(error).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), timeout=seconds)


def weeks_for_days(days: int) -> int:
    """`--days N` as whole closed weeks: reports never cut a week."""
    return max(1, math.ceil(days / PERIOD_DAYS))

