"""Ticket numbers per queue per day, and the office calendar in Asia/Tokyo."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from server.core import commands as c
from server.core.calendar import TOKYO, business_day
from server.core.errors import DomainError
from server.core.numbering import next_number

from .floorkit import Day


def test_numbers_count_up_per_queue_with_their_own_ranges() -> None:
    day = Day()
    day.open("1", "10")
    shown = [day.ticket(day.issue(q)).display for q in ("shomei", "koseki", "shomei", "idou", "koseki")]
    assert shown == ["1", "2001", "2", "3001", "2002"]


def test_wrap_around_skips_numbers_still_active() -> None:
    assert next_number(None, 1, 3, set()) == 1
    assert next_number(3, 1, 3, set()) == 1
    assert next_number(3, 1, 3, {1}) == 2
    assert next_number(1, 1, 3, {2, 3}) == 1
    with pytest.raises(DomainError) as err:
        next_number(2, 1, 3, {1, 2, 3})
    assert err.value.code == "numbers_exhausted"


def test_a_small_range_wraps_on_the_floor_and_never_duplicates_an_active_number() -> None:
    day = Day()
    layout = day.floor.layout
    small = replace(layout.queues["koseki"], number_range=(1, 3))
    day.floor.layout = replace(layout, queues={**layout.queues, "koseki": small})
    day.open("1")
    tids = [day.issue("koseki") for _ in range(3)]
    with pytest.raises(DomainError) as err:
        day.issue("koseki")
    assert err.value.code == "numbers_exhausted"
    day.do(c.CallNext("1"))
    day.do(c.Finish("1"))                     # number 1 is free again
    fourth = day.issue("koseki")
    assert day.ticket(fourth).number == 1
    active = [day.ticket(t).number for t in tids[1:]] + [1]
    assert sorted(active) == [1, 2, 3]


def test_numbers_restart_on_the_next_business_day() -> None:
    monday = Day(day=date(2026, 11, 16))
    monday.open("4")
    assert monday.ticket(monday.issue()).number == 1
    assert monday.ticket(monday.issue()).number == 2
    tuesday = Day(day=date(2026, 11, 17))
    tuesday.open("4")
    assert tuesday.ticket(tuesday.issue()).number == 1


def test_business_day_is_the_tokyo_date() -> None:
    # 23:30 UTC on the 17th is 08:30 on the 18th in Tokyo.
    assert business_day(datetime(2026, 11, 17, 23, 30, tzinfo=UTC)) == date(2026, 11, 18)
    assert business_day(datetime(2026, 11, 18, 14, 59, tzinfo=UTC)) == date(2026, 11, 18)
    assert business_day(datetime(2026, 11, 18, 15, 0, tzinfo=UTC)) == date(2026, 11, 19)


def test_a_command_for_another_business_day_is_refused() -> None:
    day = Day()
    day.now += timedelta(days=1)
    with pytest.raises(DomainError) as err:
        day.floor.execute(c.IssueTicket("shomei", "t"), day.now)
    assert err.value.code == "wrong_business_day"


@pytest.mark.parametrize("when, open_", [
    ((2026, 11, 18, 8, 29), False),   # Wednesday before opening
    ((2026, 11, 18, 8, 30), True),
    ((2026, 11, 18, 19, 59), True),   # Wednesday evening
    ((2026, 11, 18, 20, 0), False),
    ((2026, 11, 19, 17, 14), True),   # Thursday
    ((2026, 11, 19, 17, 15), False),
    ((2026, 11, 23, 10, 0), False),   # 勤労感謝の日 (national holiday, Monday)
    ((2026, 11, 8, 10, 0), True),     # 2nd Sunday opening
    ((2026, 11, 15, 10, 0), False),   # 3rd Sunday
    ((2026, 3, 29, 10, 0), True),     # last Sunday of March
    ((2026, 4, 5, 10, 0), True),      # 1st Sunday of April
    ((2026, 12, 30, 10, 0), False),   # year-end closure (a Wednesday)
    ((2027, 1, 4, 10, 0), True),
])
def test_opening_calendar(when: tuple[int, int, int, int, int], open_: bool) -> None:
    day = Day()
    year, month, dom, hour, minute = when
    now = datetime(year, month, dom, hour, minute, tzinfo=TOKYO)
    assert (day.floor.calendar.opening_at(now) is not None) is open_


def test_fourth_saturday_only_issues_my_number_card_tickets() -> None:
    saturday = Day(day=date(2026, 11, 28))
    saturday.tick(3600)
    saturday.open("10", "4")
    assert saturday.ticket(saturday.issue("mynumber")).number == 5001
    with pytest.raises(DomainError) as err:
        saturday.issue("shomei")                 # outside this opening's procedures: 受付時間外
    assert err.value.code == "office_closed"


def test_closed_office_refuses_tickets_but_rehearsal_mode_does_not() -> None:
    closed = Day(day=date(2026, 11, 22))     # 4th Sunday: closed
    with pytest.raises(DomainError) as err:
        closed.issue()
    assert err.value.code == "office_closed"
    rehearsal = Day(day=date(2026, 11, 22), rehearsal=True)
    rehearsal.open("4")
    assert rehearsal.issue()


def test_the_hand_over_queue_issues_no_tickets() -> None:
    day = Day()
    with pytest.raises(DomainError) as err:
        day.issue("kofu")
    assert err.value.code == "queue_not_issuable"


def test_a_no_show_keeps_its_number_for_the_reinstatement_window_only() -> None:
    day = Day()
    layout = day.floor.layout
    small = replace(layout.queues["koseki"], number_range=(1, 2))
    day.floor.layout = replace(layout, queues={**layout.queues, "koseki": small}, reinstate_window_s=600)
    day.open("1")
    late, other = day.issue("koseki"), day.issue("koseki")
    day.do(c.CallNext("1"))
    day.do(c.NoShow("1"))
    with pytest.raises(DomainError) as err:
        day.issue("koseki")                       # both numbers still held
    assert err.value.code == "numbers_exhausted"
    day.tick(601)
    newcomer = day.issue("koseki")                # the no-show's number is free again
    assert day.ticket(newcomer).number == day.ticket(late).number
    with pytest.raises(DomainError) as err:
        day.do(c.Reinstate(late))
    assert err.value.code == "reinstate_expired"
    day.do(c.CallTicket("1", newcomer))
    day.do(c.Finish("1"))
    assert day.ticket(other).status.value == "waiting"


def test_reinstating_within_the_window_works() -> None:
    day = Day()
    day.open("1")
    tid = day.issue("koseki")
    day.do(c.CallNext("1"))
    day.do(c.NoShow("1"))
    day.tick(3000)
    day.do(c.Reinstate(tid))
    assert day.ticket(tid).status.value == "waiting"
