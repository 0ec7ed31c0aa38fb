"""The business clock: moments and business days that never go backwards (issue 13).

The host's wall clock can step: NTP correcting a wrong time, an operator
setting it, a virtual machine resumed. The floor must not follow it backwards:
a ticket issued after a backward step would go ahead of older ones (its order
key is its issue time), waits would come out negative, and a business day
read earlier than the log's newest would rebuild an empty floor and hand out
ticket ids already used. So the processor decides every command at
:meth:`BusinessClock.tick`'s ``now``:

- ``now`` = max(wall clock, the newest moment already decided): never earlier
  than an event in the log, so ``at_us`` is non-decreasing, waits are never
  negative and first come is first called;
- the business day is the Asia/Tokyo date of that ``now``, hence never earlier
  than the newest day in the log; it changes only forward (the processor then
  closes the old day explicitly: :class:`~server.core.commands.CloseDay`);
- a step of the wall clock against the monotonic clock of more than
  ``threshold_s`` (either way) between two readings is reported as a jump, for
  the processor to log (``clock.jumped``) and show to staff.

A forward step is taken as real (a correct clock cannot be told from it); it
is logged, and if it crosses midnight the day closes with every ticket left in
the log. Pure: readings are passed in (STYLE.md 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from .calendar import business_day

#: A step of the wall clock against the monotonic clock beyond this many seconds
#: between two readings is a jump (NTP slews at most 0.5 ms a second, so this
#: never fires on ordinary drift; a step of a minute always does).
JUMP_THRESHOLD_S = 5.0


@dataclass(frozen=True, slots=True)
class Jump:
    """The wall clock stepped: it should have read ``wall_from`` (the previous
    reading plus the monotonic time since) and read ``wall_to``."""

    wall_from: datetime
    wall_to: datetime

    @property
    def step_s(self) -> float:
        """Seconds stepped: positive forward, negative backward."""
        return (self.wall_to - self.wall_from).total_seconds()


@dataclass(frozen=True, slots=True)
class Tick:
    """One reading of the business clock: the moment to decide at (aware), its
    business day, and the jump seen since the previous reading (or ``None``)."""

    now: datetime
    day: date
    jump: Jump | None


class BusinessClock:
    """Moments and business days that never go backwards.

    ``last`` is the newest moment already decided (the newest event time in the
    log at start, ``None`` for an empty log). ``threshold_s``: see
    :data:`JUMP_THRESHOLD_S`. Monotonic readings are seconds from any fixed
    origin (``time.monotonic()``).
    """

    def __init__(self, last: datetime | None = None, threshold_s: float = JUMP_THRESHOLD_S) -> None:
        self.last = last
        self.threshold_s = threshold_s
        self._anchor: tuple[datetime, float] | None = None

    def peek(self, wall: datetime) -> datetime:
        """The moment now without taking a reading: max(``wall``, :attr:`last`).
        For read-only views (waits shown to staff are never negative)."""
        return wall if self.last is None or wall >= self.last else self.last

    def tick(self, wall: datetime, mono: float) -> Tick:
        """Take a reading (``wall`` aware, ``mono`` monotonic seconds) and return
        the :class:`Tick` to decide at. The moment returned becomes :attr:`last`."""
        jump = None
        if self._anchor is not None:
            anchor_wall, anchor_mono = self._anchor
            expected = anchor_wall + timedelta(seconds=mono - anchor_mono)
            if abs((wall - expected).total_seconds()) > self.threshold_s:
                jump = Jump(expected, wall)
        self._anchor = (wall, mono)
        now = self.peek(wall)
        self.last = now
        return Tick(now, business_day(now), jump)
