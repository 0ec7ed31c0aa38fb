"""The days a statistics export may cover (issue 13, point 10).

An export reads the log half a month at a time, so its cost grows with the
span asked for, whether the log holds those days or not: 0001-01-01 to
9000-12-31 is 216,000 parts, and 9999-12-31 has no month after it. So a range
is checked and bounded before anything is read: days must lie in
:data:`EARLIEST`..:data:`LATEST`, ``from`` must not be after ``to``, the range
is narrowed to the first and last business day the log holds, and what
remains may span at most ``max_years`` years (the retention of operation logs,
FLOOR.md section 4: five years). Pure: the log's first and last day are passed in.
"""

from __future__ import annotations

from datetime import date

#: The earliest and latest day an export may name.
EARLIEST = date(2000, 1, 1)
LATEST = date(2999, 12, 31)
#: The longest span an export may cover, in years (the default of the server's ``stats_export_max_years``).
MAX_YEARS = 5
#: The SQL for the first and last business day in the log (SQLite and PostgreSQL; one index lookup each);
#: an empty log gives empty strings, never NULL (connectorx cannot type a column of NULLs from SQLite).
LOG_SPAN_QUERY = ("SELECT COALESCE(MIN(business_day), '') AS first_day, COALESCE(MAX(business_day), '') AS last_day "
                  "FROM events")


class RangeError(ValueError):
    """A range an export refuses; the message says why, for people."""


def parse_day(value: str, name: str) -> date:
    """``YYYY-MM-DD`` → date. Raises :class:`RangeError` naming ``name`` (e.g. ``from``)."""
    try:
        return date.fromisoformat(value)
    except (ValueError, TypeError):
        raise RangeError(f"{name} {str(value)[:40]!r} is not a date like 2026-04-01") from None


def years_later(day: date, years: int) -> date:
    """``day`` plus ``years`` years (29 February → 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def bounded(first: date, last: date, logged: tuple[date, date] | None, max_years: int = MAX_YEARS,
            names: tuple[str, str] = ("from", "to")) -> tuple[date, date]:
    """The days to export for a request of ``first``..``last`` (inclusive).

    ``logged``: the first and last business day in the log (``None``: the log
    is empty). The range is narrowed to ``logged``; a range that holds no
    logged day becomes the single day ``first`` (an export with no rows).
    Raises :class:`RangeError` for a day outside :data:`EARLIEST`..:data:`LATEST`,
    ``first`` after ``last``, or a narrowed range longer than ``max_years`` years;
    the messages call the days ``names`` (the API's fields, the command's flags).
    """
    for name, day in zip(names, (first, last), strict=True):
        if not EARLIEST <= day <= LATEST:
            raise RangeError(f"{name} {day.isoformat()} is outside {EARLIEST.isoformat()}..{LATEST.isoformat()}")
    if first > last:
        raise RangeError(f"{names[0]} {first.isoformat()} is after {names[1]} {last.isoformat()}")
    if logged is not None:
        lo, hi = max(first, logged[0]), min(last, logged[1])
        first, last = (lo, hi) if lo <= hi else (first, first)
    else:
        last = first
    if last >= years_later(first, max_years):
        raise RangeError(f"{first.isoformat()}..{last.isoformat()} is longer than {max_years} years, the most one "
                         "export covers; export it in parts")
    return first, last


def log_span(row: tuple[object, object] | None) -> tuple[date, date] | None:
    """The result row of :data:`LOG_SPAN_QUERY` → ``(first, last)``, ``None`` for an empty log."""
    if row is None or not row[0] or not row[1]:
        return None
    return date.fromisoformat(str(row[0])), date.fromisoformat(str(row[1]))
