"""Dates in the Japanese calendar (和暦): 令和8年12月1日, 令和元年5月1日.

The five modern eras, each with the first day written in it (Gregorian) and its legal source:

- 明治 from 1873-01-01. The era began in 1868 (明治元年; 改元の詔 of 明治元年9月8日, counted from the
  first day of 慶応4年), but Japan counted days in the lunisolar calendar until the 改暦ノ布告
  (明治5年太政官布告第337号) made 明治5年12月3日 the Gregorian 明治6年1月1日 = 1873-01-01. A
  Gregorian date before that has no simple 和暦 and is refused.
- 大正 from 1912-07-30: 改元の詔書 of that day (旧皇室典範 第12条: 践祚ノ後元號ヲ建テ).
- 昭和 from 1926-12-25: 改元の詔書 of that day (the same article).
- 平成 from 1989-01-08: 元号を改める政令 (昭和64年政令第1号, in force 1989-01-08) under the 元号法
  (昭和54年法律第43号).
- 令和 from 2019-05-01: 元号を改める政令 (平成31年政令第143号, in force 2019-05-01) under the 元号法.

The day before each first day belongs to the previous era (明治45年7月29日, 大正15年12月24日,
昭和64年1月7日, 平成31年4月30日). An era's first year is written 元年 (令和元年), the usual form in
official documents.

Not taken from a library: the candidate on PyPI (``japanera``) ships no type information, takes its
dates from Wikipedia and converts pre-1873 Gregorian dates as if the calendar had been Gregorian,
while this table is five rows of law.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import NamedTuple


class Era(NamedTuple):
    """A 元号: its name, the Gregorian year of its 元年, and the first day this module writes in it
    (the era's first day, except 明治: the first Gregorian day, 1873-01-01)."""

    name: str
    first_year: int
    first_day: date


#: Newest first, so the first era whose first day is on or before a date is that date's era.
ERAS: tuple[Era, ...] = (
    Era("令和", 2019, date(2019, 5, 1)),
    Era("平成", 1989, date(1989, 1, 8)),
    Era("昭和", 1926, date(1926, 12, 25)),
    Era("大正", 1912, date(1912, 7, 30)),
    Era("明治", 1868, date(1873, 1, 1)),
)
#: The earliest date :func:`wareki` writes: the first day of the Gregorian calendar in Japan.
GREGORIAN_ADOPTED = ERAS[-1].first_day


def era_of(d: date) -> tuple[Era, int]:
    """The era holding ``d`` and the year within it (1 for 元年).

    明治's year counts from 1868 (明治元年), so 1873 is 明治6年. Raises ``ValueError`` (Japanese
    first) for dates before :data:`GREGORIAN_ADOPTED`.
    """
    if isinstance(d, datetime):
        d = d.date()
    if d < GREGORIAN_ADOPTED:
        raise ValueError("明治6年（1873年）1月1日より前の日付は和暦に換算できません。 "
                         "Dates before 1873-01-01 (the adoption of the Gregorian calendar) cannot be converted.")
    era = next(e for e in ERAS if e.first_day <= d)
    return era, d.year - era.first_year + 1


def wareki(d: date) -> str:
    """``d`` in the Japanese calendar with Arabic numerals and no padding: ``date(2026, 12, 1)`` →
    ``"令和8年12月1日"``, ``date(2019, 5, 1)`` → ``"令和元年5月1日"``. A ``datetime`` is taken as its
    date. Raises ``ValueError`` for dates before 1873-01-01 (see :func:`era_of`)."""
    era, year = era_of(d)
    return f"{era.name}{'元' if year == 1 else year}年{d.month}月{d.day}日"
