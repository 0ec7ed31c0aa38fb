"""A real day from the Anonymous Bank call-centre log (Technion SEE lab), mapped
onto the demo office (``../shared/data/anonymous-bank-calls-one-day.csv``).

Mapping: each call that reached the queue (or was answered at once) is a
visitor taking a ticket at the moment it entered the queue; call types become
procedures of the 住民記録係 flow (PS → 住民異動, NW and IN → マイナンバーカード,
NE, TT and PE → 印鑑登録); calls an agent answered (AGENT) are served for their
real service time; calls that hung up while waiting (HANG after queueing) are
no-shows when called. Calls that hung up before queueing took no ticket, and
PHANTOM calls are not visitors: both are left out. Each agent is a clerk whose
shift runs from their first to their last service of the day, at a counter of
住民記録係 (10-23) free for that span.
"""

from __future__ import annotations

import csv
from pathlib import Path

from .plan import DayPlan, Shift, Visit

TYPE_TO_QUEUE = {"PS": "idou", "NW": "mynumber", "IN": "mynumber", "NE": "inkan", "TT": "inkan", "PE": "inkan"}
COUNTERS = [str(n) for n in range(10, 24)]


def seconds(hms: str) -> int:
    """``"H:MM:SS"`` → seconds since midnight."""
    h, m, s = (int(x) for x in hms.split(":"))
    return h * 3600 + m * 60 + s


def expected_counts(path: Path) -> dict[str, int]:
    """Tickets, served and no-shows the file implies (the replay must match these)."""
    tickets = served = no_show = 0
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            if row["outcome"] == "AGENT":
                tickets += 1
                served += 1
            elif row["outcome"] == "HANG" and row["q_start"] != "0:00:00":
                tickets += 1
                no_show += 1
    return {"tickets": tickets, "served": served, "no_show": no_show}


def load(path: Path) -> DayPlan:
    """Read the CSV into a :class:`DayPlan`. Raises ``ValueError`` on a file of another shape."""
    visits: list[Visit] = []
    spans: dict[str, list[int]] = {}
    skipped = {"HANG before queueing": 0, "PHANTOM": 0}
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        needed = {"type", "vru_exit", "q_start", "outcome", "ser_start", "ser_exit", "ser_time", "server"}
        if not reader.fieldnames or not needed <= set(reader.fieldnames):
            raise ValueError(f"{path.name}: not an Anonymous Bank call log (columns {sorted(needed)} needed)")
        for row in reader:
            outcome = row["outcome"]
            queued = row["q_start"] != "0:00:00"
            if outcome == "PHANTOM":
                skipped["PHANTOM"] += 1
                continue
            if outcome == "HANG" and not queued:
                skipped["HANG before queueing"] += 1
                continue
            arrival = seconds(row["q_start"] if queued else row["vru_exit"])
            queue = TYPE_TO_QUEUE.get(row["type"], "idou")
            if outcome == "AGENT":
                visits.append(Visit(arrival, queue, max(1.0, float(row["ser_time"]))))
                if row["server"] != "NO_SERVER" and row["ser_start"] != "0:00:00":
                    span = spans.setdefault(row["server"], [10**9, 0])
                    span[0] = min(span[0], seconds(row["ser_start"]))
                    span[1] = max(span[1], seconds(row["ser_exit"]))
            else:
                visits.append(Visit(arrival, queue, 0.0, no_show=True))
    visits.sort(key=lambda v: v.arrival_s)
    shifts: list[Shift] = []
    busy_until: dict[str, float] = {c: 0.0 for c in COUNTERS}
    for agent, (start, end) in sorted(spans.items(), key=lambda kv: kv[1][0]):
        counter = next((c for c in COUNTERS if busy_until[c] <= start), None)
        if counter is None:
            raise ValueError(f"more agents at once than counters 10-23 at {start} s ({agent})")
        busy_until[counter] = end
        shifts.append(Shift(counter, float(start), float(end)))
    notes = [f"left out: {k}={v}" for k, v in skipped.items()]
    return DayPlan("anonymous-bank-day", visits, shifts, notes=notes)
