"""Maintenance windows: `Mon-Fri 02:00-05:00 UTC`, `Sat,Sun 00:00-24:00 Europe/Paris`, `* 22:00-02:00`."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PATTERN = re.compile(r"^\s*(?:(?P<days>[*A-Za-z,\-]+)\s+)?(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})"
                      r"(?:\s+(?P<tz>\S+))?\s*$")


class WindowError(ValueError):
    pass


def _minutes(text: str) -> int:
    hours, minutes = (int(p) for p in text.split(":"))
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise WindowError(f"{text!r} is not a time of day (HH:MM, 00:00-24:00)")
    return hours * 60 + minutes


def _days(text: str) -> frozenset[int]:
    if text in ("", "*"):
        return frozenset(range(7))
    found: set[int] = set()
    for part in text.lower().split(","):
        first, _, last = part.partition("-")
        if first[:3] not in DAYS or (last and last[:3] not in DAYS):
            raise WindowError(f"{part!r}: days are Mon, Tue, Wed, Thu, Fri, Sat, Sun, ranges (Mon-Fri) or *")
        start, end = DAYS.index(first[:3]), DAYS.index((last or first)[:3])
        day = start
        while True:  # Fri-Mon wraps over the weekend
            found.add(day)
            if day == end:
                break
            day = (day + 1) % 7
    return frozenset(found)


@dataclass(frozen=True)
class Window:
    days: frozenset[int]  # 0 = Monday
    start: int  # minutes after midnight
    end: int
    zone: dt.tzinfo
    text: str

    @classmethod
    def parse(cls, text: str) -> Window:
        match = _PATTERN.match(text)
        if not match:
            raise WindowError(f"{text!r} is not a window like 'Mon-Fri 02:00-05:00 UTC'")
        try:
            zone: dt.tzinfo = dt.UTC if (match["tz"] or "UTC").upper() == "UTC" else ZoneInfo(match["tz"])
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise WindowError(f"{match['tz']!r} is not a time zone (UTC or a name like Europe/Paris)") from error
        start, end = _minutes(match["start"]), _minutes(match["end"])
        if start == end:
            raise WindowError(f"{text!r}: the window is empty")
        return cls(_days(match["days"] or "*"), start, end, zone, text)

    def is_open(self, when: dt.datetime) -> bool:
        """Open at `when` (aware). A window crossing midnight belongs to the day it starts on."""
        local = when.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        if self.start < self.end:
            return local.weekday() in self.days and self.start <= minute < self.end
        yesterday = (local.weekday() - 1) % 7
        return (local.weekday() in self.days and minute >= self.start) or (
            yesterday in self.days and minute < self.end)
