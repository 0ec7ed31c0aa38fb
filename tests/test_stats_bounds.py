"""The days a statistics export may cover (stats.bounds, issue 13 point 10): pure, no I/O."""

from __future__ import annotations

import re
from datetime import date

import pytest

from stats.bounds import RangeError, bounded, log_span

LOGGED = (date(2025, 4, 1), date(2026, 3, 31))


def test_a_range_is_narrowed_to_the_logged_days() -> None:
    assert bounded(date(2000, 1, 1), date(2999, 12, 31), LOGGED) == LOGGED
    assert bounded(date(2025, 6, 1), date(2025, 6, 30), LOGGED) == (date(2025, 6, 1), date(2025, 6, 30))
    # No logged day in the range, or an empty log: one day, an export with no rows.
    assert bounded(date(2027, 1, 1), date(2999, 12, 31), LOGGED) == (date(2027, 1, 1), date(2027, 1, 1))
    assert bounded(date(2000, 1, 1), date(2999, 12, 31), None) == (date(2000, 1, 1), date(2000, 1, 1))


@pytest.mark.parametrize("first, last, message", [
    (date(1, 1, 1), date(2026, 1, 1), "from 0001-01-01 is outside 2000-01-01..2999-12-31"),
    (date(2026, 1, 1), date(9999, 12, 31), "to 9999-12-31 is outside"),
    (date(2026, 2, 1), date(2026, 1, 1), "from 2026-02-01 is after to 2026-01-01"),
])
def test_days_out_of_bounds_or_reversed_are_refused(first: date, last: date, message: str) -> None:
    with pytest.raises(RangeError, match=re.escape(message)):
        bounded(first, last, LOGGED)


def test_at_most_five_years_of_logged_days() -> None:
    logged = (date(2019, 4, 1), date(2026, 3, 31))
    assert bounded(date(2021, 4, 1), date(2026, 3, 31), logged) == (date(2021, 4, 1), date(2026, 3, 31))
    with pytest.raises(RangeError, match=re.escape("2021-03-31..2026-03-31 is longer than 5 years")):
        bounded(date(2021, 3, 31), date(2999, 1, 1), logged)
    # From 29 February, five years on is 28 February.
    leap = (date(2024, 2, 29), date(2030, 1, 1))
    assert bounded(date(2024, 2, 29), date(2029, 2, 27), leap)[1] == date(2029, 2, 27)
    with pytest.raises(RangeError):
        bounded(date(2024, 2, 29), date(2029, 2, 28), leap)
    assert bounded(date(2021, 1, 1), date(2021, 12, 31), logged, max_years=1) == (date(2021, 1, 1), date(2021, 12, 31))


def test_the_log_span_row() -> None:
    assert log_span(("2025-04-01", "2026-03-31")) == LOGGED
    assert log_span(("", "")) is None and log_span((None, None)) is None and log_span(None) is None
