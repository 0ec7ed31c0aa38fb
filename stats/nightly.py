"""The nightly export: yesterday's figures written to a folder (seed 004 8(6): generated automatically).

``madoguchi stats-nightly --dir DIR [--day YYYY-MM-DD]`` writes
``madoguchi-<day>-hour.csv``, ``-day.csv`` and ``madoguchi-<day>.xlsx``
(default day: yesterday, Asia/Tokyo). The server runs it every day at
``[stats] nightly_at`` when ``[stats] nightly_dir`` is set, in a child process
so the queue server's event loop never waits for it.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import logging
import sys
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from .cli import Resolve

TOKYO = ZoneInfo("Asia/Tokyo")
log = logging.getLogger("madoguchi.stats")


def next_run(now: datetime, at: str) -> datetime:
    """The next moment after ``now`` that is ``at`` (``HH:MM``) in Asia/Tokyo."""
    hour, minute = (int(x) for x in at.split(":"))
    local = now.astimezone(TOKYO)
    candidate = datetime.combine(local.date(), time(hour, minute), TOKYO)
    if candidate <= local:
        candidate = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), TOKYO)
    return candidate


def add_parser(sub: Any, resolve: Resolve) -> None:
    """The ``stats-nightly`` sub-command's arguments; ``resolve`` as for :func:`stats.cli.add_parser`."""
    n = sub.add_parser("stats-nightly", help="write one day's statistics files (default: yesterday) to a folder")
    n.add_argument("--dir", type=Path, required=True, help="the folder to write to")
    n.add_argument("--day", help="business day YYYY-MM-DD (default: yesterday, Asia/Tokyo)")
    n.add_argument("--config", type=Path, help="office TOML file (default: built-in demo office)")
    n.add_argument("--db", help="database URL (default: SQLite in the data directory)")
    n.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    n.set_defaults(func=functools.partial(main, resolve=resolve))


def main(args: argparse.Namespace, resolve: Resolve) -> int:
    """Exit 0 written, 2 bad argument or folder, 1 database unreadable."""
    from .cli import cache_folder, today
    from .export import ExportError
    from .report import export
    from .source import Reader

    try:
        day = date.fromisoformat(args.day) if args.day else datetime.now(TOKYO).date() - timedelta(days=1)
    except ValueError:
        print(f"madoguchi stats-nightly: error: --day {args.day!r} is not a date like 2026-04-01", file=sys.stderr)
        return 2
    if not args.dir.is_dir():
        print(f"madoguchi stats-nightly: error: --dir {args.dir} is not a folder", file=sys.stderr)
        return 2
    try:
        setup = resolve(args.config, args.db, args.data_dir)
    except ValueError as err:
        print(f"madoguchi stats-nightly: error: {err}", file=sys.stderr)
        return 2
    stem = f"madoguchi-{day.isoformat()}"
    paths = [args.dir / f"{stem}-hour.csv", args.dir / f"{stem}-day.csv", args.dir / f"{stem}.xlsx"]
    try:
        tickets = export(Reader(setup.database_url, in_server=False), setup.layout, day, day, ("hour", "day"),
                         setup.target_wait_s, csv={"hour": paths[0], "day": paths[1]}, xlsx=paths[2],
                         cache=cache_folder(setup), today=today())
    except (ExportError, OSError) as err:
        print(f"madoguchi stats-nightly: error: cannot write to {args.dir}: {err}", file=sys.stderr)
        return 2
    except Exception as err:
        first_line = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        print(f"madoguchi stats-nightly: error: cannot read the database: {first_line}", file=sys.stderr)
        return 1
    print(f"wrote {', '.join(p.name for p in paths)} ({tickets} tickets on {day})")
    return 0


async def nightly_loop(command: list[str], at: str, clock: Callable[[], datetime]) -> None:
    """Run ``command`` (``madoguchi stats-nightly …``) as a child process every
    day at ``at``; failures are logged and the next day tried again."""
    while True:
        now = clock()
        await asyncio.sleep(max(1.0, (next_run(now, at) - now).total_seconds()))
        proc = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE,
                                                    stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        if proc.returncode == 0:
            log.info("nightly statistics: %s", out.decode(errors="replace").strip())
        else:
            log.error("nightly statistics failed (exit %s): %s", proc.returncode,
                      err.decode(errors="replace").strip()[:500])
