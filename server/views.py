"""What screens see: snapshots of the floor as plain dicts (JSON-ready).

``public`` views carry no personal data and no tokens (seed 004 8(5): the web
status is published on the internet); ``staff`` views add ticket ids, staff
ids and the waiting lists. Waits are seconds, ``None`` when unknown (no counter
open), with the whole minutes every screen and the paper ticket show beside
them (``wait_min``, :func:`wait_minutes`). Every moment is ISO 8601 in
Asia/Tokyo with its offset (``+09:00``), formatted here and only here (:func:`iso`);
the core keeps aware datetimes.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from .core.calendar import TOKYO
from .core.estimate import Estimate, estimates, outlook, ticket_estimate
from .core.floor import Call, ClockJump, Floor
from .core.layout import Text
from .core.tickets import Status, Ticket


def seconds(value: float) -> float | None:
    """Round to 0.1 s; infinity (unknown) becomes ``None``."""
    return None if math.isinf(value) else round(value, 1)


def text(t: Text) -> dict[str, str]:
    """A label as ``{"ja": …, "en": …}`` plus ``easy``/``zh``/``ko`` when set."""
    return t.as_dict()


def wait_minutes(wait_s: float | None) -> int | None:
    """An expected wait in whole minutes, rounded up; ``None`` when unknown.

    The one rounding rule of every screen and the paper ticket: a wait is
    never shown shorter than it is expected to be (people are less annoyed by
    a wait that ends early than by one that overruns what they were told:
    D. Maister, "The Psychology of Waiting Lines", 1985). 0 (まもなく) only when
    the estimate is no wait at all. The screens kept this rule since issue 3
    (``live.js`` ``minutes()``); the ticket rounded to nearest until issue 12.
    """
    if wait_s is None or math.isinf(wait_s):
        return None
    return max(0, math.ceil(wait_s / 60 - 1e-9))


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 in Asia/Tokyo, or ``None``."""
    return moment.astimezone(TOKYO).isoformat() if moment else None


def estimate_fields(e: Estimate) -> dict[str, Any]:
    """``ahead``, ``wait_s``, ``low_s``, ``high_s`` of an estimate, and ``wait_min``
    (:func:`wait_minutes`)."""
    return {
        "ahead": e.ahead, "wait_s": seconds(e.wait_s), "low_s": seconds(e.low_s), "high_s": seconds(e.high_s),
        "wait_min": wait_minutes(seconds(e.wait_s)),  # from the wait_s given, so the two agree
    }


def now_serving(floor: Floor, queue: str) -> str | None:
    """The number most recently called from ``queue`` (for 'now serving')."""
    for call in floor.recent_calls:
        if call.queue == queue:
            return call.display
    return None


def call_view(call: Call, *, staff: bool = False) -> dict[str, Any]:
    """One recent call: ``display``, ``queue``, ``counter``, ``counter_number``,
    ``at`` (ISO 8601, Asia/Tokyo), ``recall`` when it was one; ``ticket`` (its id) for staff."""
    out: dict[str, Any] = {
        "display": call.display, "queue": call.queue, "counter": call.counter,
        "counter_number": call.counter_number, "at": iso(call.at),
    }
    if call.recall:
        out["recall"] = True
    if staff:
        out["ticket"] = call.ticket
    return out


def queue_status(floor: Floor, queue: str, now: datetime) -> dict[str, Any]:
    """People waiting, counters, expected wait for a new arrival, now serving, and
    whether the queue issues tickets now: ``issuing`` and, when it does not,
    ``closed_reason`` (a :class:`~server.core.floor.NotIssuing` value, the code
    the API refuses a ticket with; ``None`` while issuing). The core decides
    (:meth:`~server.core.floor.Floor.not_issuing`)."""
    view = outlook(floor, queue, now)
    q = floor.layout.queues[queue]
    refusal = floor.not_issuing(queue, now)
    waiting = floor.waiting[queue]
    oldest = min((floor.tickets[tid].ready_at for _, tid in waiting), default=None)
    out = {
        "queue": queue, "waiting": view.waiting, "open_counters": view.open_counters,
        "idle_counters": view.idle_counters, "issuing": refusal is None,
        "closed_reason": None if refusal is None else refusal.value, "now_serving": now_serving(floor, queue),
        "oldest_since": iso(oldest),
        **{k: v for k, v in estimate_fields(view.next_arrival).items() if k != "ahead"},
    }
    if floor.layout.flows[q.flow].handover:
        out["ready"] = [floor.tickets[tid].display for _, tid in waiting]
    return out


