"""A known floor history for the statistics tests, and an oracle in plain Python.

:func:`build_log` drives the real queue core (demo office, calendar not
enforced) through scripted visits and stores their events in a real SQLite
file, while writing down what each stage's figures must be: when it began,
its first call, its first start and finish, its outcome, counter and clerk.
:func:`oracle` aggregates those notes with ``statistics`` and ``zoneinfo``,
without Polars and without reading the events.
"""

from __future__ import annotations

import asyncio
import random
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert

from server import config
from server.core import commands as c
from server.core.floor import Floor
from server.storage import schema
from server.storage.database import EventLog, StoredEvent, open_database

TOKYO = ZoneInfo("Asia/Tokyo")

#: Clerks: id → (display name, counter). Counter 4 and 5 serve 証明/戸籍, 1 戸籍/証明,
#: 10 住民異動 etc., 24 the hand-over (交付).
CLERKS = {"s-aoki": ("青木", "4"), "s-baba": ("馬場", "5"), "s-chiba": ("千葉", "1"),
          "s-doi": ("土井", "10"), "s-endo": ("遠藤", "24")}


@dataclass
class Stage:
    """What one stage's figures must be (times aware)."""

    queue: str
    begin: str
    start: datetime
    first_call: datetime | None = None
    first_start: datetime | None = None
    finish: datetime | None = None
    outcome: str | None = None
    counter: str | None = None
    staff: str | None = None


class History:
    """The log being built: the floor of the day, its events and the expected stages."""

    def __init__(self) -> None:
        self.layout, self.calendar = config.load(config.DEMO_OFFICE, rehearsal=True)
        self.records: list[StoredEvent] = []
        self.stages: list[Stage] = []
        self.floor: Floor | None = None
        self.seq = 0
        self.tokens = 0

    def day(self, day: date) -> None:
        self.floor = Floor(self.layout, self.calendar, day)
        opening = datetime.combine(day, time(0, 0, 1), TOKYO)
        for staff, (_, counter) in CLERKS.items():
            self.run(c.OpenCounter(counter, staff), opening)

    def run(self, command: c.Command, at: datetime) -> str | None:
        assert self.floor is not None
        outcome = self.floor.execute(command, at)
        for event in outcome.events:
            self.seq += 1
            self.records.append(StoredEvent(self.seq, self.floor.day, event))
        return outcome.ticket

    def close(self, at: datetime) -> None:
        """The day's close (CloseDay) at ``at``: tickets left become unserved."""
        self.run(c.CloseDay(), at)

    def issue(self, queue: str, at: datetime) -> tuple[str, Stage]:
        self.tokens += 1
        ticket = self.run(c.IssueTicket(queue, token=f"token-{self.tokens:012d}-x"), at)
        assert ticket is not None
        stage = Stage(queue, "issued", at)
        self.stages.append(stage)
        return ticket, stage

    def call(self, stage: Stage, ticket: str, counter: str, staff: str, at: datetime) -> None:
        self.run(c.CallTicket(counter, ticket, staff), at)
        stage.first_call = stage.first_call or at
        stage.counter, stage.staff = counter, staff


