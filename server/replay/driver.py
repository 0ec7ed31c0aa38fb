"""``madoguchi replay``: drive a running server through its public API as the
floor's kiosks, clerks and displays would, and print what happened.

Everything goes over HTTP and WebSocket: an admin account pairs a kiosk and
creates one clerk per staffed counter; visitors take tickets at the kiosk at
their arrival times; clerks sign in, call, start, finish, mark no-shows and
pause for breaks; display clients subscribe to ``office`` and time every call
from the clerk's command to its arrival on screen. Day time runs ``speed``
times faster than real time; every figure printed is in day seconds.

The last line is ``tickets=… served=… no_show=… mean_wait_s=… estimate_mae_s=…
naive_mae_s=… push_p99_ms=…``, where the estimate errors compare the wait each
ticket was promised at issue with the wait it had (issue to first call); the
naive estimate is people ahead × configured mean service ÷ open counters.
Tickets issued before the server has seen the day's first service end, or
with no counter open, are left out of both comparisons (their count is printed).

A visitor who finds the queue 準備中 (no counter serving it open yet: the server
refuses with ``queue_not_ready``) waits at the kiosk and takes the ticket when
the first counter of that queue opens, as on a real floor; the shifts stay as
the source has them. Such visitors are counted (``waited_for_opening=…``), and
their wait is measured from that ticket. Visitors of one queue take their
tickets in arrival order, and one arriving after a counter of the queue was
due to open waits for that clerk's sign-in (late only because of compressed
time) rather than counting as 準備中. A visitor whose queue no remaining shift
can open leaves without a ticket (``turned_away=…``).

Busy counters are skipped: a shift whose counter has another clerk signed in
(``counter_in_use``) is not worked, and a line says so; a later shift at the
same counter tries again. Tickets a counter not opened by the replay calls are
left to it (counted as ``taken_elsewhere``). On any exit (the end of the day,
an error, Ctrl-C or SIGTERM) every counter the replay opened is closed: a
ticket still at it is held (保留), then the clerk signs out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import signal
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from pydantic import ValidationError
from websockets.asyncio.client import connect

from ..core.estimate import naive_wait
from ..settings import ReplaySettings
from .plan import DayPlan, Shift, Visit

CLERK_PASSWORD = "paper lantern ferry 6240"


class ReplayError(Exception):
    """The replay cannot go on (server refused set-up, unexpected answer)."""


@dataclass
class Ticket:
    """A ticket this replay issued: its visit, estimate at issue and what happened."""

    visit: Visit
    id: str
    issued_real: float
    estimate_s: float | None
    naive_s: float | None
    ahead: int = 0
    actual_s: float | None = None
    first_call_real: float | None = None
    steps_done: int = 0
    resolved: bool = False
    #: The queue it waits in now (the next procedure's or the hand-over queue after a finish).
    queue_now: str = ""
    #: Called at one of the replay's counters and not yet finished, held or marked no-show there.
    at_counter: bool = False


@dataclass
class Results:
    """What the replay measured (day seconds, milliseconds for push)."""

    tickets: int = 0
    served: int = 0
    no_show: int = 0
    waits: list[float] = field(default_factory=list)
    est_err: list[float] = field(default_factory=list)
    naive_err: list[float] = field(default_factory=list)
    push_ms: list[float] = field(default_factory=list)
    calls: int = 0
    calls_seen: int = 0
    cold_start: int = 0
    #: Tickets of this replay called by a counter it did not open (left to that counter).
    taken_elsewhere: int = 0
    #: Counters skipped because another clerk was signed in there, in the order met.
    skipped: list[str] = field(default_factory=list)
    #: Counters this replay opened and closed again on the way out.
    closed: list[str] = field(default_factory=list)
    #: Visitors who found their queue 準備中 (``queue_not_ready``) and took the ticket when it opened.
    waited_for_opening: int = 0
    #: Visitors who found their queue 準備中 with no shift left that could open it: no ticket.
    turned_away: int = 0


class Replay:
    """One replay run (see the module doc)."""

    def __init__(self, url: str, plan: DayPlan, speed: float, admin: tuple[str, str], displays: int) -> None:
        self.url = url.rstrip("/")
        self.ws_url = self.url.replace("http", "ws", 1) + "/ws"
        self.plan = plan
        self.speed = speed
        self.admin = admin
        self.n_displays = displays
        self.results = Results()
        self.tickets: dict[str, Ticket] = {}
        self.queue_status: dict[str, dict[str, Any]] = {}
        self.mean_service: dict[str, float] = {}
        self.counter_queues: dict[str, list[str]] = {}
        self.sent_at: dict[str, float] = {}
        self.open_counters: set[str] = set()
        #: Counters this replay has signed in to and not yet signed out of, with the clerk's headers.
        self.opened: dict[str, dict[str, str]] = {}
        #: Every counter this replay has signed in to (its calls may reach the displays late).
        self.ours: set[str] = set()
        #: Visitors done at the kiosk (ticket taken or turned away).
        self.arrived = 0
        #: Per queue: the day second its first shift starts (by the plan), and set once a
        #: counter serving it has signed in (or will not: skipped, or its shifts are over).
        self.first_open: dict[str, float] = {}
        self.opening: dict[str, asyncio.Event] = {}
        #: Per queue: the kiosk's line, so visitors of a queue take tickets in arrival order.
        self.kiosk_lines: dict[str, asyncio.Lock] = {}
        #: Per counter: the replay's shifts there not yet over.
        self.shifts_left: dict[str, int] = {}
        #: Queues the kiosk has shown 準備中 since their last ticket, and how often each was refused.
        self.not_ready: set[str] = set()
        self.refusals: dict[str, int] = {}
        #: Renewed on every counter opening seen (and every shift's end): wakes visitors at 準備中.
        self.floor_changed = asyncio.Event()
        self.first_finish: float | None = None
        self.wake = asyncio.Event()
        self.day_start = 0.0
        self.real_start = 0.0

    # ---------------------------------------------------------------- time
    def real_at(self, day_s: float) -> float:
        """The perf_counter moment of day second ``day_s``."""
        return self.real_start + (day_s - self.day_start) / self.speed

    def day_now(self) -> float:
        """The day second now."""
        return self.day_start + (time.perf_counter() - self.real_start) * self.speed

    async def sleep_until(self, day_s: float) -> None:
        """Sleep until day second ``day_s``."""
        delay = self.real_at(day_s) - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)

    async def sleep_day(self, seconds: float) -> None:
        """Sleep ``seconds`` of day time."""
        await asyncio.sleep(seconds / self.speed)

    @property
    def poll_real(self) -> float:
        """How long (real seconds) an idle clerk or a visitor at 準備中 waits before asking again."""
        return min(1.0, max(0.01, 120 / self.speed))

    # --------------------------------------------------------------- set-up
    async def setup(self, client: httpx.AsyncClient) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
        """Sign in as admin, pair a kiosk, create and sign in one clerk per staffed counter."""
        r = await client.post("/api/auth/login", json={"username": self.admin[0], "password": self.admin[1]})
        if r.status_code != 200:
            raise ReplayError(f"admin sign-in failed: {r.json()['error']['message']}")
        admin = {"Authorization": f"Bearer {r.json()['token']}"}
        device = {"kind": "kiosk", "name": f"replay kiosk {int(time.time())}"}
        r = await client.post("/api/devices", json=device, headers=admin)
        r = await client.post("/api/devices/pair", json={"code": r.json()["pairing_code"]})
        kiosk = {"Authorization": f"Bearer {r.json()['token']}"}
        state = (await client.get("/api/state")).json()
        self.mean_service = {q["id"]: q["mean_service_s"] for q in state["queues"]}
        self.counter_queues = {c["id"]: c["queues"] for c in state["counters"]}
        for visit in self.plan.visits:
            for q in (visit.queue, *visit.procedures):
                if q not in self.mean_service:
                    raise ReplayError(f"the server's office has no queue {q!r}")
        r = await client.get("/api/staff", headers=admin)
        if r.status_code != 200:
            raise ReplayError(f"cannot list staff: HTTP {r.status_code}")
        staff = {s["username"]: s["id"] for s in r.json()}
        counters = sorted({s.counter for s in self.plan.shifts}, key=int)
        for counter in counters:
            if counter not in self.counter_queues:
                raise ReplayError(f"the server's office has no counter {counter}")

        async def account(counter: str) -> dict[str, str]:
            name = f"replay-counter-{counter}"
            if name in staff:
                await client.put(f"/api/staff/{staff[name]}/password", json={"password": CLERK_PASSWORD}, headers=admin)
            else:
                body = {"username": name, "password": CLERK_PASSWORD, "role": "clerk"}
                r = await client.post("/api/staff", json=body, headers=admin)
                if r.status_code != 201:
                    raise ReplayError(f"cannot create clerk {name}: {r.text}")
            r = await client.post("/api/auth/login", json={"username": name, "password": CLERK_PASSWORD})
            if r.status_code != 200:
                raise ReplayError(f"clerk {name} cannot sign in: {r.text}")
            return {"Authorization": f"Bearer {r.json()['token']}"}

        # Concurrently: the server hashes each password in a worker thread (argon2, slow by design).
        clerks = dict(zip(counters, await asyncio.gather(*(account(c) for c in counters)), strict=True))
        for q in state["queues"]:
            self.queue_status[q["id"]] = q
        return kiosk, clerks

    # ------------------------------------------------------------- displays
    async def display(self, index: int, ready: asyncio.Event) -> None:
        """A WebSocket display: times every call; display 0 also tracks queue status and wakes idle clerks."""
        async with connect(self.ws_url, max_size=None) as ws:
            await ws.send(orjson.dumps({"type": "subscribe", "topics": ["office"]}).decode())
            ready.set()
            async for raw in ws:
                received = time.perf_counter()
                msg = orjson.loads(raw)
                kind = msg["type"]
                if kind == "event":
                    ev = msg["event"]
                    if index == 0:
                        for status in msg.get("queues", ()):
                            self.queue_status[status["queue"]] = status
                    if index == 0 and ev["type"] in ("counter.opened", "counter.resumed"):
                        self.changed()
                    if ev["type"] == "ticket.called" and ev.get("counter") not in self.ours:
                        self.taken_elsewhere(ev.get("ticket"))
                    if ev["type"] in ("ticket.called", "ticket.recalled"):
                        sent = self.sent_at.get(ev["counter"])
                        if ev["type"] == "ticket.called" and sent is not None:
                            self.results.push_ms.append((received - sent) * 1000)
                            self.results.calls_seen += 1
                    elif index == 0 and (ev["type"] in ("ticket.issued", "ticket.transferred", "ticket.reinstated")
                                         or (ev["type"] == "ticket.finished" and ev.get("next_queue"))):
                        self.wake.set()
                        self.wake = asyncio.Event()
                elif kind == "snapshot" and index == 0:
                    for q in msg["data"]["queues"]:
                        self.queue_status[q["id"]] = q

    # ------------------------------------------------------------- visitors
    def changed(self) -> None:
        """Wake the visitors waiting at 準備中 to try again."""
        self.floor_changed.set()
        self.floor_changed = asyncio.Event()

    def opened_for(self, counter: str) -> None:
        """A counter serving these queues is open (or will not be): visitors due after
        its opening stop waiting for it."""
        for q in self.counter_queues[counter]:
            self.opening.setdefault(q, asyncio.Event()).set()
        self.changed()

    def may_open(self, queue: str) -> bool:
        """Whether a counter of the replay serving ``queue`` is open or has a shift still to come."""
        return any(queue in self.counter_queues[c] and (c in self.opened or left > 0)
                   for c, left in self.shifts_left.items())

    async def visitor(self, client: httpx.AsyncClient, kiosk: dict[str, str], visit: Visit, key: str) -> None:
        """One visitor: takes a ticket at the kiosk at its arrival time, after the
        visitors of the same queue who came before. At 準備中 (``queue_not_ready``)
        it waits for a counter of its queue to open, then takes it; with no shift
        left that could open one it leaves without a ticket. Raises
        :class:`ReplayError` on any other refusal."""
        await self.sleep_until(visit.arrival_s)
        due = visit.arrival_s >= self.first_open.get(visit.queue, math.inf)
        # Before the plan opens the queue, one who finds others waiting at 準備中 (or in line
        # before someone refused then) waits with them.
        waited = not due and visit.queue in self.not_ready
        refused_before = self.refusals.get(visit.queue, 0)
        async with self.kiosk_lines.setdefault(visit.queue, asyncio.Lock()):
            if due:
                # By the plan a counter of this queue is open now; its clerk may still be signing in.
                await self.opening.setdefault(visit.queue, asyncio.Event()).wait()
            body = {"queue": visit.queue, "procedures": list(visit.procedures), "idempotency_key": key}
            while True:
                r = await client.post("/api/tickets", json=body, headers=kiosk)
                if r.status_code == 201:
                    self.not_ready.discard(visit.queue)
                    break
                if r.status_code != 409 or r.json()["error"]["code"] != "queue_not_ready":
                    raise ReplayError(f"ticket refused: {r.text}")
                self.not_ready.add(visit.queue)
                self.refusals[visit.queue] = self.refusals.get(visit.queue, 0) + 1
                if not self.may_open(visit.queue):
                    self.results.turned_away += 1
                    self.arrived += 1
                    return
                waited = True
                changed = self.floor_changed
                with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                    await asyncio.wait_for(changed.wait(), self.poll_real)
            if waited or (not due and self.refusals.get(visit.queue, 0) > refused_before):
                self.results.waited_for_opening += 1
        t = r.json()
        status = self.queue_status.get(visit.queue, {})
        open_counters = status.get("open_counters", 0)
        estimate = t["wait_s"] * self.speed if t["wait_s"] is not None else None
        naive_s = naive_wait(t["ahead"], self.mean_service[visit.queue], open_counters)
        naive = None if math.isinf(naive_s) else naive_s
        if self.first_finish is None:
            # Cold start: the server has observed no service yet and falls back to the
            # configured means, which are day seconds while its clock runs `speed` times
            # faster here. Not compared (an artefact of compressed time, absent at 1x).
            estimate = naive = None
            self.results.cold_start += 1
        self.tickets[t["ticket"]] = Ticket(visit, t["ticket"], time.perf_counter(), estimate, naive, t["ahead"] or 0,
                                           queue_now=visit.queue)
        self.results.tickets += 1
        self.arrived += 1

    # --------------------------------------------------------------- clerks
    def taken_elsewhere(self, ticket_id: str | None) -> None:
        """A counter the replay did not open called one of its tickets: leave it to that counter."""
        ticket = self.tickets.get(ticket_id or "")
        if ticket is not None and not ticket.resolved:
            ticket.resolved = True
            self.results.taken_elsewhere += 1

    def remaining(self) -> int:
        """Work the replay's counters can still do: visitors still to come, tickets
        at its counters, and tickets waiting in a queue one of its signed-in
        counters serves. Tickets stranded in a queue none of them serves (its
        counters were busy and skipped) do not count, so the day can end."""
        served = {q for c in self.opened for q in self.counter_queues[c]}
        pending = sum(1 for t in self.tickets.values()
                      if not t.resolved and (t.at_counter or t.queue_now in served))
        return pending + len(self.plan.visits) - self.arrived

    def others_open(self, counter: str) -> bool:
        """Whether another open counter serves one of this counter's queues."""
        mine = set(self.counter_queues[counter])
        return any(c != counter and mine & set(self.counter_queues[c]) for c in self.open_counters)

    def all_done(self) -> bool:
        """Every visitor has arrived and every ticket is resolved."""
        return self.arrived == len(self.plan.visits) and all(t.resolved for t in self.tickets.values())

    async def staff_counter(self, client: httpx.AsyncClient, shifts: list[Shift], headers: dict[str, str]) -> None:
        """One counter through the day: its shifts one after another (a shift
        that runs over delays the next one at the same counter)."""
        try:
            for shift in shifts:
                await self.clerk(client, shift, headers)
                self.shifts_left[shift.counter] -= 1
                self.changed()
        finally:
            if shifts:
                self.opened_for(shifts[0].counter)   # nobody waits for a clerk who will not come

    async def clerk(self, client: httpx.AsyncClient, shift: Shift, headers: dict[str, str]) -> None:
        """One shift at a counter: sign in, call and serve, pause for breaks, sign out."""
        counter = shift.counter
        base = f"/api/counters/{counter}"
        await self.sleep_until(shift.start_s)
        r = await client.post(f"{base}/sign-in", headers=headers)
        if r.status_code == 409 and r.json()["error"]["code"] == "counter_in_use":
            self.results.skipped.append(counter)
            self.opened_for(counter)             # someone else's clerk is there: the queue is open
            print(f"counter {counter}: skipped (another clerk is signed in there) for the shift "
                  f"{_clock(shift.start_s)}-{_clock(shift.end_s)}", flush=True)
            return
        if r.status_code != 200:
            raise ReplayError(f"counter {counter}: sign-in refused: {r.text}")
        self.opened[counter] = headers
        self.ours.add(counter)
        self.opened_for(counter)
        if r.json()["counter"]["ticket"] is not None:
            # A ticket left at the counter by an earlier, interrupted run: hand it back.
            await client.post(f"{base}/hold", headers=headers)
        self.open_counters.add(counter)
        breaks = list(shift.breaks)
        poll_real = self.poll_real
        while not self.all_done():
            now = self.day_now()
            if breaks and now >= breaks[0][0]:
                _, end = breaks.pop(0)
                if end > now and self.others_open(counter):
                    await client.post(f"{base}/pause", headers=headers)
                    self.open_counters.discard(counter)
                    await self.sleep_until(end)
                    await client.post(f"{base}/resume", headers=headers)
                    self.open_counters.add(counter)
                continue
            if now >= shift.end_s and (self.others_open(counter) or self.remaining() == 0):
                break
            wake = self.wake
            self.sent_at[counter] = time.perf_counter()
            r = await client.post(f"{base}/call-next", headers=headers)
            if r.status_code == 409 and r.json()["error"]["code"] == "no_waiting":
                with contextlib.suppress(asyncio.TimeoutError, TimeoutError):
                    await asyncio.wait_for(wake.wait(), poll_real)
                continue
            if r.status_code != 200:
                raise ReplayError(f"counter {counter}: call-next: {r.text}")
            self.results.calls += 1
            await self.serve(client, base, headers, r.json()["ticket"])
        self.open_counters.discard(counter)
        r = await client.post(f"{base}/sign-out", headers=headers)
        if r.status_code != 200:
            raise ReplayError(f"counter {counter}: sign-out refused: {r.text}")
        del self.opened[counter]

    async def serve(self, client: httpx.AsyncClient, base: str, headers: dict[str, str],
                    called: dict[str, Any]) -> None:
        """Serve one called ticket: no-show after a recall, or start, service time, finish."""
        ticket = self.tickets.get(called["id"])
        deadline = time.perf_counter() + 2.0
        while ticket is None and time.perf_counter() < deadline:
            # The call can overtake the kiosk's own answer by a moment.
            await asyncio.sleep(0.002)
            ticket = self.tickets.get(called["id"])
        if ticket is None:
            # A ticket this replay did not issue (someone else's): hand it back untouched.
            await client.post(f"{base}/hold", headers=headers)
            return
        ticket.at_counter = True
        try:
            await self.serve_ticket(client, base, headers, called, ticket)
        finally:
            ticket.at_counter = False

    async def serve_ticket(self, client: httpx.AsyncClient, base: str, headers: dict[str, str],
                           called: dict[str, Any], ticket: Ticket) -> None:
        """Serve one of this replay's tickets called at ``base``'s counter."""
        now = time.perf_counter()
        if ticket.first_call_real is None:
            ticket.first_call_real = now
            actual = (now - ticket.issued_real) * self.speed
            ticket.actual_s = actual
            self.results.waits.append(actual)
            if ticket.estimate_s is not None and ticket.naive_s is not None:
                self.results.est_err.append(abs(ticket.estimate_s - actual))
                self.results.naive_err.append(abs(ticket.naive_s - actual))
        visit = ticket.visit
        if visit.no_show and ticket.steps_done == 0:
            await self.sleep_day(10)
            await client.post(f"{base}/recall", headers=headers)
            await self.sleep_day(10)
            await client.post(f"{base}/no-show", headers=headers)
            if self.first_finish is None:
                self.first_finish = time.perf_counter()
            ticket.resolved = True
            self.results.no_show += 1
            return
        queue = called["queue"]
        service = visit.service_s if ticket.steps_done == 0 else (
            self.plan.handover_service_s if queue == "kofu" else self.plan.service_s_by_queue.get(queue, 300.0))
        await client.post(f"{base}/start", headers=headers)
        await self.sleep_day(service)
        r = await client.post(f"{base}/finish", json={}, headers=headers)
        if r.status_code != 200:
            raise ReplayError(f"finish: {r.text}")
        ticket.steps_done += 1
        if self.first_finish is None:
            self.first_finish = time.perf_counter()
        ticket.queue_now = r.json()["ticket"]["queue"]
        if r.json()["ticket"]["status"] == "done":
            ticket.resolved = True
            self.results.served += 1

    # ------------------------------------------------------------------ run
    async def run(self) -> Results:
        """Run the whole day; returns the measured :class:`Results`."""
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=self.url, timeout=30, limits=limits) as client:
            kiosk, clerks = await self.setup(client)
            readies = [asyncio.Event() for _ in range(self.n_displays)]
            displays = [asyncio.create_task(self.display(i, e)) for i, e in enumerate(readies)]
            await asyncio.gather(*(e.wait() for e in readies))
            await asyncio.sleep(0.2)
            first = min([v.arrival_s for v in self.plan.visits] + [s.start_s for s in self.plan.shifts])
            self.day_start = first - 1
            self.real_start = time.perf_counter()
            run_id = f"{os.getpid()}-{int(time.time())}"
            by_counter: dict[str, list[Shift]] = {}
            for shift in sorted(self.plan.shifts, key=lambda s: s.start_s):
                by_counter.setdefault(shift.counter, []).append(shift)
                for q in self.counter_queues[shift.counter]:
                    self.first_open[q] = min(self.first_open.get(q, math.inf), shift.start_s)
            self.shifts_left = {c: len(shifts) for c, shifts in by_counter.items()}
            tasks = [asyncio.create_task(self.visitor(client, kiosk, v, f"replay-{run_id}-{i}"))
                     for i, v in enumerate(self.plan.visits)]
            tasks += [asyncio.create_task(self.staff_counter(client, shifts, clerks[c]))
                      for c, shifts in by_counter.items()]
            try:
                await asyncio.gather(*tasks)
            finally:
                for t in tasks + displays:
                    t.cancel()
                await asyncio.gather(*tasks, *displays, return_exceptions=True)
                await self.close_counters(client)
        return self.results

    async def close_counters(self, client: httpx.AsyncClient) -> None:
        """Close every counter this replay still has open: hold a ticket left at it,
        then sign out. Runs on every exit; prints what it closed and what it could not."""
        for counter, headers in list(self.opened.items()):
            base = f"/api/counters/{counter}"
            try:
                await client.post(f"{base}/hold", headers=headers, timeout=10)  # 409 when no ticket is there
                r = await client.post(f"{base}/sign-out", headers=headers, timeout=10)
            except httpx.HTTPError as exc:
                print(f"counter {counter}: could not close it: {exc!r}", file=sys.stderr, flush=True)
                continue
            if r.status_code == 200 or r.json().get("error", {}).get("code") == "counter_not_open":
                del self.opened[counter]
                self.open_counters.discard(counter)
                self.results.closed.append(counter)
            else:
                print(f"counter {counter}: could not close it: {r.text}", file=sys.stderr, flush=True)
        if self.results.closed:
            print(f"closed on the way out: counters {', '.join(self.results.closed)}", flush=True)


