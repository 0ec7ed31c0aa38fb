"""Statistics over one year of a large ward: the event log → hour/day/month figures → CSV and XLSX.

Usage: python bench/stats_year.py [--tickets 600000] [--keep]

Writes a SQLite event log with the shape the server writes (the demo office's
queues and counters; per ticket issued, called, sometimes recalled, started,
finished, with 20 % of 証明 tickets going on to the hand-over stage, and
no-shows, cancellations and transfers) for the business days of FY2025, unless
one of that size is already in the temporary folder (``--keep`` keeps it).
Then, each in a child process so that its memory is its own:

- ``year``: all three granularities of FY2025, the three CSVs and the XLSX;
- ``month``: March 2026, the XLSX (時間別 with its chart, 日別, 月別);

each first ``cold`` (an empty statistics cache: every day read from the log;
the run fills the cache) and then ``warm`` (the closed days from the cache,
as every export after the first). Each line gives the seconds inside the
child (from the call of the export to its return), the child's CPU seconds
(user + system, all threads) and its peak RSS. Printed first: the seconds a
fixed pure-Python loop took just before (``calibration``, about 0.3 s on a
quiet host): this machine shares its host, whose speed varies from hour to
hour, and the loop shows which kind of hour a run had.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

TOKYO = ZoneInfo("Asia/Tokyo")
QUEUES = {"koseki": ["1", "2", "3"], "shomei": ["4", "5", "6", "7", "8", "9"],
          "idou": [str(i) for i in range(10, 24)], "inkan": [str(i) for i in range(10, 24)],
          "mynumber": [str(i) for i in range(10, 24)]}
WEIGHTS = [0.10, 0.35, 0.30, 0.10, 0.15]


def business_days(first: date, last: date) -> list[date]:
    import holidays

    jp = holidays.country_holidays("JP", years=range(first.year, last.year + 1))
    out, d = [], first
    while d <= last:
        if d.weekday() < 5 and d not in jp and not ((d.month == 12 and d.day >= 29) or (d.month == 1 and d.day <= 3)):
            out.append(d)
        d += timedelta(days=1)
    return out


def generate(path: Path, tickets: int, seed: int = 1) -> None:
    """Write the synthetic year to ``path`` (see the module doc)."""
    from sqlalchemy import create_engine

    from server.storage import schema

    engine = create_engine(f"sqlite:///{path}")
    schema.metadata.create_all(engine)
    engine.dispose()
    rng = random.Random(seed)
    days = business_days(date(2025, 4, 1), date(2026, 3, 31))
    per_day = tickets // len(days)
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=OFF")
    db.execute("PRAGMA synchronous=OFF")
    db.executemany(
        "INSERT INTO staff (id, username, display_name, role, password_hash, active, created_at_us) "
        "VALUES (?,?,?,?,?,?,?)",
        [(f"clerk{i:02d}", f"clerk{i:02d}", f"職員{i:02d}", "clerk", "-", True, 0) for i in range(1, 41)],
    )
    seq = 0
    rows: list[tuple[object, ...]] = []

    def event(
        day: date,
        at: datetime,
        type_: str,
        ticket: str,
        queue: str,
        counter: str | None,
        staff: str | None,
        **data: object,
    ) -> None:
        nonlocal seq
        seq += 1
        body = {"ticket": ticket, "display": ticket[-4:], "queue": queue, **data}
        if counter:
            body["counter"] = counter
        if staff:
            body["staff"] = staff
        rows.append(
            (
                seq,
                day.isoformat(),
                int(at.timestamp() * 1e6),
                type_,
                ticket,
                queue,
                counter,
                staff,
                json.dumps(body, ensure_ascii=False, separators=(",", ":")),
            )
        )  # as orjson writes it

    for day in days:
        opening = datetime(day.year, day.month, day.day, 8, 30, tzinfo=TOKYO)
        for n in range(per_day + (1 if rng.random() < (tickets % len(days)) / len(days) else 0)):
            ticket = f"{day:%Y%m%d}-{n + 1:05d}"
            queue = rng.choices(list(QUEUES), WEIGHTS)[0]
            t = opening + timedelta(seconds=rng.uniform(0, 8.5 * 3600))
            event(day, t, "ticket.issued", ticket, queue, None, None, number=n + 1, priority=False,
                  token=f"bench-token-{ticket}", procedures=[])  # what the server rebuilds a day from
            stage_queue, luck = queue, rng.random()
            if luck < 0.02:
                event(
                    day,
                    t + timedelta(seconds=rng.uniform(60, 900)),
                    "ticket.cancelled",
                    ticket,
                    stage_queue,
                    None,
                    None,
                )
                continue
            for _ in range(2):
                counter = rng.choice(QUEUES.get(stage_queue, ["24", "25"]))
                staff = f"clerk{int(counter):02d}"
                t += timedelta(seconds=rng.expovariate(1 / 900))
                event(day, t, "ticket.called", ticket, stage_queue, counter, staff, waited_s=0)
                if rng.random() < 0.1:
                    t += timedelta(seconds=60)
                    event(day, t, "ticket.recalled", ticket, stage_queue, counter, staff, recalls=1,
                          counter_number=int(counter))
                if luck < 0.05:
                    event(day, t + timedelta(seconds=120), "ticket.no_show", ticket, stage_queue, counter, staff)
                    break
                t += timedelta(seconds=30)
                event(day, t, "ticket.started", ticket, stage_queue, counter, staff)
                t += timedelta(seconds=rng.expovariate(1 / 600))
                if luck < 0.07 and stage_queue != "idou":
                    event(
                        day, t, "ticket.transferred", ticket, stage_queue, counter, staff, to_queue="idou", front=False
                    )
                    stage_queue = "idou"
                    luck = 1.0
                    continue
                following = "kofu" if stage_queue == "shomei" and rng.random() < 0.2 else None
                event(
                    day,
                    t,
                    "ticket.finished",
                    ticket,
                    stage_queue,
                    counter,
                    staff,
                    next_queue=following,
                    handover=bool(following),
                )
                if following is None:
                    break
                stage_queue = following
        if len(rows) > 200_000:
            db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows)
            rows.clear()
    db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    db.close()


CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
from datetime import date
from pathlib import Path
from server import config
from stats.report import export
from stats.source import Reader
layout, _ = config.load(config.DEMO_OFFICE, rehearsal=True)
out = Path({out!r})
first, last = date.fromisoformat({first!r}), date.fromisoformat({last!r})
csv = {{g: out / f"{{g}}.csv" for g in ("hour", "day", "month")}} if {csvs!r} else None
started, cpu = time.perf_counter(), time.process_time()
tickets = export(Reader({url!r}, in_server=False), layout, first, last, ("hour", "day", "month"), 1200.0,
                 csv=csv, xlsx=out / "figures.xlsx", cache=Path({cache!r}), today=date(2026, 12, 1))
print(tickets, time.perf_counter() - started, time.process_time() - cpu,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def calibration() -> float:
    """Seconds for a fixed pure-Python loop (about 0.3 s on a quiet host)."""
    started = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i * i % 7
    return time.perf_counter() - started


def run(name: str, state: str, path: Path, cache: Path, first: date, last: date, csvs: bool) -> None:
    """One export in a child process; prints its line."""
    out = Path(tempfile.mkdtemp(prefix=f"madoguchi-stats-{name}-"))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = CHILD.format(
        root=root,
        url=f"sqlite+aiosqlite:///{path}",
        out=str(out),
        first=first.isoformat(),
        last=last.isoformat(),
        csvs=csvs,
        cache=str(cache),
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr, file=sys.stderr)
        raise SystemExit(1)
    tickets, seconds, cpu, peak = done.stdout.split()
    sizes = ",".join(f"{f.name}:{f.stat().st_size / 1e6:.1f}MB" for f in sorted(out.iterdir()))
    shutil.rmtree(out)
    print(
        f"period={name} cache={state} tickets={tickets} seconds={float(seconds):.2f} cpu_s={float(cpu):.2f} "
        f"peak_rss_mb={float(peak):.0f} files={sizes}",
        flush=True,
    )


def main() -> None:
    """Generate (or reuse) the year, run the exports in children, print the figures."""
    p = argparse.ArgumentParser()
    p.add_argument("--tickets", type=int, default=600_000)
    p.add_argument("--keep", action="store_true", help="keep the generated log for the next run")
    args = p.parse_args()
    path = Path(tempfile.gettempdir()) / f"madoguchi-bench-stats-{args.tickets}.sqlite3"
    if not path.exists():
        t = time.perf_counter()
        generate(path, args.tickets)
        print(f"generated {path} in {time.perf_counter() - t:.1f} s ({path.stat().st_size / 1e6:.0f} MB)", flush=True)
    print(f"calibration {calibration():.3f} s on {os.cpu_count()} cores", flush=True)
    year, month = (date(2025, 4, 1), date(2026, 3, 31)), (date(2026, 3, 1), date(2026, 3, 31))
    for name, (first, last), csvs in (("year", year, True), ("month", month, False)):
        cache = Path(tempfile.mkdtemp(prefix="madoguchi-stats-cache-"))
        try:
            run(name, "cold", path, cache, first, last, csvs)
            run(name, "warm", path, cache, first, last, csvs)
        finally:
            shutil.rmtree(cache)
    if not args.keep:
        path.unlink()


if __name__ == "__main__":
    main()
