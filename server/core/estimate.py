"""Wait estimates (待ち時間の見込み) for every waiting ticket.

Method: a queue-length (QL) predictor with an observed departure rate.

For a ticket with ``k`` people ahead in queue ``q``, it needs ``m = k + 1 - i``
more calls from ``q`` before its own, where ``i`` is the number of counters that
serve ``q`` and are open and idle now (they can call at once). Calls from ``q``
come at rate ``r``; the wait is then the time of ``m`` such calls, with mean
``m / r`` and, taking calls as a Poisson stream (an Erlang(m, r) wait),
standard deviation ``sqrt(m) / r``; the range given is mean ± 1.28 sd (an
80 % band, clipped at 0).

The rate blends two estimates:

- capacity ``r_cap = s / S``: ``s`` counters open now that serve ``q``, each
  counted as a share ``1 / n`` when it serves ``n`` queues that have people
  waiting; ``S`` is a moving average of recent counter occupancy per ticket of
  ``q`` (call to free again, so no-shows cost what they really cost), or the
  configured mean service time until one is observed. This is the QL predictor
  ``(k + 1) / (s·μ)`` of Ibrahim & Whitt, "Real-time delay estimation in
  overloaded multiserver queues with abandonments", Management Science 55(10),
  2009, with the service rate learned from the day;
- history ``r_obs = (n - 1) / (now - t_1)`` over the last ``n`` (≤ 20) calls from
  ``q``: the delay-history idea of Ibrahim & Whitt, "Real-time delay estimation
  based on delay history", MSOM 11(3), 2009, expressed as a rate so that it
  accounts for counters shared between queues and for abandonments.

``r = w·r_obs + (1 - w)·r_cap`` with ``w = 0.5·min(1, (n - 1) / 10)`` (no
history weight before two calls, nor while no counter serving ``q`` is open). The naive
estimate it is compared with (``k × configured mean ÷ open counters``) is
:func:`naive_wait`. All times are seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from .floor import Floor
from .tickets import Status

#: Number of call intervals at which the observed rate gets its full weight.
FULL_WEIGHT_CALLS = 10
#: The full weight of the observed call rate against the capacity rate.
HISTORY_WEIGHT = 0.5
Z80 = 1.2816


@dataclass(frozen=True, slots=True)
class Estimate:
    """People ahead, and the expected wait in seconds with an 80 % range."""

    ahead: int
    wait_s: float
    low_s: float
    high_s: float


@dataclass(frozen=True, slots=True)
class QueueOutlook:
    """One queue now: people waiting, counters open and idle, the call rate
    (calls per second, 0 when unknown) and the estimate for a new arrival."""

    queue: str
    waiting: int
    open_counters: int
    idle_counters: int
    rate_per_s: float
    next_arrival: Estimate


def call_rate(floor: Floor, queue: str, now: datetime) -> float:
    """Expected calls per second from ``queue`` (the blend described above)."""
    layout = floor.layout
    hist = floor.history[queue]
    service_s = hist.service_s if hist.service_s is not None else layout.queues[queue].mean_service_s
    share = 0.0
    for cid in floor.serving_counters(queue):
        busy = sum(1 for q in layout.counters[cid].queues if floor.waiting[q]) or 1
        share += 1.0 / busy
    r_cap = share / max(service_s, 1e-3)
    n = len(hist.calls)
    if r_cap == 0.0 or n < 2:
        # No counter serves the queue now (no call can come until one opens),
        # or no interval between calls observed yet.
        return r_cap
    r_obs = (n - 1) / max(now.timestamp() - hist.calls[0], 1e-3)
    w = HISTORY_WEIGHT * min(1.0, (n - 1) / FULL_WEIGHT_CALLS)
    return w * r_obs + (1 - w) * r_cap


def wait_for(ahead: int, idle: int, rate: float) -> Estimate:
    """The estimate for a ticket with ``ahead`` people in front, ``idle`` idle
    counters and ``rate`` calls per second. An unknown rate (0) gives an
    infinite wait (``math.inf``)."""
    m = max(0, ahead + 1 - idle)
    if m == 0:
        return Estimate(ahead, 0.0, 0.0, 0.0)
    if rate <= 0.0:
        return Estimate(ahead, math.inf, math.inf, math.inf)
    mean = m / rate
    sd = math.sqrt(m) / rate
    return Estimate(ahead, mean, max(0.0, mean - Z80 * sd), mean + Z80 * sd)


def outlook(floor: Floor, queue: str, now: datetime) -> QueueOutlook:
    """The :class:`QueueOutlook` of ``queue`` at ``now``."""
    open_ids = floor.serving_counters(queue)
    idle = sum(1 for cid in open_ids if floor.counters[cid].ticket is None)
    rate = call_rate(floor, queue, now)
    waiting = len(floor.waiting[queue])
    return QueueOutlook(queue, waiting, len(open_ids), idle, rate, wait_for(waiting, idle, rate))


def estimates(floor: Floor, queue: str, now: datetime) -> dict[str, Estimate]:
    """Every waiting ticket of ``queue``: ticket id → :class:`Estimate`."""
    view = outlook(floor, queue, now)
    return {
        tid: wait_for(i, view.idle_counters, view.rate_per_s)
        for i, (_, tid) in enumerate(floor.waiting[queue])
    }


def ticket_estimate(floor: Floor, ticket_id: str, now: datetime) -> Estimate | None:
    """The estimate of one waiting ticket, or ``None`` when it is not waiting."""
    ticket = floor.tickets[ticket_id]
    if ticket.status is not Status.WAITING:
        return None
    view = outlook(floor, ticket.queue, now)
    return wait_for(floor.position(ticket), view.idle_counters, view.rate_per_s)


def naive_wait(ahead: int, mean_service_s: float, open_counters: int) -> float:
    """The naive estimate: people ahead × configured mean service ÷ open counters
    (seconds; ``math.inf`` with no counter open)."""
    if open_counters <= 0:
        return math.inf if ahead else 0.0
    return ahead * mean_service_s / open_counters
