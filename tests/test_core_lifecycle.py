"""A day at the counters, told through the pure core: no server, no clock."""

from __future__ import annotations

import copy

import pytest

from server.core import commands as c
from server.core.errors import DomainError
from server.core.floor import Floor
from server.core.tickets import Status

from .floorkit import Day


def test_certificate_visit_is_called_served_and_handed_over_with_one_number() -> None:
    day = Day()
    day.open("4", "24")
    tid = day.issue("shomei")
    assert day.ticket(tid).display == "1"
    called = day.do(c.CallNext("4"))
    assert called.ticket == tid and day.ticket(tid).status is Status.CALLED
    day.do(c.Recall("4"))
    day.do(c.Recall("4"))
    assert day.ticket(tid).recalls == 2
    day.do(c.StartService("4"))
    day.do(c.Finish("4"))
    ticket = day.ticket(tid)
    # 証明の交付: the same number now waits for hand-over.
    assert (ticket.status, ticket.queue, ticket.display) == (Status.WAITING, "kofu", "1")
    assert day.floor.counters["4"].ticket is None
    assert day.do(c.CallNext("24")).ticket == tid
    day.do(c.Finish("24"))
    assert day.ticket(tid).status is Status.DONE
    assert [s.status for s in day.ticket(tid).steps] == ["done", "done"]
    assert [s.counter for s in day.ticket(tid).steps] == ["4", "24"]


def test_a_move_in_visit_keeps_its_number_across_counters_and_shows_progress() -> None:
    day = Day()
    day.open("10", "11")
    tid = day.issue("idou", procedures=("inkan", "mynumber"))
    assert [(s.queue, s.status) for s in day.ticket(tid).steps] == [
        ("idou", "current"), ("inkan", "pending"), ("mynumber", "pending")]
    day.do(c.CallNext("10"))
    day.do(c.Finish("10"))
    assert day.ticket(tid).queue == "inkan"
    assert [(s.queue, s.status) for s in day.ticket(tid).steps] == [
        ("idou", "done"), ("inkan", "current"), ("mynumber", "pending")]
    day.do(c.CallNext("11"))
    day.do(c.Transfer(tid, "koseki", front=True))
    assert day.ticket(tid).queue == "koseki" and day.floor.counters["11"].ticket is None
    assert day.ticket(tid).display == "3001"


def test_no_show_then_the_visitor_turns_up_and_is_reinstated_at_their_place() -> None:
    day = Day()
    day.open("4")
    first = day.issue("shomei")
    later = [day.issue("shomei") for _ in range(3)]
    day.do(c.CallNext("4"))
    day.do(c.NoShow("4"))
    assert day.ticket(first).status is Status.NO_SHOW
    assert day.floor.position(day.ticket(later[0])) == 0
    day.do(c.Reinstate(first))
    assert day.ticket(first).status is Status.WAITING
    assert day.floor.position(day.ticket(first)) == 0
    assert day.do(c.CallNext("4")).ticket == first


def test_hold_frees_the_counter_and_the_held_ticket_is_called_back_by_number() -> None:
    day = Day()
    day.open("4")
    a, b = day.issue(), day.issue()
    day.do(c.CallNext("4"))
    day.do(c.StartService("4"))
    day.do(c.Hold("4"))
    assert day.ticket(a).status is Status.HELD and day.floor.counters["4"].ticket is None
    assert day.do(c.CallNext("4")).ticket == b          # call-next skips held tickets
    with pytest.raises(DomainError) as err:
        day.do(c.CallTicket("4", a))
    assert err.value.code == "counter_busy"
    day.do(c.Finish("4", handover=False))
    assert day.do(c.CallTicket("4", a)).ticket == a


def test_finish_straight_from_called_records_a_start() -> None:
    day = Day()
    day.open("1")
    tid = day.issue("koseki")
    day.do(c.CallNext("1"))
    out = day.do(c.Finish("1"))
    assert [e.type for e in out.events] == ["ticket.started", "ticket.finished"]
    assert day.ticket(tid).status is Status.DONE


def test_idempotency_key_gives_the_same_ticket_for_a_double_tap() -> None:
    day = Day()
    day.open("4")
    first = day.do(c.IssueTicket("shomei", "tA", idempotency_key="k1", device="kiosk1"))
    again = day.do(c.IssueTicket("shomei", "tB", idempotency_key="k1", device="kiosk1"))
    other = day.do(c.IssueTicket("shomei", "tC", idempotency_key="k1", device="kiosk2"))
    assert again.ticket == first.ticket and again.events == []
    assert other.ticket != first.ticket
    assert len(day.floor.tickets) == 2


