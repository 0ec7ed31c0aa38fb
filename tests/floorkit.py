"""Helpers for core tests: a demo floor on a Wednesday and a clock that moves."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

from server.config import DEMO_OFFICE, load
from server.core import commands as c
from server.core.calendar import TOKYO, OfficeCalendar
from server.core.events import Event
from server.core.floor import Floor, Outcome
from server.core.layout import Layout
from server.core.tickets import Ticket

WEDNESDAY = date(2026, 11, 18)
_tokens = itertools.count()


class Day:
    """A floor plus a clock starting at 08:30 Tokyo time on a Wednesday."""

    def __init__(self, day: date = WEDNESDAY, rehearsal: bool = False, layout: Layout | None = None,
                 calendar: OfficeCalendar | None = None) -> None:
        if layout is None or calendar is None:
            layout, calendar = load(DEMO_OFFICE, rehearsal=rehearsal)
        self.floor = Floor(layout, calendar, day)
        self.now = datetime(day.year, day.month, day.day, 8, 30, tzinfo=TOKYO)
        self.events: list[Event] = []

    def tick(self, seconds: float = 10) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def do(self, command: c.Command) -> Outcome:
        self.tick(1)
        outcome = self.floor.execute(command, self.now)
        self.events.extend(outcome.events)
        return outcome

    def issue(self, queue: str = "shomei", **kw: Any) -> str:
        ticket = self.do(c.IssueTicket(queue, token=f"tok{next(_tokens)}", **kw)).ticket
        assert ticket is not None
        return ticket

    def open(self, *counters: str, staff: str = "s1") -> None:
        for counter in counters:
            self.do(c.OpenCounter(counter, staff=f"{staff}-{counter}"))

    def ticket(self, tid: str) -> Ticket:
        return self.floor.tickets[tid]
