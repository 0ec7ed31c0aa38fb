"""The floor: the state machine of one office's business day.

``Floor.execute(command, now)`` decides whether a command is legal, returns
the events it causes and applies them; ``Floor.apply(event)`` applies a stored
event (used to rebuild the floor after a restart). Deciding never mutates, so a
:class:`DomainError` leaves the floor as it was. No I/O, no clock: ``now`` is an
argument (STYLE.md 1).
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from . import commands as c
from . import events as ev
from .calendar import OfficeCalendar, business_day
from .errors import DomainError
from .events import FLOOR_PREFIXES, Event
from .layout import CallPolicy, Layout
from .numbering import next_number
from .tickets import ACTIVE, Status, Step, StepStatus, Ticket

#: Weight of the newest observation in the occupancy moving average.
SERVICE_EWMA_ALPHA = 0.2


class CounterStatus(StrEnum):
    """Whether a counter works: ``closed`` (nobody signed in), ``open`` (calls)
    or ``paused`` (休止: staffed, on a break, not calling)."""

    CLOSED = "closed"
    OPEN = "open"
    PAUSED = "paused"


class NotIssuing(StrEnum):
    """Why a queue issues no ticket now (:meth:`Floor.not_issuing`). Each value
    is also the error code the API answers a refused ticket with
    (:mod:`server.errors`), and the screens name each in its own words:

    - ``office_closed``: outside the opening hours, or a procedure the current
      opening does not take (受付時間外; never in rehearsal mode, whose calendar
      is always open);
    - ``queue_closed``: staff stopped issuing for the queue (受付終了);
    - ``queue_not_ready``: no counter that serves the queue is staffed yet
      (準備中): a ticket nobody can call is not issued;
    - ``numbers_exhausted``: every number of the queue's range is held by an
      active ticket (seed 004 8(1): two active tickets never share a number);
    - ``queue_not_issuable``: the queue only receives tickets (the hand-over).
    """

    NOT_ISSUABLE = "queue_not_issuable"
    OFFICE_CLOSED = "office_closed"
    CLOSED_BY_STAFF = "queue_closed"
    NOT_READY = "queue_not_ready"
    NUMBERS_EXHAUSTED = "numbers_exhausted"


@dataclass(frozen=True, slots=True)
class Call:
    """One call or recall (for 'now serving' and the guidance display's list):
    the ticket, its display number and queue, the counter and when (aware)."""

    ticket: str
    display: str
    queue: str
    counter: str
    counter_number: int
    at: datetime
    recall: bool = False


@dataclass(slots=True)
class CounterState:
    """A counter's live state: its :class:`CounterStatus`; who staffs it;
    the ticket at it (called or serving); for N-then-1 interleaving how many
    tickets in a row it took from its first queue; and what the wait estimate
    learns from: a moving average of its occupancy per ticket (call to free
    again, seconds; ``None`` until observed today)."""

    status: CounterStatus = CounterStatus.CLOSED
    staff: str | None = None
    ticket: str | None = None
    streak: int = 0
    service_s: float | None = None


@dataclass(frozen=True, slots=True)
class ClockJump:
    """A step of the wall clock the processor saw (``clock.jumped``): when
    (``at``, the floor's moment), where the wall clock should have read
    (``wall_from``) and what it read (``wall_to``), aware datetimes."""

    at: datetime
    wall_from: datetime
    wall_to: datetime

    @property
    def step_s(self) -> float:
        """The step in seconds: positive forward, negative backward."""
        return (self.wall_to - self.wall_from).total_seconds()


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command did: the events, and the ticket it concerned (if any)."""

    events: list[Event]
    ticket: str | None = None


class Floor:
    """All tickets and counters of one business day.

    Shapes: ``tickets`` by id; ``waiting[queue]`` a sorted list of
    ``(order, ticket_id)``; ``counters`` by id. Times are aware datetimes; the
    business day is the Asia/Tokyo date.
    """

    def __init__(self, layout: Layout, calendar: OfficeCalendar, day: date) -> None:
        self.layout = layout
        self.calendar = calendar
        self.day = day
        self.tickets: dict[str, Ticket] = {}
        self.by_token: dict[str, str] = {}
        self.waiting: dict[str, list[tuple[tuple[float, int], str]]] = {q: [] for q in layout.queues}
        self.counters: dict[str, CounterState] = {cid: CounterState() for cid in layout.counters}
        self.last_number: dict[str, int] = {}
        self.active_numbers: dict[str, set[int]] = {q: set() for q in layout.queues}
        self.holders: dict[tuple[str, int], str] = {}
        self.idempotency: dict[tuple[str | None, str], str] = {}
        self.recent_calls: deque[Call] = deque(maxlen=20)
        self.closed_queues: set[str] = set()
        #: True once :class:`~server.core.commands.CloseDay` has run (``day.closed``).
        self.day_closed = False
        #: The wall clock's steps seen during the day (``clock.jumped``), oldest first.
        self.clock_jumps: list[ClockJump] = []
        #: Tickets of the previous business day left unserved at its close, by
        #: token, so their phone pages keep saying so (本日の受付は終了しました).
        self.previous: dict[str, Ticket] = {}
        self._serial = 0
        self._entries = 0

    # ------------------------------------------------------------------ public
    def execute(self, command: c.Command, now: datetime) -> Outcome:
        """Decide ``command`` at ``now`` and apply its events.

        Returns the :class:`Outcome`. Raises :class:`DomainError` (and changes
        nothing) when the command is illegal now: ``wrong_business_day`` when
        ``now`` is on another day (:class:`~server.core.commands.CloseDay`: on an
        earlier one) or the day is closed.
        """
        day = business_day(now)
        if isinstance(command, c.CloseDay):
            if day < self.day:
                raise DomainError("wrong_business_day", "a business day cannot close before it begins")
        elif day != self.day:
            raise DomainError("wrong_business_day", "the floor belongs to another business day")
        elif self.day_closed:
            raise DomainError("wrong_business_day", "this business day is closed")
        outcome = self._decide(command, now)
        for event in outcome.events:
            self.apply(event)
        return outcome

    def apply(self, event: Event) -> None:
        """Apply one event (from :meth:`execute` or from the stored log).
        Events of other kinds (``printer.*``, ``print.*``) leave the floor as it is."""
        if not event.type.startswith(FLOOR_PREFIXES):
            return
        handler = getattr(self, "_on_" + event.type.replace(".", "_"))
        handler(event, event.data)

    def ticket_by_token(self, token: str) -> Ticket | None:
        """The ticket whose public token is ``token``, if it is today's, or one
        of the previous day left unserved at its close (:attr:`previous`)."""
        tid = self.by_token.get(token)
        return self.tickets.get(tid) if tid else self.previous.get(token)

    def staffed_by(self, counter_id: str, staff_id: str | None) -> bool:
        """Whether counter ``counter_id`` is open (or paused) today and staffed by
        ``staff_id``: the rule a clerk's counter binding holds by (issue 13, point 7)."""
        state = self.counters.get(counter_id)
        return state is not None and state.status is not CounterStatus.CLOSED and state.staff == staff_id

    def next_day(self, day: date) -> Floor:
        """A fresh floor for ``day`` (after this one), remembering this day's
        unserved tickets for their phone pages. Raises :class:`DomainError`
        ``wrong_business_day`` unless ``day`` is later: business days only move
        forward (issue 13)."""
        if day <= self.day:
            raise DomainError("wrong_business_day", f"business day {day} is not after {self.day}")
        floor = Floor(self.layout, self.calendar, day)
        floor.previous = {t.token: t for t in self.tickets.values() if t.status is Status.UNSERVED}
        return floor

    def position(self, ticket: Ticket) -> int:
        """People ahead (待ち人数) of a waiting ticket in its queue; 0 otherwise."""
        if ticket.status is not Status.WAITING:
            return 0
        return bisect.bisect_left(self.waiting[ticket.queue], (ticket.order, ticket.id))

    def serving_counters(self, queue: str) -> list[str]:
        """Counters open now (not paused, not closed) that serve ``queue``."""
        return [cid for cid in self.layout.counters_by_queue[queue] if self.counters[cid].status is CounterStatus.OPEN]

    def not_issuing(self, queue: str, now: datetime) -> NotIssuing | None:
        """Why ``queue`` may not issue a ticket at ``now``, or ``None`` when it may.

        The one decision behind both the kiosk's buttons (the views' ``issuing``)
        and :class:`~server.core.commands.IssueTicket`. Checked in this order:
        not issuable, outside the opening hours (the calendar, incl. the queues an
        opening is limited to), closed by staff, no counter serving it staffed
        (open or paused), every number held. Raises :class:`DomainError`
        ``unknown_queue`` for a queue not in the layout.
        """
        self._queue(queue)
        if not self.layout.queues[queue].issuable:
            return NotIssuing.NOT_ISSUABLE
        hours = self.calendar.opening_at(now)
        if hours is None or (hours.queues is not None and queue not in hours.queues):
            return NotIssuing.OFFICE_CLOSED
        if queue in self.closed_queues:
            return NotIssuing.CLOSED_BY_STAFF
        if all(self.counters[cid].status is CounterStatus.CLOSED for cid in self.layout.counters_by_queue[queue]):
            return NotIssuing.NOT_READY
        if self._free_number(queue, now) is None:
            return NotIssuing.NUMBERS_EXHAUSTED
        return None

    def _free_number(self, queue: str, now: datetime) -> int | None:
        first, final = self.layout.queues[queue].number_range
        try:
            return next_number(self.last_number.get(queue), first, final, self._held_numbers(queue, now))
        except DomainError:
            return None

    # ---------------------------------------------------------------- deciding
    def _decide(self, cmd: c.Command, now: datetime) -> Outcome:
        method = getattr(self, "_decide_" + type(cmd).__name__)
        result: Outcome = method(cmd, now)
        return result

    def _event(self, type_: str, now: datetime, **data: Any) -> Event:
        return Event(type_, now, data)

    def _queue(self, queue_id: str) -> None:
        if queue_id not in self.layout.queues:
            raise DomainError("unknown_queue", f"no queue {queue_id!r}")

    def _counter(self, counter_id: str) -> CounterState:
        if counter_id not in self.counters:
            raise DomainError("unknown_counter", f"no counter {counter_id!r}")
        return self.counters[counter_id]

    def _ticket(self, ticket_id: str) -> Ticket:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            raise DomainError("unknown_ticket", f"no ticket {ticket_id!r} today")
        return ticket

    def _open_counter(self, counter_id: str) -> CounterState:
        state = self._counter(counter_id)
        if state.status is not CounterStatus.OPEN:
            raise DomainError("counter_not_open", f"counter {counter_id} is {state.status.value}")
        return state

    def _at_counter(self, counter_id: str, ticket_id: str | None, *allowed: Status) -> Ticket:
        state = self._counter(counter_id)
        if state.ticket is None:
            raise DomainError("counter_idle", f"counter {counter_id} has no ticket")
        if ticket_id is not None and ticket_id != state.ticket:
            raise DomainError("ticket_not_at_counter", f"ticket {ticket_id} is not at counter {counter_id}")
        ticket = self.tickets[state.ticket]
        if ticket.status not in allowed:
            raise DomainError("invalid_transition", f"ticket {ticket.display} is {ticket.status.value}")
        return ticket

    def _ticket_fields(self, ticket: Ticket) -> dict[str, Any]:
        return {"ticket": ticket.id, "display": ticket.display, "queue": ticket.queue}

    def _decide_IssueTicket(self, cmd: c.IssueTicket, now: datetime) -> Outcome:
        if cmd.idempotency_key is not None:
            existing = self.idempotency.get((cmd.device, cmd.idempotency_key))
            if existing is not None:
                return Outcome([], existing)
        self._queue(cmd.queue)
        queue = self.layout.queues[cmd.queue]
        for extra in cmd.procedures:
            self._queue(extra)
        refusal = self.not_issuing(cmd.queue, now)
        if refusal is not None:
            raise DomainError(refusal.value, _REFUSALS[refusal].format(queue=queue.name.en))
        if cmd.token in self.by_token:
            raise DomainError("duplicate_token", "token already in use")
        first, final = queue.number_range
        number = next_number(self.last_number.get(cmd.queue), first, final, self._held_numbers(cmd.queue, now))
        ticket_id = f"{self.day:%Y%m%d}-{self._serial + 1:05d}"
        event = self._event(
            ev.TICKET_ISSUED, now, ticket=ticket_id, token=cmd.token, number=number,
            display=queue.display_number(number), queue=cmd.queue, procedures=list(cmd.procedures),
            priority=cmd.priority, device=cmd.device, idempotency_key=cmd.idempotency_key,
        )
        return Outcome([event], ticket_id)

    def _reinstatable(self, ticket: Ticket, now: datetime) -> bool:
        return ticket.left_at is not None and (now - ticket.left_at).total_seconds() <= self.layout.reinstate_window_s

    def _held_numbers(self, series: str, now: datetime) -> set[int]:
        """Numbers of ``series`` still held: active tickets, except no-shows
        whose reinstatement window has passed."""
        held = set()
        for number in self.active_numbers[series]:
            ticket = self.tickets[self.holders[(series, number)]]
            if ticket.status is not Status.NO_SHOW or self._reinstatable(ticket, now):
                held.add(number)
        return held

    def _choose(self, counter_id: str) -> str | None:
        counter = self.layout.counters[counter_id]
        heads = [(q, self.waiting[q][0]) for q in counter.queues if self.waiting[q]]
        if not heads:
            return None
        policy = self.layout.policy
        if policy is CallPolicy.STRICT:
            return heads[0][1][1]
        if policy is CallPolicy.INTERLEAVE:
            primary = counter.queues[0]
            others = [h for q, h in heads if q != primary]
            primary_head = self.waiting[primary][0] if self.waiting[primary] else None
            if primary_head is not None and (not others or self.counters[counter_id].streak < self.layout.interleave_n):
                return primary_head[1]
            return min(others)[1]
        return min(h for _, h in heads)[1]

    def _decide_CallNext(self, cmd: c.CallNext, now: datetime) -> Outcome:
        state = self._open_counter(cmd.counter)
        if state.ticket is not None:
            raise DomainError("counter_busy", f"counter {cmd.counter} still has a ticket; finish it first")
        chosen = self._choose(cmd.counter)
        if chosen is None:
            raise DomainError("no_waiting", "no ticket is waiting for this counter")
        return self._call(self.tickets[chosen], cmd.counter, cmd.staff, now)

    def _call(self, ticket: Ticket, counter: str, staff: str | None, now: datetime) -> Outcome:
        waited = (now - ticket.ready_at).total_seconds()
        event = self._event(
            ev.TICKET_CALLED, now, **self._ticket_fields(ticket), counter=counter,
            counter_number=self.layout.counters[counter].number, staff=staff, waited_s=round(waited, 3),
        )
        return Outcome([event], ticket.id)

    def _decide_CallTicket(self, cmd: c.CallTicket, now: datetime) -> Outcome:
        state = self._open_counter(cmd.counter)
        if state.ticket is not None:
            raise DomainError("counter_busy", f"counter {cmd.counter} still has a ticket; finish it first")
        ticket = self._ticket(cmd.ticket)
        if ticket.status not in (Status.WAITING, Status.HELD):
            raise DomainError("invalid_transition", f"ticket {ticket.display} is {ticket.status.value}")
        if ticket.queue not in self.layout.counters[cmd.counter].queues:
            raise DomainError("queue_not_served", f"counter {cmd.counter} does not serve {ticket.queue}")
        return self._call(ticket, cmd.counter, cmd.staff, now)

    def _decide_Recall(self, cmd: c.Recall, now: datetime) -> Outcome:
        ticket = self._at_counter(cmd.counter, cmd.ticket, Status.CALLED)
        event = self._event(
            ev.TICKET_RECALLED, now, **self._ticket_fields(ticket), counter=cmd.counter,
            counter_number=self.layout.counters[cmd.counter].number, staff=cmd.staff, recalls=ticket.recalls + 1,
        )
        return Outcome([event], ticket.id)

    def _decide_StartService(self, cmd: c.StartService, now: datetime) -> Outcome:
        ticket = self._at_counter(cmd.counter, cmd.ticket, Status.CALLED)
        event = self._event(ev.TICKET_STARTED, now, **self._ticket_fields(ticket), counter=cmd.counter, staff=cmd.staff)
        return Outcome([event], ticket.id)

    def _decide_Finish(self, cmd: c.Finish, now: datetime) -> Outcome:
        ticket = self._at_counter(cmd.counter, cmd.ticket, Status.CALLED, Status.SERVING)
        events = []
        if ticket.status is Status.CALLED:
            events.append(
                self._event(ev.TICKET_STARTED, now, **self._ticket_fields(ticket), counter=cmd.counter, staff=cmd.staff)
            )
        pending = ticket.pending_queues()
        handover = self.layout.queues[ticket.queue].handover_queue if cmd.handover else None
        next_queue = pending[0] if pending else handover
        events.append(self._event(
            ev.TICKET_FINISHED, now, **self._ticket_fields(ticket), counter=cmd.counter, staff=cmd.staff,
            next_queue=next_queue, handover=bool(next_queue and not pending),
        ))
        return Outcome(events, ticket.id)

    def _decide_NoShow(self, cmd: c.NoShow, now: datetime) -> Outcome:
        ticket = self._at_counter(cmd.counter, cmd.ticket, Status.CALLED)
        event = self._event(ev.TICKET_NO_SHOW, now, **self._ticket_fields(ticket), counter=cmd.counter, staff=cmd.staff)
        return Outcome([event], ticket.id)

    def _decide_Reinstate(self, cmd: c.Reinstate, now: datetime) -> Outcome:
        ticket = self._ticket(cmd.ticket)
        if ticket.status is not Status.NO_SHOW:
            raise DomainError("invalid_transition", f"ticket {ticket.display} is {ticket.status.value}, not no_show")
        if not self._reinstatable(ticket, now) or self.holders.get((ticket.series, ticket.number)) != ticket.id:
            raise DomainError(
                "reinstate_expired", f"ticket {ticket.display} was a no-show too long ago; issue a new ticket"
            )
        event = self._event(ev.TICKET_REINSTATED, now, **self._ticket_fields(ticket), staff=cmd.staff)
        return Outcome([event], ticket.id)

    def _decide_Transfer(self, cmd: c.Transfer, now: datetime) -> Outcome:
        ticket = self._ticket(cmd.ticket)
        self._queue(cmd.to_queue)
        if ticket.status not in (Status.WAITING, Status.CALLED, Status.SERVING, Status.HELD):
            raise DomainError("invalid_transition", f"ticket {ticket.display} is {ticket.status.value}")
        if cmd.to_queue == ticket.queue and ticket.status is Status.WAITING:
            raise DomainError("invalid_transition", f"ticket {ticket.display} already waits in {cmd.to_queue}")
        event = self._event(
            ev.TICKET_TRANSFERRED, now, **self._ticket_fields(ticket), to_queue=cmd.to_queue,
            counter=ticket.counter, staff=cmd.staff, front=cmd.front,
        )
        return Outcome([event], ticket.id)

    def _decide_TransferCurrent(self, cmd: c.TransferCurrent, now: datetime) -> Outcome:
        ticket = self._at_counter(cmd.counter, None, Status.CALLED, Status.SERVING)
        return self._decide_Transfer(c.Transfer(ticket.id, cmd.to_queue, staff=cmd.staff, front=cmd.front), now)

    def _decide_Hold(self, cmd: c.Hold, now: datetime) -> Outcome:
        ticket = self._at_counter(cmd.counter, cmd.ticket, Status.CALLED, Status.SERVING)
        event = self._event(ev.TICKET_HELD, now, **self._ticket_fields(ticket), counter=cmd.counter, staff=cmd.staff)
        return Outcome([event], ticket.id)

    def _decide_Cancel(self, cmd: c.Cancel, now: datetime) -> Outcome:
        ticket = self._ticket(cmd.ticket)
        if ticket.status not in ACTIVE:
            raise DomainError("invalid_transition", f"ticket {ticket.display} is {ticket.status.value}")
        event = self._event(
            ev.TICKET_CANCELLED, now, **self._ticket_fields(ticket), counter=ticket.counter,
            staff=cmd.staff, reason=cmd.reason,
        )
        return Outcome([event], ticket.id)

    def _decide_StopIssuing(self, cmd: c.StopIssuing, now: datetime) -> Outcome:
        self._queue(cmd.queue)
        if not self.layout.queues[cmd.queue].issuable:
            raise DomainError("queue_not_issuable", f"tickets are not issued for {cmd.queue}")
        if cmd.queue in self.closed_queues:
            return Outcome([])
        return Outcome([self._event(ev.QUEUE_CLOSED, now, queue=cmd.queue, staff=cmd.staff)])

    def _decide_ResumeIssuing(self, cmd: c.ResumeIssuing, now: datetime) -> Outcome:
        self._queue(cmd.queue)
        if cmd.queue not in self.closed_queues:
            return Outcome([])
        return Outcome([self._event(ev.QUEUE_REOPENED, now, queue=cmd.queue, staff=cmd.staff)])

    def _decide_OpenCounter(self, cmd: c.OpenCounter, now: datetime) -> Outcome:
        state = self._counter(cmd.counter)
        if state.status is not CounterStatus.CLOSED and state.staff not in (None, cmd.staff):
            raise DomainError("counter_in_use", f"counter {cmd.counter} is staffed by someone else")
        if state.status is CounterStatus.OPEN and state.staff == cmd.staff:
            return Outcome([])
        return Outcome([self._event(ev.COUNTER_OPENED, now, counter=cmd.counter, staff=cmd.staff)])

    def _decide_CloseCounter(self, cmd: c.CloseCounter, now: datetime) -> Outcome:
        state = self._counter(cmd.counter)
        if state.status is CounterStatus.CLOSED:
            raise DomainError("counter_not_open", f"counter {cmd.counter} is closed")
        if state.ticket is not None:
            raise DomainError("counter_busy", f"counter {cmd.counter} still has a ticket; finish it first")
        return Outcome([self._event(ev.COUNTER_CLOSED, now, counter=cmd.counter, staff=cmd.staff)])

    def _decide_AtOwnCounter(self, cmd: c.AtOwnCounter, now: datetime) -> Outcome:
        self._counter(cmd.counter)
        if not self.staffed_by(cmd.counter, cmd.staff):
            raise DomainError("counter_not_yours",
                              f"counter {cmd.counter} is no longer yours (closed or staffed by someone else)")
        return self._decide(cmd.command, now)

    def _decide_PauseCounter(self, cmd: c.PauseCounter, now: datetime) -> Outcome:
        self._open_counter(cmd.counter)
        return Outcome([self._event(ev.COUNTER_PAUSED, now, counter=cmd.counter, staff=cmd.staff)])

    def _decide_ResumeCounter(self, cmd: c.ResumeCounter, now: datetime) -> Outcome:
        state = self._counter(cmd.counter)
        if state.status is not CounterStatus.PAUSED:
            raise DomainError("counter_not_paused", f"counter {cmd.counter} is {state.status.value}")
        return Outcome([self._event(ev.COUNTER_RESUMED, now, counter=cmd.counter, staff=cmd.staff)])

    def _decide_CloseDay(self, cmd: c.CloseDay, now: datetime) -> Outcome:
        if self.day_closed:
            return Outcome([])
        events = []
        for ticket in self.tickets.values():
            if ticket.status in (Status.WAITING, Status.CALLED, Status.SERVING, Status.HELD):
                events.append(self._event(
                    ev.TICKET_CLOSED_AT_DAY_END, now, **self._ticket_fields(ticket), counter=ticket.counter,
                    was=ticket.status.value, reason=cmd.reason,
                ))
        for cid, state in self.counters.items():
            if state.status is not CounterStatus.CLOSED:
                events.append(self._event(ev.COUNTER_CLOSED, now, counter=cid, staff=state.staff, reason=cmd.reason))
        unserved = sum(1 for e in events if e.type == ev.TICKET_CLOSED_AT_DAY_END)
        events.append(self._event(ev.DAY_CLOSED, now, day=self.day.isoformat(), unserved=unserved))
        return Outcome(events)

    # ---------------------------------------------------------------- applying
    def _enqueue(self, ticket: Ticket, queue: str, now: datetime, order_time: datetime | None = None) -> None:
        self._entries += 1
        base = (order_time or now).timestamp()
        if ticket.priority:
            base -= self.layout.priority_boost_s
        ticket.queue = queue
        ticket.status = Status.WAITING
        ticket.ready_at = now
        ticket.order = (base, self._entries)
        ticket.counter = None
        bisect.insort(self.waiting[queue], (ticket.order, ticket.id))

    def _dequeue(self, ticket: Ticket) -> None:
        line = self.waiting[ticket.queue]
        i = bisect.bisect_left(line, (ticket.order, ticket.id))
        if i < len(line) and line[i][1] == ticket.id:
            del line[i]

    def _enter_step(self, ticket: Ticket, queue: str, now: datetime) -> None:
        for step in ticket.steps:
            if step.status is StepStatus.PENDING and step.queue == queue:
                step.status, step.entered_at = StepStatus.CURRENT, now
                return
        ticket.steps.append(Step(queue, StepStatus.CURRENT, None, now))

    def _leave_step(self, ticket: Ticket, status: StepStatus, now: datetime) -> None:
        step = ticket.current_step()
        step.status, step.left_at = status, now

    def _free_counter(self, ticket: Ticket, now: datetime) -> None:
        if ticket.counter is None:
            return
        state = self.counters[ticket.counter]
        if state.ticket == ticket.id:
            state.ticket = None
        if ticket.called_at is not None:
            seconds = max((now - ticket.called_at).total_seconds(), 0.0)
            if state.service_s is None:
                state.service_s = seconds
            else:
                state.service_s += SERVICE_EWMA_ALPHA * (seconds - state.service_s)
        ticket.counter = None

    def _on_ticket_issued(self, e: Event, d: dict[str, Any]) -> None:
        self._serial += 1
        ticket = Ticket(
            id=d["ticket"], token=d["token"], number=d["number"], series=d["queue"], display=d["display"],
            queue=d["queue"], issued_at=e.at, ready_at=e.at, order=(0.0, 0), priority=d["priority"],
            device=d.get("device"),
        )
        ticket.steps = [Step(d["queue"], StepStatus.CURRENT, None, e.at)] + [Step(q) for q in d["procedures"]]
        self.tickets[ticket.id] = ticket
        self.by_token[ticket.token] = ticket.id
        self.last_number[ticket.series] = ticket.number
        self.active_numbers[ticket.series].add(ticket.number)
        # Taking over a number from an expired no-show ends that ticket's chance to come back.
        self.holders[(ticket.series, ticket.number)] = ticket.id
        if d.get("idempotency_key") is not None:
            self.idempotency[(d.get("device"), d["idempotency_key"])] = ticket.id
        self._enqueue(ticket, d["queue"], e.at)

    def _on_ticket_called(self, e: Event, d: dict[str, Any]) -> None:
        ticket = self.tickets[d["ticket"]]
        if ticket.status is Status.WAITING:
            self._dequeue(ticket)
        counter = self.layout.counters[d["counter"]]
        state = self.counters[counter.id]
        state.ticket = ticket.id
        state.streak = state.streak + 1 if ticket.queue == counter.queues[0] else 0
        ticket.status, ticket.counter, ticket.called_at, ticket.recalls = Status.CALLED, counter.id, e.at, 0
        ticket.current_step().counter = counter.id
        self.recent_calls.appendleft(Call(ticket.id, ticket.display, ticket.queue, counter.id, counter.number, e.at))

    def _on_ticket_recalled(self, e: Event, d: dict[str, Any]) -> None:
        ticket = self.tickets[d["ticket"]]
        ticket.recalls = d["recalls"]
        self.recent_calls.appendleft(
            Call(ticket.id, ticket.display, ticket.queue, d["counter"], d["counter_number"], e.at, recall=True)
        )

    def _on_ticket_started(self, e: Event, d: dict[str, Any]) -> None:
        ticket = self.tickets[d["ticket"]]
        ticket.status = Status.SERVING

    def _on_ticket_finished(self, e: Event, d: dict[str, Any]) -> None:
        ticket = self.tickets[d["ticket"]]
        self._free_counter(ticket, e.at)
        self._leave_step(ticket, StepStatus.DONE, e.at)
        if d["next_queue"]:
            self._enter_step(ticket, d["next_queue"], e.at)
            self._enqueue(ticket, d["next_queue"], e.at)
        else:
            self._end(ticket, Status.DONE)

    def _end(self, ticket: Ticket, status: Status) -> None:
        ticket.status, ticket.counter = status, None
        if self.holders.get((ticket.series, ticket.number)) == ticket.id:
            self.active_numbers[ticket.series].discard(ticket.number)

    def _on_ticket_no_show(self, e: Event, d: dict[str, Any]) -> None:
        ticket = self.tickets[d["ticket"]]
        self._free_counter(ticket, e.at)
        ticket.status, ticket.left_at = Status.NO_SHOW, e.at

    def _on_ticket_reinstated(self, e: Event, d: dict[str, Any]) -> None:
        ticket = self.tickets[d["ticket"]]
        self._enqueue(ticket, ticket.queue, e.at, order_time=ticket.issued_at)

    def _on_ticket_transferred(self, e: Event, d: dict[str, Any]) -> None:
        ticket = self.tickets[d["ticket"]]
        if ticket.status is Status.WAITING:
            self._dequeue(ticket)
        else:
            self._free_counter(ticket, e.at)
        self._leave_step(ticket, StepStatus.TRANSFERRED, e.at)
        self._enter_step(ticket, d["to_queue"], e.at)
        self._enqueue(ticket, d["to_queue"], e.at, order_time=ticket.issued_at if d["front"] else None)

    def _on_ticket_held(self, e: Event, d: dict[str, Any]) -> None:
        ticket = self.tickets[d["ticket"]]
        self._free_counter(ticket, e.at)
        ticket.status = Status.HELD

    def _on_ticket_cancelled(self, e: Event, d: dict[str, Any]) -> None:
        ticket = self.tickets[d["ticket"]]
        if ticket.status is Status.WAITING:
            self._dequeue(ticket)
        else:
            self._free_counter(ticket, e.at)
        self._leave_step(ticket, StepStatus.CANCELLED, e.at)
        for step in ticket.steps:
            if step.status is StepStatus.PENDING:
                step.status = StepStatus.CANCELLED
        self._end(ticket, Status.CANCELLED)

    def _on_ticket_closed_at_day_end(self, e: Event, d: dict[str, Any]) -> None:
        ticket = self.tickets[d["ticket"]]
        if ticket.status is Status.WAITING:
            self._dequeue(ticket)
        else:
            self._free_counter(ticket, e.at)
        self._leave_step(ticket, StepStatus.UNSERVED, e.at)
        for step in ticket.steps:
            if step.status is StepStatus.PENDING:
                step.status = StepStatus.UNSERVED
        ticket.left_at = e.at
        self._end(ticket, Status.UNSERVED)

    def _on_day_closed(self, e: Event, d: dict[str, Any]) -> None:
        self.day_closed = True

    def _on_clock_jumped(self, e: Event, d: dict[str, Any]) -> None:
        self.clock_jumps.append(
            ClockJump(e.at, datetime.fromisoformat(d["wall_from"]), datetime.fromisoformat(d["wall_to"]))
        )

    def _on_counter_opened(self, e: Event, d: dict[str, Any]) -> None:
        state = self.counters[d["counter"]]
        state.status, state.staff, state.streak = CounterStatus.OPEN, d["staff"], 0

    def _on_counter_closed(self, e: Event, d: dict[str, Any]) -> None:
        state = self.counters[d["counter"]]
        state.status, state.staff = CounterStatus.CLOSED, None

    def _on_counter_paused(self, e: Event, d: dict[str, Any]) -> None:
        self.counters[d["counter"]].status = CounterStatus.PAUSED

    def _on_counter_resumed(self, e: Event, d: dict[str, Any]) -> None:
        self.counters[d["counter"]].status = CounterStatus.OPEN

    def _on_queue_closed(self, e: Event, d: dict[str, Any]) -> None:
        self.closed_queues.add(d["queue"])

    def _on_queue_reopened(self, e: Event, d: dict[str, Any]) -> None:
        self.closed_queues.discard(d["queue"])


#: The message of each refused ticket (for people; the code is the reason's value).
_REFUSALS = {
    NotIssuing.NOT_ISSUABLE: "tickets are not issued for {queue}",
    NotIssuing.OFFICE_CLOSED: "{queue} is outside its opening hours now",
    NotIssuing.CLOSED_BY_STAFF: "staff have stopped issuing tickets for {queue}",
    NotIssuing.NOT_READY: "no counter for {queue} is open yet",
    NotIssuing.NUMBERS_EXHAUSTED: "every number of {queue} is in use",
}
