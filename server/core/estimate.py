"""Wait estimates (待ち時間の見込み) for every waiting ticket.

Method: the queue-length (QL) predictor of Ibrahim & Whitt ("Real-time delay
estimation in overloaded multiserver queues with abandonments", Management
Science 55(10), 2009; "Wait-time predictors for customer service systems with
time-varying demand and capacity", Operations Research 59(5), 2011): a
customer with ``n`` ahead in an ``s``-server queue with service rate ``μ``
waits about ``(n + 1) / (s·μ)``. Two refinements fit a city-hall floor:

- **Pooled counters.** The counters open now that serve queue ``q`` form its
  pool; they also serve other queues, oldest first. The people ahead that the
  pool must call first are the tickets of ``q`` ahead of ours plus, for every
  other queue ``q'`` the pool serves, its tickets with an earlier place,
  weighted by the pool's share of ``q'``'s open counters.
- **Rates learned from the day, time-varying capacity.** Each counter's rate
  is ``1 / S_c`` where ``S_c`` is a moving average of that counter's occupancy
  per ticket today (call to free again, so no-shows cost what they really
  cost; until observed, its colleagues' average today, else the configured
  mean service time of its queues). Only
  counters open now count, so the estimate follows staffing through the day.

With ``i`` idle counters in the pool the ticket needs ``m = n + 1 - i`` more
calls; calls come at ``r = Σ 1/S_c``; the wait is ``m / r``, and taking calls as
a Poisson stream (an Erlang(m, r) wait) the 80 % range is mean ± 1.28·√m / r,
clipped at 0. The naive estimate it is compared with (people ahead ×
configured mean ÷ open counters) is :func:`naive_wait`. Times are seconds.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import datetime

from .floor import Floor
from .tickets import Status

Z80 = 1.2816
_LAST = (math.inf, 0)


@dataclass(frozen=True, slots=True)
class Estimate:
    """People ahead in the ticket's own queue (待ち人数), and the expected wait
    in seconds with an 80 % range (``math.inf`` when no counter is open)."""

    ahead: int
    wait_s: float
    low_s: float
    high_s: float


@dataclass(frozen=True, slots=True)
class Pool:
    """The open counters serving a queue: how many, how many idle, their
    combined call rate (per second) and the weight of each queue they serve."""

    queue: str
    counters: tuple[str, ...]
    idle: int
    rate_per_s: float
    weights: dict[str, float]


@dataclass(frozen=True, slots=True)
class QueueOutlook:
    """One queue now: people waiting, counters open and idle, the pool's call
    rate and the estimate for a new arrival."""

    queue: str
    waiting: int
    open_counters: int
    idle_counters: int
    rate_per_s: float
    next_arrival: Estimate


def counter_service_s(floor: Floor, counter: str) -> float:
    """Seconds a counter is occupied per ticket: its own moving average today;
    before its first ticket, the average of today's counters that serve the
    same queues; before any, the mean configured service time of its queues."""
    state = floor.counters[counter]
    if state.service_s is not None:
        return max(state.service_s, 1e-3)
    queues = floor.layout.counters[counter].queues
    peers = [
        service_s for c, spec in floor.layout.counters.items()
        if (service_s := floor.counters[c].service_s) is not None and set(spec.queues) & set(queues)
    ]
    if peers:
        return max(sum(peers) / len(peers), 1e-3)
    return sum(floor.layout.queues[q].mean_service_s for q in queues) / len(queues)


def pool(floor: Floor, queue: str) -> Pool:
    """The :class:`Pool` of ``queue`` now."""
    members = floor.serving_counters(queue)
    idle = sum(1 for cid in members if floor.counters[cid].ticket is None)
    rate = sum(1.0 / counter_service_s(floor, cid) for cid in members)
    member_set = set(members)
    weights: dict[str, float] = {}
    for cid in members:
        for q in floor.layout.counters[cid].queues:
            if q not in weights:
                open_q = floor.serving_counters(q)
                weights[q] = sum(1 for c in open_q if c in member_set) / len(open_q)
    weights[queue] = 1.0
    return Pool(queue, tuple(members), idle, rate, weights)


def _ahead_in_pool(floor: Floor, p: Pool, order: tuple[float, int], own: int) -> float:
    total = float(own)
    for q, w in p.weights.items():
        if q != p.queue and floor.waiting[q]:
            total += w * bisect.bisect_left(floor.waiting[q], (order, ""))
    return total


def wait_for(ahead: float, idle: int, rate: float, shown_ahead: int | None = None) -> Estimate:
    """The estimate with ``ahead`` (pool-weighted) people in front, ``idle``
    idle counters and ``rate`` calls per second; ``shown_ahead`` is the people
    ahead reported to the visitor (default ``ahead``)."""
    shown = round(ahead) if shown_ahead is None else shown_ahead
    m = max(0.0, ahead + 1 - idle)
    if m == 0:
        return Estimate(shown, 0.0, 0.0, 0.0)
    if rate <= 0.0:
        return Estimate(shown, math.inf, math.inf, math.inf)
    mean = m / rate
    sd = math.sqrt(m) / rate
    return Estimate(shown, mean, max(0.0, mean - Z80 * sd), mean + Z80 * sd)


def outlook(floor: Floor, queue: str, now: datetime) -> QueueOutlook:
    """The :class:`QueueOutlook` of ``queue`` at ``now``."""
    p = pool(floor, queue)
    waiting = len(floor.waiting[queue])
    est = wait_for(_ahead_in_pool(floor, p, _LAST, waiting), p.idle, p.rate_per_s, waiting)
    return QueueOutlook(queue, waiting, len(p.counters), p.idle, p.rate_per_s, est)


def estimates(floor: Floor, queue: str, now: datetime) -> dict[str, Estimate]:
    """Every waiting ticket of ``queue``: ticket id → :class:`Estimate`."""
    p = pool(floor, queue)
    out = {}
    for i, (order, tid) in enumerate(floor.waiting[queue]):
        out[tid] = wait_for(_ahead_in_pool(floor, p, order, i), p.idle, p.rate_per_s, i)
    return out


def ticket_estimate(floor: Floor, ticket_id: str, now: datetime) -> Estimate | None:
    """The estimate of one waiting ticket, or ``None`` when it is not waiting
    (or not on this floor: a previous day's ticket)."""
    ticket = floor.tickets.get(ticket_id)
    if ticket is None or ticket.status is not Status.WAITING:
        return None
    p = pool(floor, ticket.queue)
    own = floor.position(ticket)
    return wait_for(_ahead_in_pool(floor, p, ticket.order, own), p.idle, p.rate_per_s, own)


def naive_wait(ahead: int, mean_service_s: float, open_counters: int) -> float:
    """The naive estimate: people ahead × configured mean service ÷ open counters
    (seconds; ``math.inf`` with people ahead and no counter open)."""
    if open_counters <= 0:
        return math.inf if ahead else 0.0
    return ahead * mean_service_s / open_counters
