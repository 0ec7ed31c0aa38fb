"""May this queue issue now? One decision in the core, each reason distinct, and
the command refuses with exactly the reason the screens show. Plain functions."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from server.core import commands as c
from server.core.calendar import TOKYO
from server.core.errors import DomainError
from server.core.floor import CounterStatus, Floor, NotIssuing
from server.core.tickets import Status, StepStatus

from .floorkit import Day

SUNDAY_CLOSED = date(2026, 11, 22)      # 4th Sunday: the office is closed all day
MY_NUMBER_SATURDAY = date(2026, 11, 28)  # 4th Saturday: only the My Number Card queue


def refusal_of_issuing(day: Day, queue: str) -> str | None:
    """Issue a ticket and return the error code, or ``None`` when it was issued."""
    try:
        day.issue(queue)
    except DomainError as err:
        return err.code
    return None


def assert_decision_matches_the_command(day: Day, queue: str) -> NotIssuing | None:
    """The views' decision and the command's outcome are the same thing."""
    decided = day.floor.not_issuing(queue, day.now + timedelta(seconds=1))   # the moment day.do will use
    code = refusal_of_issuing(day, queue)
    assert code == (None if decided is None else decided.value)
    return decided


def test_outside_opening_hours_is_office_closed_and_issues_nothing() -> None:
    day = Day()
    day.open("4")
    day.now = datetime(2026, 11, 18, 8, 0, tzinfo=TOKYO)          # before 8:30 on a Wednesday
    assert assert_decision_matches_the_command(day, "shomei") is NotIssuing.OFFICE_CLOSED
    day.now = datetime(2026, 11, 18, 20, 0, tzinfo=TOKYO)         # Wednesday closes at 20:00
    assert assert_decision_matches_the_command(day, "shomei") is NotIssuing.OFFICE_CLOSED
    day.now = datetime(2026, 11, 18, 19, 59, tzinfo=TOKYO)
    assert assert_decision_matches_the_command(day, "shomei") is None
    closed = Day(day=SUNDAY_CLOSED)
    closed.open("4")
    assert assert_decision_matches_the_command(closed, "shomei") is NotIssuing.OFFICE_CLOSED


def test_a_procedure_the_opening_does_not_take_is_outside_its_hours() -> None:
    saturday = Day(day=MY_NUMBER_SATURDAY)
    saturday.tick(3600)
    saturday.open("10", "4")
    assert assert_decision_matches_the_command(saturday, "mynumber") is None
    assert assert_decision_matches_the_command(saturday, "shomei") is NotIssuing.OFFICE_CLOSED


def test_rehearsal_mode_is_never_outside_opening_hours() -> None:
    rehearsal = Day(day=SUNDAY_CLOSED, rehearsal=True)
    for hour in (0, 3, 8, 12, 20, 23):
        rehearsal.now = datetime(2026, 11, 22, hour, 0, tzinfo=TOKYO)
        for queue in ("shomei", "koseki", "idou", "inkan", "mynumber"):
            assert rehearsal.floor.not_issuing(queue, rehearsal.now) is NotIssuing.NOT_READY
    rehearsal.open("4")
    assert assert_decision_matches_the_command(rehearsal, "shomei") is None


def test_no_counter_staffed_yet_is_not_ready_and_a_paused_counter_still_issues() -> None:
    day = Day()
    assert assert_decision_matches_the_command(day, "shomei") is NotIssuing.NOT_READY
    assert assert_decision_matches_the_command(day, "idou") is NotIssuing.NOT_READY
    day.open("10")                                 # a 住民記録 counter: idou is ready, shomei is not
    assert assert_decision_matches_the_command(day, "idou") is None
    assert assert_decision_matches_the_command(day, "shomei") is NotIssuing.NOT_READY
    day.open("1")                                  # 戸籍係 also serves shomei
    assert assert_decision_matches_the_command(day, "shomei") is None
    day.do(c.PauseCounter("1"))                    # on a break, still staffed: the queue issues
    assert day.floor.counters["1"].status is CounterStatus.PAUSED
    assert assert_decision_matches_the_command(day, "shomei") is None
    day.do(c.ResumeCounter("1"))
    day.do(c.CloseCounter("1"))
    assert day.floor.counters["1"].status is CounterStatus.CLOSED  # type: ignore[comparison-overlap]  # mypy narrowed it above
    assert assert_decision_matches_the_command(day, "shomei") is NotIssuing.NOT_READY


def test_every_number_held_is_numbers_exhausted_until_one_is_freed() -> None:
    day = Day()
    layout = day.floor.layout
    small = replace(layout.queues["koseki"], number_range=(1, 2))
    day.floor.layout = replace(layout, queues={**layout.queues, "koseki": small})
    day.open("1")
    assert assert_decision_matches_the_command(day, "koseki") is None
    assert assert_decision_matches_the_command(day, "koseki") is None
    assert assert_decision_matches_the_command(day, "koseki") is NotIssuing.NUMBERS_EXHAUSTED
    day.do(c.CallNext("1"))
    day.do(c.Finish("1", handover=False))
    assert assert_decision_matches_the_command(day, "koseki") is None


def test_staff_stop_and_resume_issuing_for_one_queue() -> None:
    day = Day()
    day.open("4", "10")
    waiting = day.issue("shomei")
    stopped = day.do(c.StopIssuing("shomei", staff="sup"))
    assert [e.type for e in stopped.events] == ["queue.closed"]
    assert day.do(c.StopIssuing("shomei", staff="sup")).events == []     # again: nothing new
    assert assert_decision_matches_the_command(day, "shomei") is NotIssuing.CLOSED_BY_STAFF
    assert assert_decision_matches_the_command(day, "idou") is None       # other queues go on
    assert day.ticket(waiting).status is Status.WAITING                  # tickets already issued stay
    assert day.do(c.CallNext("4")).ticket == waiting
    # Closed by staff outranks "not ready" and is outranked by the opening hours.
    day.do(c.Finish("4", handover=False))
    day.do(c.CloseCounter("4"))
    assert day.floor.not_issuing("shomei", day.now) is NotIssuing.CLOSED_BY_STAFF
    assert day.floor.not_issuing("shomei", datetime(2026, 11, 18, 21, 0, tzinfo=TOKYO)) is NotIssuing.OFFICE_CLOSED
    # A restart rebuilds the same decision from the stored events.
    rebuilt = Floor(day.floor.layout, day.floor.calendar, day.floor.day)
    for event in day.events:
        rebuilt.apply(event)
    assert rebuilt.closed_queues == {"shomei"}
    assert [e.type for e in day.do(c.ResumeIssuing("shomei", staff="sup")).events] == ["queue.reopened"]
    assert day.do(c.ResumeIssuing("shomei", staff="sup")).events == []
    day.open("4")
    assert assert_decision_matches_the_command(day, "shomei") is None


def test_stopping_a_queue_that_never_issues_or_does_not_exist_is_refused() -> None:
    day = Day()
    refused: list[tuple[c.Command, str]] = [
        (c.StopIssuing("kofu"), "queue_not_issuable"), (c.StopIssuing("nope"), "unknown_queue"),
        (c.ResumeIssuing("nope"), "unknown_queue"),
    ]
    for command, code in refused:
        with pytest.raises(DomainError) as err:
            day.do(command)
        assert err.value.code == code
    assert day.events == []


def test_the_hand_over_queue_never_issues() -> None:
    day = Day()
    day.open("24")
    assert assert_decision_matches_the_command(day, "kofu") is NotIssuing.NOT_ISSUABLE
    with pytest.raises(DomainError) as err:
        day.floor.not_issuing("nope", day.now)
    assert err.value.code == "unknown_queue"


def test_a_refused_ticket_changes_nothing() -> None:
    day = Day()
    before = (dict(day.floor.tickets), dict(day.floor.last_number), day.floor._serial)
    with pytest.raises(DomainError):
        day.issue("shomei")
    assert (dict(day.floor.tickets), dict(day.floor.last_number), day.floor._serial) == before


def test_transferring_the_ticket_at_a_counter_is_checked_by_the_core() -> None:
    day = Day()
    day.open("10")
    idle: list[tuple[c.Command, str]] = [
        (c.TransferCurrent("99", "koseki"), "unknown_counter"),
        (c.TransferCurrent("10", "koseki"), "counter_idle"),
    ]
    for command, code in idle:
        with pytest.raises(DomainError) as err:
            day.do(command)
        assert err.value.code == code
    tid = day.issue("idou")
    day.do(c.CallNext("10"))
    with pytest.raises(DomainError) as err:
        day.do(c.TransferCurrent("10", "nope"))
    assert err.value.code == "unknown_queue"
    outcome = day.do(c.TransferCurrent("10", "koseki", front=True))
    assert outcome.ticket == tid and [e.type for e in outcome.events] == ["ticket.transferred"]
    assert day.ticket(tid).queue == "koseki" and day.floor.counters["10"].ticket is None
    assert [s.status for s in day.ticket(tid).steps] == [StepStatus.TRANSFERRED, StepStatus.CURRENT]
    assert all(isinstance(s.status, StepStatus) for s in day.ticket(tid).steps)
