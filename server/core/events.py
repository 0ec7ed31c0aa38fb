"""Events: the facts the floor records, one per state transition.

An event is a type, a moment and a flat dict of JSON-ready values. The same
events are stored in the append-only log, replayed to rebuild the floor after a
restart, pushed to screens and read by the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

TICKET_ISSUED = "ticket.issued"
TICKET_CALLED = "ticket.called"
TICKET_RECALLED = "ticket.recalled"
TICKET_STARTED = "ticket.started"
TICKET_FINISHED = "ticket.finished"
TICKET_NO_SHOW = "ticket.no_show"
TICKET_REINSTATED = "ticket.reinstated"
TICKET_TRANSFERRED = "ticket.transferred"
TICKET_HELD = "ticket.held"
TICKET_CANCELLED = "ticket.cancelled"
#: The business day ended with the ticket still waiting, called, served or held
#: (本日の受付終了): it leaves unserved (:class:`~server.core.commands.CloseDay`).
TICKET_CLOSED_AT_DAY_END = "ticket.closed_at_day_end"
COUNTER_OPENED = "counter.opened"
COUNTER_CLOSED = "counter.closed"
COUNTER_PAUSED = "counter.paused"
COUNTER_RESUMED = "counter.resumed"
#: Staff stop issuing tickets for a queue (受付終了) and resume.
QUEUE_CLOSED = "queue.closed"
QUEUE_REOPENED = "queue.reopened"
#: The business day is closed (after its tickets and counters were): ``day``, ``unserved``.
DAY_CLOSED = "day.closed"
#: The wall clock stepped against the monotonic clock (issue 13): ``wall_from``
#: (where it should have read), ``wall_to`` (what it read), ``step_s``.
CLOCK_JUMPED = "clock.jumped"
#: Printer facts (issue 4); the floor ignores them, screens and audits read them.
PRINTER_STATUS = "printer.status"
PRINT_FAILED = "print.failed"

#: The prefixes of events that change the floor.
FLOOR_PREFIXES = ("ticket.", "counter.", "queue.", "day.", "clock.")


#: Keys that never leave on a public topic (personal or secret data).
PRIVATE_KEYS = frozenset({"token", "staff", "device", "idempotency_key", "reason", "wall_from", "wall_to", "step_s"})


@dataclass(frozen=True, slots=True)
class Event:
    """One fact. ``at`` is an aware datetime; ``data`` holds only str, int,
    float, bool, None and lists of those."""

    type: str
    at: datetime
    data: dict[str, Any]

    def public_data(self) -> dict[str, Any]:
        """``data`` without staff ids, device ids, tokens, idempotency keys, staff-written reasons and
        clock readings (a clock jump is shown to staff only)."""
        return {k: v for k, v in self.data.items() if k not in PRIVATE_KEYS}