def visit(h: History, rng: random.Random, at: datetime, kind: str) -> datetime:
    """One scripted visit starting at ``at``; returns when it is over."""
    queue, counter, staff = {
        "shomei": ("shomei", "4", "s-aoki"), "shomei5": ("shomei", "5", "s-baba"),
        "koseki": ("koseki", "1", "s-chiba"), "idou": ("idou", "10", "s-doi"),
    }[rng.choice(["shomei", "shomei5", "koseki", "idou"]) if kind not in ("handover", "transfer") else "shomei"]
    ticket, stage = h.issue(queue, at)
    t = at + timedelta(seconds=rng.randint(0, 2400))
    if kind == "cancel":
        h.run(c.Cancel(ticket, staff=staff), t)
        stage.outcome = "cancelled"
        return t
    h.call(stage, ticket, counter, staff, t)
    if kind == "recall" or rng.random() < 0.2:
        t += timedelta(seconds=rng.randint(10, 90))
        h.run(c.Recall(counter, staff, ticket), t)
    if kind in ("no_show", "reinstated"):
        t += timedelta(seconds=rng.randint(30, 120))
        h.run(c.NoShow(counter, staff, ticket), t)
        stage.outcome = "no_show"
        if kind == "no_show":
            return t
        t += timedelta(seconds=rng.randint(60, 300))
        h.run(c.Reinstate(ticket, staff), t)
        stage.outcome = None
        t += timedelta(seconds=rng.randint(30, 200))
        h.call(stage, ticket, counter, staff, t)
    t += timedelta(seconds=rng.randint(5, 60))
    h.run(c.StartService(counter, staff, ticket), t)
    stage.first_start = t
    if kind == "hold":
        t += timedelta(seconds=rng.randint(60, 300))
        h.run(c.Hold(counter, staff, ticket), t)
        t += timedelta(seconds=rng.randint(60, 600))
        h.call(stage, ticket, counter, staff, t)
        t += timedelta(seconds=5)
        h.run(c.StartService(counter, staff, ticket), t)
    if kind == "transfer":  # part-served 証明, then 住民異動 at counter 10
        t += timedelta(seconds=rng.randint(60, 400))
        h.run(c.Transfer(ticket, "idou", staff=staff), t)
        stage.outcome = "transferred"
        stage = Stage("idou", "transfer", t)
        h.stages.append(stage)
        counter, staff = "10", "s-doi"
        t += timedelta(seconds=rng.randint(0, 1800))
        h.call(stage, ticket, counter, staff, t)
        t += timedelta(seconds=rng.randint(5, 60))
        h.run(c.StartService(counter, staff, ticket), t)
        stage.first_start = t
    t += timedelta(seconds=rng.randint(60, 1500))
    handover = kind == "handover"
    h.run(c.Finish(counter, staff, ticket, handover=handover), t)
    stage.finish, stage.outcome = t, "served"
    if handover:  # the second stage: 証明の交付 at counter 24
        stage = Stage("kofu", "next", t)
        h.stages.append(stage)
        t += timedelta(seconds=rng.randint(60, 900))
        h.call(stage, ticket, "24", "s-endo", t)
        t += timedelta(seconds=rng.randint(5, 30))
        h.run(c.StartService("24", "s-endo", ticket), t)
        stage.first_start = t
        t += timedelta(seconds=rng.randint(20, 120))
        h.run(c.Finish("24", "s-endo", ticket, handover=False), t)
        stage.finish, stage.outcome = t, "served"
    return t


#: Business days of the log: the 15th (an export reads half a month at a
#: time, so January comes in two parts), a Friday, the last day of January
#: with visits until a second before midnight, no opening on 1 February,
#: then a Monday that starts straight after midnight.
DAYS = (date(2026, 1, 15), date(2026, 1, 30), date(2026, 1, 31), date(2026, 2, 2))
LAST_OF_JANUARY, AFTER_MIDNIGHT = DAYS[2], DAYS[3]
KINDS = ("served", "served", "served", "recall", "no_show", "reinstated", "cancel", "transfer", "handover", "hold")


def history(seed: int = 7) -> History:
    """The scripted history (see :data:`DAYS`), about 160 visits."""
    h = History()
    rng = random.Random(seed)
    for day in DAYS:
        h.day(day)
        start = time(8, 30) if day != AFTER_MIDNIGHT else time(0, 0, 5)
        t = datetime.combine(day, start, TOKYO)
        for i in range(40):  # each visit runs to its end before the next is issued, so counters are free
            visit(h, rng, t, KINDS[i % len(KINDS)])
            t += timedelta(seconds=rng.randint(60, 600))
        if day == LAST_OF_JANUARY:  # just before midnight, still 31 January in Tokyo
            late = datetime.combine(day, time(23, 58, 40), TOKYO)
            ticket, stage = h.issue("shomei", late)
            h.call(stage, ticket, "4", "s-aoki", late + timedelta(seconds=50))
            h.run(c.NoShow("4", "s-aoki", ticket), late + timedelta(seconds=70))
            stage.outcome = "no_show"
        # Two tickets left when the day closes (one waiting, one called): unserved, counted apart.
        for called in (False, True):
            ticket, stage = h.issue("shomei", t)
            if called:
                h.call(stage, ticket, "1", "s-chiba", t + timedelta(seconds=30))
            stage.outcome = "unserved"
        h.close(datetime.combine(day + timedelta(days=1), time(0, 0, 0, 500_000), TOKYO))
    return h


