"""The caseworkers' working hours (JOL_CASEWORK_HOURS): parsed once, shown in the user's words.

Grammar: `<days> <HH:MM>-<HH:MM> <IANA time zone>`, days as `Mon-Fri`, `Mon,Wed,Fri` or
`Mon-Sun`, e.g. `Mon-Fri 09:00-18:00 Asia/Bishkek`; `24:00` ends at midnight.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.i18n import N_

# Also the message ids of the days shown on the consent screen (N_: extracted into the template).
DAYS = (N_("Mon"), N_("Tue"), N_("Wed"), N_("Thu"), N_("Fri"), N_("Sat"), N_("Sun"))
_SHAPE = re.compile(r"^(?P<days>[A-Za-z,-]+)\s+(?P<start>\d{2}:\d{2})-(?P<end>\d{2}:\d{2})"
                    r"\s+(?P<zone>[A-Za-z_]+(?:/[A-Za-z0-9_+-]+)*)$")


def _minutes(hhmm: str) -> int:
    hours, minutes = (int(part) for part in hhmm.split(":"))
    if hours > 24 or minutes > 59 or (hours == 24 and minutes):
        raise ValueError(f"{hhmm} is not a time of day")
    return hours * 60 + minutes


def _days(raw: str) -> tuple[int, ...]:
    days: list[int] = []
    for part in raw.split(","):
        first, _, last = part.partition("-")
        try:
            start = DAYS.index(first.capitalize())
            end = DAYS.index((last or first).capitalize())
        except ValueError:
            raise ValueError(f"{part!r} is not a day range like Mon-Fri") from None
        if end < start:
            raise ValueError(f"{part!r} runs backwards")
        days += [d for d in range(start, end + 1) if d not in days]
    return tuple(days)


@dataclass(frozen=True)
class WorkingHours:
    days: tuple[int, ...]  # 0 = Monday
    start: int  # minutes after midnight, local time
    end: int
    zone: str

    @classmethod
    def parse(cls, raw: str) -> WorkingHours:
        """ValueError with a plain reason when `raw` does not follow the grammar above."""
        match = _SHAPE.match(raw.strip())
        if match is None:
            raise ValueError("write it as e.g. 'Mon-Fri 09:00-18:00 Asia/Bishkek'")
        start, end = _minutes(match["start"]), _minutes(match["end"])
        if end <= start:
            raise ValueError("the hours must end after they start")
        try:
            ZoneInfo(match["zone"])
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{match['zone']!r} is not a time zone like Asia/Bishkek") from None
        return cls(_days(match["days"]), start, end, match["zone"])

    def open_at(self, moment: datetime) -> bool:
        """Whether caseworkers are at work at this (aware) moment."""
        local = moment.astimezone(ZoneInfo(self.zone))
        minutes = local.hour * 60 + local.minute
        return local.weekday() in self.days and self.start <= minutes < self.end

    def spans(self) -> list[tuple[int, int]]:
        """The days as runs of consecutive weekdays, (first, last), for display."""
        runs: list[tuple[int, int]] = []
        for day in sorted(self.days):
            if runs and runs[-1][1] == day - 1:
                runs[-1] = (runs[-1][0], day)
            else:
                runs.append((day, day))
        return runs

    def clock(self) -> str:
        def shown(minutes: int) -> str:
            return f"{minutes // 60:02d}:{minutes % 60:02d}"

        return f"{shown(self.start)}–{shown(self.end)}"


def now_utc() -> datetime:
    return datetime.now(UTC)
