"""What a replayed day consists of: visits (who comes when, for what, how long
they take) and shifts (which counter is staffed when). Times are seconds since
local midnight of the replayed day."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Visit:
    """One visitor: arrives at ``arrival_s``, takes a ticket for ``queue`` (then
    ``procedures``), needs ``service_s`` seconds at each counter, or turns out a
    no-show when called (``no_show``)."""

    arrival_s: float
    queue: str
    service_s: float
    no_show: bool = False
    procedures: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Shift:
    """A clerk at ``counter`` from ``start_s`` to ``end_s``, paused during ``breaks``."""

    counter: str
    start_s: float
    end_s: float
    breaks: tuple[tuple[float, float], ...] = ()


@dataclass
class DayPlan:
    """A whole day to replay plus notes on what was left out of the source."""

    name: str
    visits: list[Visit]
    shifts: list[Shift]
    service_s_by_queue: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    handover_service_s: float = 60.0

    def until(self, day_s: float) -> DayPlan:
        """The day up to day second ``day_s``: visitors arriving later stay away,
        shifts starting later are dropped and the others end there at the latest
        (a clerk still finishes the tickets waiting for the counter)."""
        shifts = [Shift(s.counter, s.start_s, min(s.end_s, day_s), tuple(b for b in s.breaks if b[0] < day_s))
                  for s in self.shifts if s.start_s < day_s]
        visits = [v for v in self.visits if v.arrival_s < day_s]
        return DayPlan(self.name, visits, shifts, self.service_s_by_queue, self.notes, self.handover_service_s)