def counter_status(floor: Floor, counter_id: str) -> dict[str, Any]:
    """A counter's public state: ``status`` (open/paused/closed), the ticket at it
    (display number, status, queue) or ``None``."""
    counter = floor.layout.counters[counter_id]
    state = floor.counters[counter_id]
    ticket = floor.tickets.get(state.ticket) if state.ticket else None
    return {
        "id": counter_id, "number": counter.number, "status": state.status.value,
        "ticket": ticket.display if ticket else None, "ticket_status": ticket.status.value if ticket else None,
        "ticket_queue": ticket.queue if ticket else None,
    }


def office_snapshot(floor: Floor, now: datetime, *, staff: bool = False) -> dict[str, Any]:
    """The whole floor: layout, queue status, counters, recent calls, hand-over list."""
    layout = floor.layout
    hours = floor.calendar.opening_at(now)
    queues = []
    for q in layout.queues.values():
        entry = {
            "id": q.id, "name": text(q.name), "flow": q.flow, "section": q.section, "colour": q.colour,
            "symbol": q.symbol, "issuable": q.issuable, "mean_service_s": q.mean_service_s,
            **queue_status(floor, q.id, now),
        }
        if staff:
            entry["tickets"] = waiting_list(floor, q.id, now)
        queues.append(entry)
    counters = []
    for cid, counter in layout.counters.items():
        entry = {
            **counter_status(floor, cid), "section": counter.section, "label": text(counter.label()),
            "queues": list(counter.queues),
        }
        if staff:
            state = floor.counters[cid]
            entry["staff"] = state.staff
            entry["ticket_id"] = state.ticket
        counters.append(entry)
    handover = [number for q in queues for number in q.get("ready", ())]
    snapshot: dict[str, Any] = {
        "day": floor.day.isoformat(), "now": iso(now), "open": hours is not None, "day_closed": floor.day_closed,
        "opening": None if hours is None else {
            "opens": hours.opens.isoformat("minutes"), "closes": hours.closes.isoformat("minutes"), "note": hours.note,
        },
        "office": {"id": layout.office_id, "name": text(layout.office_name)},
        "flows": [
            {"id": f.id, "name": text(f.name), "colour": f.colour, "symbol": f.symbol, "handover": f.handover}
            for f in layout.flows.values()
        ],
        "sections": [{"id": s.id, "name": text(s.name)} for s in layout.sections.values()],
        "queues": queues, "counters": counters,
        "recent_calls": [call_view(call, staff=staff) for call in floor.recent_calls],
        "handover_ready": handover,
        "screens": {
            "kiosk_return_s": layout.screens.kiosk_return_s, "call_highlight_s": layout.screens.call_highlight_s,
            "recent_calls": layout.screens.recent_calls, "staff_rotate_s": layout.screens.staff_rotate_s,
            "wait_alert_s": layout.screens.wait_alert_s,
        },
        "kiosk_menus": [
            {"id": m.id, "name": text(m.name), "queues": list(m.queues)} for m in layout.kiosk_menus.values()
        ],
    }
    if staff:
        tickets = floor.tickets.values()
        snapshot["held"] = [ticket_detail(t, floor, now) for t in tickets if t.status is Status.HELD]
        snapshot["no_show"] = [ticket_detail(t, floor, now) for t in tickets if t.status is Status.NO_SHOW]
        snapshot["clock_jumps"] = [clock_jump_view(j) for j in floor.clock_jumps]
    return snapshot


