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