async def store(h: History, path: Path) -> str:
    """Write the history's events and clerks to a new SQLite file; its URL."""
    url = f"sqlite+aiosqlite:///{path}"
    engine = await open_database(url)
    try:
        await EventLog(engine).append(h.records)
        async with engine.begin() as conn:
            await conn.execute(
                insert(schema.staff),
                [
                    {
                        "id": sid,
                        "username": sid,
                        "display_name": name,
                        "role": "clerk",
                        "password_hash": "-",
                        "active": True,
                        "created_at_us": 0,
                    }
                    for sid, (name, _) in CLERKS.items()
                ],
            )
    finally:
        await engine.dispose()
    return url


def build_log(path: Path, seed: int = 7) -> tuple[History, str]:
    """The history stored in ``path``; (history, database URL)."""
    h = history(seed)
    return h, asyncio.run(store(h, path))


def _period(moment: datetime, by: str) -> str:
    local = moment.astimezone(TOKYO)
    return {
        "hour": local.strftime("%Y-%m-%d %H:00"),
        "day": local.strftime("%Y-%m-%d"),
        "month": local.strftime("%Y-%m"),
    }[by]


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = q * (len(ordered) - 1)
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def oracle(
    h: History, by: str, target_s: float
) -> dict[tuple[str, str, str, str | None], dict[str, float | int | None]]:
    """Expected figures keyed by (period, kind, key, stage), from the notes."""
    handover = {q.id for q in h.layout.queues.values() if h.layout.flows[q.flow].handover}
    groups: dict[tuple[str, str, str, str | None], list[Stage]] = defaultdict(list)
    for s in h.stages:
        period = _period(s.start, by)
        stage = "handover" if s.queue in handover else "reception"
        groups[(period, "section", h.layout.queues[s.queue].section, stage)].append(s)
        groups[(period, "procedure", s.queue, stage)].append(s)
        if s.counter:
            groups[(period, "counter", s.counter, None)].append(s)
            groups[(period, "clerk", s.staff, None)].append(s)  # type: ignore[index]  # a stage at a counter has its clerk
    out = {}
    for key, ss in groups.items():
        waits = [(s.first_call - s.start).total_seconds() for s in ss if s.first_call]
        served = [s for s in ss if s.outcome == "served"]
        services = [(s.finish - s.first_start).total_seconds() for s in served]  # type: ignore[operator]  # served: both times set
        out[key] = {
            "issued": sum(s.begin == "issued" for s in ss) if key[1] in ("section", "procedure") else None,
            "arrivals": len(ss),
            "served": len(served),
            "no_show": sum(s.outcome == "no_show" for s in ss),
            "cancelled": sum(s.outcome == "cancelled" for s in ss),
            "transferred": sum(s.outcome == "transferred" for s in ss),
            "unserved": sum(s.outcome == "unserved" for s in ss),
            "wait_mean_s": statistics.fmean(waits) if waits else None,
            "wait_min_s": min(waits) if waits else None,
            "wait_max_s": max(waits) if waits else None,
            "wait_median_s": statistics.median(waits) if waits else None,
            "wait_p90_s": _p(waits, 0.9) if waits else None,
            "service_mean_s": statistics.fmean(services) if services else None,
            "within_target": (sum((s.first_call - s.start).total_seconds() <= target_s for s in served) / len(served))  # type: ignore[operator]  # served: called
            if served
            else None,
        }
    return out
