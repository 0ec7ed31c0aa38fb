"""Tickets (番号札) and the steps of a visit across counters."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Status(StrEnum):
    """Where a ticket stands.

    ``waiting`` (待ち) → ``called`` (呼出, recalled any number of times) →
    ``serving`` (対応中) → ``done`` (完了). Also ``no_show`` (不在, can be
    reinstated), ``held`` (保留), ``cancelled`` (取消) and ``unserved``
    (本日の受付終了: still waiting, called, served or held when the business
    day closed; :class:`~server.core.commands.CloseDay`).
    """

    WAITING = "waiting"
    CALLED = "called"
    SERVING = "serving"
    HELD = "held"
    NO_SHOW = "no_show"
    DONE = "done"
    CANCELLED = "cancelled"
    UNSERVED = "unserved"


#: States in which a ticket still owns its number (never reused while active).
ACTIVE = frozenset({Status.WAITING, Status.CALLED, Status.SERVING, Status.HELD, Status.NO_SHOW})


class StepStatus(StrEnum):
    """How one procedure of a visit went: ``pending`` (planned, not yet
    reached), ``current``, ``done``, ``transferred`` (left for another queue),
    ``cancelled`` or ``unserved`` (the business day closed first)."""

    PENDING = "pending"
    CURRENT = "current"
    DONE = "done"
    TRANSFERRED = "transferred"
    CANCELLED = "cancelled"
    UNSERVED = "unserved"


@dataclass(slots=True)
class Step:
    """One procedure of a visit: the queue, how it went (:class:`StepStatus`),
    and at which counter."""

    queue: str
    status: StepStatus = StepStatus.PENDING
    counter: str | None = None
    entered_at: datetime | None = None
    left_at: datetime | None = None


@dataclass(slots=True)
class Ticket:
    """A ticket and the visit it stands for.

    ``number`` belongs to the series of ``series`` (the queue it was issued
    in) and is kept across transfers; ``queue`` is where it waits now.
    ``order`` is the sort key in the waiting line (epoch seconds, lower is
    earlier; priority tickets get a boost). ``token`` is the random public
    token of the phone page (≥128 bits, made by the adapter).
    """

    id: str
    token: str
    number: int
    series: str
    display: str
    queue: str
    issued_at: datetime
    ready_at: datetime
    order: tuple[float, int]
    priority: bool = False
    status: Status = Status.WAITING
    counter: str | None = None
    called_at: datetime | None = None
    recalls: int = 0
    left_at: datetime | None = None
    steps: list[Step] = field(default_factory=list)
    device: str | None = None

    def current_step(self) -> Step:
        """The step for the queue the ticket is in now."""
        for step in self.steps:
            if step.status is StepStatus.CURRENT:
                return step
        return self.steps[-1]

    def pending_queues(self) -> list[str]:
        """Queues still to visit after the current one, in order."""
        return [s.queue for s in self.steps if s.status is StepStatus.PENDING]