def test_rebuilding_from_the_events_gives_the_same_floor() -> None:
    day = Day()
    day.open("4", "5", "24", "10")
    tids = [day.issue(q) for q in ("shomei", "shomei", "idou", "koseki", "shomei")]
    for counter, then in (("4", c.Finish("4")), ("5", c.NoShow("5")), ("10", c.Hold("10"))):
        day.do(c.CallNext(counter))
        day.do(then)
    day.do(c.Cancel(tids[4]))
    day.do(c.CallNext("24"))
    rebuilt = Floor(day.floor.layout, day.floor.calendar, day.floor.day)
    for event in day.events:
        rebuilt.apply(event)
    assert rebuilt.tickets == day.floor.tickets
    assert rebuilt.waiting == day.floor.waiting
    assert rebuilt.counters == day.floor.counters
    assert rebuilt.last_number == day.floor.last_number
    assert rebuilt.active_numbers == day.floor.active_numbers


# --------------------------------------------------------------- transitions
def _in_state(state: str) -> tuple[Day, str]:
    """A day with counter 4 open and a shomei ticket brought into ``state``."""
    day = Day()
    day.open("4", "5")
    tid = day.issue("shomei")
    steps: list[c.Command] = {  # type: ignore[assignment]  # a dict of lists, indexed at once
        "waiting": [],
        "called": [c.CallNext("4")],
        "serving": [c.CallNext("4"), c.StartService("4")],
        "held": [c.CallNext("4"), c.Hold("4")],
        "no_show": [c.CallNext("4"), c.NoShow("4")],
        "done": [c.CallNext("4"), c.Finish("4", handover=False)],
        "cancelled": [c.Cancel(tid)],
    }[state]
    for cmd in steps:
        day.do(cmd)
    assert day.ticket(tid).status.value == state
    return day, tid


def _commands(tid: str) -> dict[str, c.Command]:
    return {
        "call_ticket": c.CallTicket("5", tid),
        "recall": c.Recall("4", ticket=tid),
        "start": c.StartService("4", ticket=tid),
        "finish": c.Finish("4", ticket=tid),
        "no_show": c.NoShow("4", ticket=tid),
        "reinstate": c.Reinstate(tid),
        "transfer": c.Transfer(tid, "koseki"),
        "hold": c.Hold("4", ticket=tid),
        "cancel": c.Cancel(tid),
    }


LEGAL = {
    "waiting": {"call_ticket", "transfer", "cancel"},
    "called": {"recall", "start", "finish", "no_show", "transfer", "hold", "cancel"},
    "serving": {"finish", "transfer", "hold", "cancel"},
    "held": {"call_ticket", "transfer", "cancel"},
    "no_show": {"reinstate", "cancel"},
    "done": set(),
    "cancelled": set(),
}


@pytest.mark.parametrize("state", sorted(LEGAL))
@pytest.mark.parametrize("name", sorted(_commands("x")))
def test_every_transition_is_legal_or_raises_and_changes_nothing(state: str, name: str) -> None:
    day, tid = _in_state(state)
    command = _commands(tid)[name]
    before = copy.deepcopy((day.floor.tickets, day.floor.waiting, day.floor.counters))
    if name in LEGAL[state]:
        outcome = day.do(command)
        assert outcome.events, f"{name} from {state} should record an event"
    else:
        with pytest.raises(DomainError) as err:
            day.do(command)
        assert err.value.code in {"invalid_transition", "counter_idle", "ticket_not_at_counter"}
        assert (day.floor.tickets, day.floor.waiting, day.floor.counters) == before


def test_counter_rules() -> None:
    day = Day()
    day.open("5")
    tid = day.issue()
    checks: list[tuple[c.Command, str]] = [
        (c.CallNext("4"), "counter_not_open"),
        (c.CallNext("99"), "unknown_counter"),
        (c.CloseCounter("4"), "counter_not_open"),
        (c.ResumeCounter("4"), "counter_not_paused"),
        (c.Reinstate("nope"), "unknown_ticket"),
        (c.Transfer(tid, "nope"), "unknown_queue"),
    ]
    for command, code in checks:
        with pytest.raises(DomainError) as err:
            day.do(command)
        assert err.value.code == code
    day.open("4")
    with pytest.raises(DomainError) as err:
        day.do(c.OpenCounter("4", staff="someone-else"))
    assert err.value.code == "counter_in_use"
    day.do(c.PauseCounter("4"))
    with pytest.raises(DomainError) as err:
        day.do(c.CallNext("4"))
    assert err.value.code == "counter_not_open"
    day.do(c.ResumeCounter("4"))
    day.do(c.CallNext("4"))
    busy: list[tuple[c.Command, str]] = [(c.CallNext("4"), "counter_busy"), (c.CloseCounter("4"), "counter_busy")]
    for command, code in busy:
        with pytest.raises(DomainError) as err:
            day.do(command)
        assert err.value.code == code
    day.do(c.Finish("4"))
    with pytest.raises(DomainError) as err:
        day.do(c.CallNext("4"))
    assert err.value.code == "no_waiting"
    day.do(c.CloseCounter("4"))
    assert day.floor.counters["4"].status == "closed"
    with pytest.raises(DomainError) as err:
        day.do(c.CallTicket("10", tid))
    assert err.value.code == "counter_not_open"
    day.open("10")
    with pytest.raises(DomainError) as err:
        day.do(c.CallTicket("10", tid))
    assert err.value.code == "queue_not_served"