def clock_jump_view(jump: ClockJump) -> dict[str, Any]:
    """A step of the wall clock seen today (staff only, issue 13): ``at`` (the
    floor's moment), ``wall_from`` (where the clock should have read),
    ``wall_to`` (what it read), ISO 8601 in Asia/Tokyo, and ``step_s``
    (seconds, positive forward)."""
    return {"at": iso(jump.at), "wall_from": iso(jump.wall_from), "wall_to": iso(jump.wall_to),
            "step_s": round(jump.step_s, 1)}


def waiting_list(floor: Floor, queue: str, now: datetime) -> list[dict[str, Any]]:
    """The waiting tickets of ``queue`` in call order, with their estimates (staff view)."""
    est = estimates(floor, queue, now)
    out = []
    for _, tid in floor.waiting[queue]:
        t = floor.tickets[tid]
        out.append({
            "id": t.id, "display": t.display, "priority": t.priority,
            "waited_s": round((now - t.ready_at).total_seconds(), 1), **estimate_fields(est[tid]),
        })
    return out


def ticket_detail(ticket: Ticket, floor: Floor, now: datetime) -> dict[str, Any]:
    """A ticket with its visit's progress across counters (staff view)."""
    return {
        "id": ticket.id, "display": ticket.display, "number": ticket.number, "queue": ticket.queue,
        "status": ticket.status.value, "priority": ticket.priority, "counter": ticket.counter,
        "issued_at": iso(ticket.issued_at), "ready_at": iso(ticket.ready_at), "recalls": ticket.recalls,
        "steps": [
            {
                "queue": s.queue, "status": s.status.value, "counter": s.counter, "entered_at": iso(s.entered_at),
                "left_at": iso(s.left_at),
            }
            for s in ticket.steps
        ],
        **ticket_public(ticket, floor, now),
    }


def ticket_public(ticket: Ticket, floor: Floor, now: datetime) -> dict[str, Any]:
    """The phone page's view of one ticket (no personal data, no token).

    ``state`` is ``waiting``, ``ready`` (waiting in a hand-over queue, 証明の交付:
    the certificate is being prepared or is ready, and the number is called
    again at the hand-over counters), ``called`` (go to ``counter_number``),
    ``serving``, ``held``, ``passed`` (called and missed: 職員にお声がけください),
    ``done``, ``cancelled`` or ``unserved`` (the business day closed before it
    was served: 本日の受付は終了しました; then ``now_serving`` is ``None``). ``place`` says where the ticket's queue is
    served: its section's name and the counter numbers that serve it
    (``{"section": {"ja": …, "en": …}, "counters": [24, 25]}``).
    """
    q = floor.layout.queues[ticket.queue]
    handover = floor.layout.flows[q.flow].handover
    state = {Status.NO_SHOW: "passed"}.get(ticket.status, ticket.status.value)
    if ticket.status is Status.WAITING and handover:
        state = "ready"
    section = floor.layout.sections.get(q.section)
    out: dict[str, Any] = {
        "display": ticket.display, "queue": ticket.queue, "queue_name": text(q.name), "state": state,
        "flow": q.flow, "handover": handover, "counter_number": None,
        "now_serving": None if ticket.status is Status.UNSERVED else now_serving(floor, ticket.queue),
        "place": {
            "section": text(section.name) if section else None,
            "counters": [floor.layout.counters[cid].number for cid in floor.layout.counters_by_queue[ticket.queue]],
        },
        "ahead": None, "wait_s": None, "low_s": None, "high_s": None, "wait_min": None,
    }
    if ticket.counter is not None:
        out["counter_number"] = floor.layout.counters[ticket.counter].number
    estimate = ticket_estimate(floor, ticket.id, now)
    if estimate is not None:
        out.update(estimate_fields(estimate))
    return out