def _clock(day_s: float) -> str:
    """Day second → ``HH:MM``."""
    minutes = int(day_s // 60)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _mean(xs: list[float]) -> float:
    return statistics.fmean(xs) if xs else math.nan


def _p99(xs: list[float]) -> float:
    if not xs:
        return math.nan
    ordered = sorted(xs)
    return ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)]


def summary_line(r: Results) -> str:
    """The last line the replay prints."""
    return (f"tickets={r.tickets} served={r.served} no_show={r.no_show} mean_wait_s={_mean(r.waits):.1f} "
            f"estimate_mae_s={_mean(r.est_err):.1f} naive_mae_s={_mean(r.naive_err):.1f} "
            f"push_p99_ms={_p99(r.push_ms):.2f}")


async def _until_signalled(replay: Replay, stopped_by: list[int]) -> Results:
    """Run ``replay``; SIGTERM cancels it as Ctrl-C does (asyncio's own SIGINT
    handling), so its clean-up closes the counters either way. The signal that
    stopped it is appended to ``stopped_by``."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None

    def stop(signum: int) -> None:
        stopped_by.append(signum)
        task.cancel()

    loop.add_signal_handler(signal.SIGTERM, stop, signal.SIGTERM)
    try:
        return await replay.run()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def run_replay(args: argparse.Namespace) -> int:
    """The CLI entry: exit 0 done, 1 the server failed or refused, 2 bad arguments,
    130 on Ctrl-C and 143 on SIGTERM (after closing the counters it opened)."""
    try:
        env = ReplaySettings()
    except ValidationError as exc:
        first = exc.errors()[0]
        print(f"madoguchi replay: error: setting {'.'.join(map(str, first['loc']))}: {first['msg']}", file=sys.stderr)
        return 2
    password = args.admin_password or env.admin_password
    if not password:
        print("madoguchi replay: error: give --admin-password or set MADOGUCHI_ADMIN_PASSWORD", file=sys.stderr)
        return 2
    if not args.speed > 0:
        print("madoguchi replay: error: --speed must be positive", file=sys.stderr)
        return 2
    try:
        if args.day is not None:
            from . import bank_day
            plan = bank_day.load(args.day)
        else:
            from . import synthetic
            plan = synthetic.generate(args.seed)
    except (OSError, ValueError) as exc:
        print(f"madoguchi replay: error: {exc}", file=sys.stderr)
        return 2
    if args.until is not None:
        try:
            hours, minutes = (int(x) for x in args.until.split(":"))
            if not (0 <= hours <= 24 and 0 <= minutes < 60):
                raise ValueError
        except ValueError:
            print(f"madoguchi replay: error: --until {args.until!r} is not a time like 10:30", file=sys.stderr)
            return 2
        plan = plan.until(hours * 3600 + minutes * 60)
    print(f"replaying {plan.name}: visits={len(plan.visits)} shifts={len(plan.shifts)} speed={args.speed:g}x "
          f"displays={args.displays}", flush=True)
    for note in plan.notes:
        print(note)
    replay = Replay(args.url, plan, args.speed, (args.admin_user, password), args.displays)
    started = time.perf_counter()
    stopped_by: list[int] = []
    try:
        results = asyncio.run(_until_signalled(replay, stopped_by))
    except (KeyboardInterrupt, asyncio.CancelledError):
        signum = stopped_by[0] if stopped_by else signal.SIGINT
        print(f"madoguchi replay: interrupted by {signal.Signals(signum).name}; the counters it had opened are closed",
              file=sys.stderr)
        return 128 + signum
    except ReplayError as exc:
        print(f"madoguchi replay: error: {exc}", file=sys.stderr)
        return 1
    except (httpx.HTTPError, OSError) as exc:
        print(f"madoguchi replay: error: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 1
    skipped = sorted(set(results.skipped), key=int)
    print(f"skipped_counters={','.join(skipped) or '-'} (another clerk was signed in) "
          f"taken_elsewhere={results.taken_elsewhere} (tickets called by counters the replay did not open)")
    print(f"waited_for_opening={results.waited_for_opening} (arrived while no counter of their queue was open yet: "
          f"each took its ticket when the first opened) turned_away={results.turned_away} "
          f"(no counter of their queue could open: no ticket)")
    print(f"estimates compared={len(results.est_err)} (not compared: cold_start={results.cold_start} issued before the "
          f"first service of the day ended, plus tickets issued with no counter open)")
    print(f"real_seconds={time.perf_counter() - started:.1f} calls={results.calls} "
          f"calls_seen_by_displays={results.calls_seen}/{results.calls * args.displays} "
          f"push_p50_ms={statistics.median(results.push_ms) if results.push_ms else math.nan:.2f} "
          f"push_max_ms={max(results.push_ms, default=math.nan):.2f}")
    if args.details is not None:
        import csv
        with args.details.open("w", newline="") as f:
            out = csv.writer(f)
            out.writerow(["ticket", "queue", "arrival_s", "ahead", "estimate_s", "naive_s", "actual_s", "no_show"])
            for t in replay.tickets.values():
                out.writerow([t.id, t.visit.queue, round(t.visit.arrival_s), t.ahead,
                              None if t.estimate_s is None else round(t.estimate_s, 1),
                              None if t.naive_s is None else round(t.naive_s, 1),
                              None if t.actual_s is None else round(t.actual_s, 1), t.visit.no_show])
    print(summary_line(results), flush=True)
    return 0
