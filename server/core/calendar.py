"""The office calendar: business days and opening hours in Asia/Tokyo.

Rules come from seed 004 section 13(1) (FLOOR.md section 1, "Operation"):
weekdays 8:30-17:15, Wednesdays until 20:00 (not on holidays nor 12/29-1/3),
a Sunday opening on the 2nd Sunday of every month, extra openings on the 1st
Sunday of April and the last Sunday of March, and the 4th Saturday for the My
Number Card hand-over only. Every rule is configuration (:mod:`server.config`).
"""

from __future__ import annotations

import calendar as _cal
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

TOKYO = ZoneInfo("Asia/Tokyo")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class Hours:
    """One opening on a day: ``opens``-``closes`` local time; ``queues`` limits
    which queues issue tickets (``None``: all of them)."""

    opens: time
    closes: time
    queues: frozenset[str] | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ExtraOpening:
    """A recurring opening outside the weekday hours.

    ``weekday`` is one of ``mon``..``sun``; ``nth`` is 1-5 or ``-1`` for the last
    such weekday of the month; ``months`` limits it to those months (empty: every
    month).
    """

    weekday: str
    nth: int
    hours: Hours
    months: frozenset[int] = frozenset()

    def matches(self, day: date) -> bool:
        """Whether this rule opens the office on ``day``."""
        if WEEKDAYS[day.weekday()] != self.weekday:
            return False
        if self.months and day.month not in self.months:
            return False
        if self.nth == -1:
            return day.day + 7 > _cal.monthrange(day.year, day.month)[1]
        return (day.day - 1) // 7 + 1 == self.nth


@dataclass(frozen=True, slots=True)
class OfficeCalendar:
    """When the office is open.

    ``weekday_hours`` maps ``mon``..``fri`` (or any weekday) to the regular hours;
    ``closed_month_days`` are ``(month, day)`` pairs closed every year (年末年始);
    ``national_holidays`` closes Japan's national holidays (the ``holidays``
    package); ``extra`` are recurring extra openings; ``extra_dates`` and
    ``closed_dates`` are one-off exceptions. ``enforce`` false (rehearsal mode,
    seed 004 10(4)) treats every moment as open.
    """

    weekday_hours: dict[str, Hours]
    closed_month_days: frozenset[tuple[int, int]] = frozenset()
    national_holidays: bool = True
    extra: tuple[ExtraOpening, ...] = ()
    extra_dates: dict[date, Hours] = field(default_factory=dict)
    closed_dates: frozenset[date] = frozenset()
    enforce: bool = True

    def hours_on(self, day: date) -> list[Hours]:
        """The openings on ``day`` (local date), earliest first; empty when closed."""
        if day in self.extra_dates:
            return [self.extra_dates[day]]
        if day in self.closed_dates or (day.month, day.day) in self.closed_month_days:
            return []
        found = [rule.hours for rule in self.extra if rule.matches(day)]
        if not found:
            holiday = self.national_holidays and _is_national_holiday(day)
            regular = self.weekday_hours.get(WEEKDAYS[day.weekday()])
            if regular is not None and not holiday:
                found.append(regular)
        return sorted(found, key=lambda h: h.opens)

    def opening_at(self, now: datetime) -> Hours | None:
        """The opening in force at ``now`` (aware datetime), or ``None`` when closed.

        In rehearsal mode (``enforce`` false) an all-day opening is returned.
        """
        local = now.astimezone(TOKYO)
        if not self.enforce:
            return Hours(time(0, 0), time(23, 59, 59), None, "rehearsal")
        for hours in self.hours_on(local.date()):
            if hours.opens <= local.time() < hours.closes:
                return hours
        return None


def business_day(now: datetime) -> date:
    """The business day of ``now``: its calendar date in Asia/Tokyo."""
    return now.astimezone(TOKYO).date()


@lru_cache(maxsize=64)
def _holidays_for(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("JP", years=year)


def _is_national_holiday(day: date) -> bool:
    return day in _holidays_for(day.year)
