"""The business clock and the day's close, through the pure core (issue 13, points 2-4).

Readings of the wall and monotonic clocks are passed in; no server, no patching.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from server.core import commands as c
from server.core import events as ev
from server.core.calendar import TOKYO
from server.core.clock import BusinessClock
from server.core.errors import DomainError
from server.core.floor import CounterStatus, Floor
from server.core.tickets import Status
from server.views import ticket_public

from .floorkit import WEDNESDAY, Day

TEN = datetime(2026, 11, 18, 10, 0, tzinfo=TOKYO)


def test_a_backward_step_never_moves_the_moment_back_and_is_reported() -> None:
    clock = BusinessClock()
    first = clock.tick(TEN, 100.0)
    assert first.now == TEN and first.jump is None
    assert clock.tick(TEN + timedelta(seconds=60), 160.0).jump is None
    stepped = clock.tick(TEN - timedelta(seconds=540), 161.0)  # the clock went back ten minutes
    assert stepped.now == TEN + timedelta(seconds=60)  # not earlier than what was decided already
    assert stepped.jump is not None and round(stepped.jump.step_s) == -601
    assert stepped.jump.wall_from == TEN + timedelta(seconds=61)
    # It keeps the newest moment until the wall clock catches up, then follows it again.
    assert clock.tick(TEN - timedelta(seconds=530), 171.0).now == TEN + timedelta(seconds=60)
    assert clock.tick(TEN + timedelta(seconds=90), 791.0).now == TEN + timedelta(seconds=90)


def test_a_forward_step_is_reported_and_slow_drift_is_not() -> None:
    clock = BusinessClock()
    clock.tick(TEN, 0.0)
    assert clock.tick(TEN + timedelta(seconds=3600.02), 3600.0).jump is None  # NTP-sized drift
    forward = clock.tick(TEN + timedelta(days=1, seconds=3601), 3601.0)
    assert forward.jump is not None and round(forward.jump.step_s) == 86400
    assert forward.day == WEDNESDAY + timedelta(days=1)


def test_the_business_day_is_never_earlier_than_the_newest_event() -> None:
    just_after_midnight = datetime(2026, 11, 19, 0, 0, 30, tzinfo=TOKYO)
    clock = BusinessClock(last=just_after_midnight)  # the log's newest event, on the 19th
    tick = clock.tick(just_after_midnight - timedelta(minutes=1), 5.0)  # the clock reads the 18th
    assert tick.day == just_after_midnight.date() and tick.now == just_after_midnight
    assert clock.peek(TEN) == just_after_midnight


def test_fifo_and_waits_hold_across_a_backward_step() -> None:
    """Four tickets, the clock steps back ten minutes, a fifth: called fifth, no wait negative."""
    day = Day(rehearsal=True)
    clock = BusinessClock()
    wall, mono = TEN, 0.0
    floor = day.floor
    floor.execute(c.OpenCounter("4", staff="s1"), clock.tick(wall, mono).now)
    issued = []
    for i in range(4):
        wall, mono = wall + timedelta(seconds=30), mono + 30
        out = floor.execute(c.IssueTicket("shomei", token=f"fifo-{i}"), clock.tick(wall, mono).now)
        issued.append(out.ticket)
    wall, mono = wall - timedelta(seconds=600), mono + 1  # the step
    tick = clock.tick(wall, mono)
    assert tick.jump is not None
    issued.append(floor.execute(c.IssueTicket("shomei", token="fifo-late"), tick.now).ticket)
    called, moments = [], []
    for _ in range(5):
        wall, mono = wall + timedelta(seconds=20), mono + 20
        now = clock.tick(wall, mono).now
        out = floor.execute(c.CallNext("4", staff="s1"), now)
        called.append(out.ticket)
        assert out.events[0].data["waited_s"] >= 0
        moments.append(now)
        floor.execute(c.Finish("4", staff="s1"), now)
    assert called == issued
    assert moments == sorted(moments)


def test_closing_the_day_leaves_no_ticket_silently() -> None:
    day = Day(rehearsal=True)
    day.open("4", "5")
    waiting = day.issue("shomei")
    called = day.issue("shomei")
    held = day.issue("shomei")
    done = day.issue("shomei")
    for tid in (done, called, held):
        day.do(c.CallTicket("4" if tid != held else "5", tid, staff="s1-4" if tid != held else "s1-5"))
        if tid == done:
            day.do(c.Finish("4", staff="s1-4", handover=False))
    day.do(c.Hold("5", staff="s1-5"))
    day.do(c.PauseCounter("5", staff="s1-5"))
    midnight = datetime(2026, 11, 19, 0, 0, 1, tzinfo=TOKYO)
    with pytest.raises(DomainError) as err:
        day.floor.execute(c.IssueTicket("shomei", token="tomorrow"), midnight)
    assert err.value.code == "wrong_business_day"
    out = day.floor.execute(c.CloseDay(), midnight)
    closed = {e.data["ticket"]: e.data["was"] for e in out.events if e.type == ev.TICKET_CLOSED_AT_DAY_END}
    assert closed == {waiting: "waiting", called: "called", held: "held"}
    counters = [e.data for e in out.events if e.type == ev.COUNTER_CLOSED]
    assert {(d["counter"], d["staff"], d["reason"]) for d in counters} == {("4", "s1-4", "day_end"),
                                                                          ("5", "s1-5", "day_end")}
    assert out.events[-1].type == ev.DAY_CLOSED and out.events[-1].data["unserved"] == 3
    floor = day.floor
    assert all(floor.tickets[t].status is Status.UNSERVED for t in closed)
    assert floor.tickets[done].status is Status.DONE
    assert all(s.status is CounterStatus.CLOSED and s.ticket is None for s in floor.counters.values())
    assert not any(floor.waiting.values())
    assert floor.execute(c.CloseDay(), midnight).events == []  # closing twice does nothing
    # The same floor rebuilt from its events is the same floor.
    again = Floor(floor.layout, floor.calendar, floor.day)
    for e in day.events + out.events:
        again.apply(e)
    assert {t.id: t.status for t in again.tickets.values()} == {t.id: t.status for t in floor.tickets.values()}
    assert again.day_closed
    # The next day: fresh numbers under new ids; the phone page of a ticket left still says why.
    nxt = floor.next_day(midnight.date())
    token = floor.tickets[waiting].token
    seen = nxt.ticket_by_token(token)
    assert seen is not None and ticket_public(seen, nxt, midnight)["state"] == "unserved"
    assert ticket_public(seen, nxt, midnight)["now_serving"] is None
    with pytest.raises(DomainError):
        floor.next_day(WEDNESDAY)  # a business day never goes back


def test_a_close_is_refused_before_the_day_begins() -> None:
    day = Day(rehearsal=True)
    with pytest.raises(DomainError) as err:
        day.floor.execute(c.CloseDay(), datetime(2026, 11, 17, 23, 0, tzinfo=TOKYO))
    assert err.value.code == "wrong_business_day"
