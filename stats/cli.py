"""``madoguchi stats``: the figures for a range of business days as CSV or XLSX.

Exit codes: 0 written; 2 a bad argument (unknown or reversed dates, unknown
section, CSV for more than one granularity, a path that cannot be written);
1 the database could not be read. With ``--progress`` it prints lines
``progress <0..1> <phase>`` (what the web download shows).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from . import GRANULARITIES

DEFAULT_TARGET_MIN = 20.0


class StatsError(Exception):
    """A bad argument: the message names it."""


def add_parser(sub: Any) -> None:
    """The ``stats`` sub-command's arguments."""
    s = sub.add_parser("stats", help="hourly/daily/monthly wait and service figures as CSV or XLSX")
    s.add_argument("--from", dest="first", required=True, help="first business day, YYYY-MM-DD")
    s.add_argument("--to", dest="last", required=True, help="last business day, YYYY-MM-DD (inclusive)")
    s.add_argument("--by", action="append", choices=GRANULARITIES,
                   help="hour, day or month; repeat for several XLSX sheets (default: day for CSV, all three for XLSX)")
    s.add_argument("--section", action="append", help="only this section (係) id; repeatable")
    s.add_argument("--format", choices=("csv", "xlsx"), required=True)
    s.add_argument("--out", type=Path, required=True, help="the file to write")
    s.add_argument("--encoding", choices=("utf-8", "shift_jis"), default="utf-8",
                   help="CSV encoding: UTF-8 with BOM (default) or Shift_JIS")
    s.add_argument("--target-min", type=float, help="target wait in minutes for the share served within it "
                   "(default: [stats] target_wait_s of the office file, else 20)")
    s.add_argument("--config", type=Path, help="office TOML file (default: built-in demo office)")
    s.add_argument("--db", help="database URL (default: SQLite in the data directory)")
    s.add_argument("--data-dir", type=Path, help="data directory (default ./data)")
    s.add_argument("--progress", action="store_true", help="print progress lines")
    s.set_defaults(func=main)


def settings_from(args: argparse.Namespace) -> Any:
    """Server settings with ``--db`` and ``--data-dir`` applied (for the database URL)."""
    from server.settings import Settings

    return Settings(**{k: v for k, v in (("db_url", args.db), ("data_dir", args.data_dir)) if v is not None})


def _day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise StatsError(f"{flag} {value!r} is not a date like 2026-04-01") from None


def _writable(path: Path) -> None:
    if path.is_dir():
        raise StatsError(f"--out {path} is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise StatsError(f"--out {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise StatsError(f"--out {path}: not allowed to write there")


def main(args: argparse.Namespace) -> int:
    """Run ``madoguchi stats`` (see the module doc for exit codes)."""
    from server import config

    from .export import ExportError
    from .report import export

    def progress(share: float, phase: str) -> None:
        if args.progress:
            print(f"progress {share:.2f} {phase}", flush=True)

    try:
        first, last = _day(args.first, "--from"), _day(args.last, "--to")
        if first > last:
            raise StatsError(f"--from {first} is after --to {last}")
        by = tuple(dict.fromkeys(args.by or (("day",) if args.format == "csv" else GRANULARITIES)))
        if args.format == "csv" and len(by) > 1:
            raise StatsError("a CSV holds one granularity: give one --by (XLSX takes several)")
        if args.target_min is not None and not 0 < args.target_min <= 1440:
            raise StatsError("--target-min must be between 0 and 1440 minutes")
        office = args.config or config.DEMO_OFFICE
        layout, _ = config.load(office, rehearsal=True)
        stats_settings = config.load_stats(office)
        if args.section:
            unknown = [s for s in args.section if s not in layout.sections]
            if unknown:
                raise StatsError(f"--section {unknown[0]!r}: no such section (known: {', '.join(layout.sections)})")
        _writable(args.out)
    except (StatsError, config.ConfigError) as err:
        print(f"madoguchi stats: error: {err}", file=sys.stderr)
        return 2
    target_s = args.target_min * 60 if args.target_min is not None else stats_settings.target_wait_s
    settings = settings_from(args)
    started = time.perf_counter()
    outputs = {"csv": {by[0]: args.out}} if args.format == "csv" else {"xlsx": args.out}
    try:
        tickets = export(settings.database_url(), layout, first, last, by, target_s, sections=args.section,
                         encoding=args.encoding, progress=progress, **outputs)  # type: ignore[arg-type]
    except ExportError as err:
        print(f"madoguchi stats: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"madoguchi stats: error: cannot write {args.out}: {err.strerror}", file=sys.stderr)
        return 2
    except Exception as err:  # connectorx raises its own types
        print(f"madoguchi stats: error: cannot read the database: {str(err).splitlines()[0][:200]}", file=sys.stderr)
        return 1
    progress(1.0, "done")
    print(f"wrote {args.out}: {', '.join(by)}; {tickets} tickets; {time.perf_counter() - started:.2f} s", flush=True)
    return 0
