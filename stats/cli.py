"""``madoguchi stats``: the figures for a range of business days as CSV or XLSX.

Exit codes: 0 written; 2 a bad argument (unknown or reversed dates, days
outside 2000-01-01..2999-12-31, more than ``--max-years`` years of logged
days, unknown section, CSV for more than one granularity, a path that cannot
be written); the days are narrowed to those the log holds (:mod:`stats.bounds`);
1 the database could not be read. With ``--progress`` it prints lines
``progress <0..1> <phase>`` (what the web download shows).
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from . import GRANULARITIES
from .bounds import MAX_YEARS, RangeError, bounded, parse_day
from .layout import OfficeLayout

DEFAULT_TARGET_MIN = 20.0
TOKYO = ZoneInfo("Asia/Tokyo")


FLAGS = ("--from", "--to")


class StatsError(Exception):
    """A bad argument: the message names it."""


@dataclass(frozen=True)
class Setup:
    """What the statistics commands take from the application: the office
    layout, the target wait (seconds, ``[stats] target_wait_s``), the
    database URL and the data directory (whose ``stats-cache`` folder keeps
    closed days' figures; ``None``: no cache)."""

    layout: OfficeLayout
    target_wait_s: float
    database_url: str
    data_dir: Path | None


#: ``(--config, --db, --data-dir) -> Setup``, given by the ``madoguchi`` command
#: (``server.cli``); raises ``ValueError`` with a message for people (a bad office file).
Resolve = Callable[[Path | None, str | None, Path | None], Setup]


def add_parser(sub: Any, resolve: Resolve) -> None:
    """The ``stats`` sub-command's arguments; ``resolve`` reads the office file and settings."""
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
    s.add_argument("--data-dir", type=Path, help="data directory (default ./data); closed days' figures are "
                   "kept in its stats-cache folder when it exists")
    s.add_argument("--progress", action="store_true", help="print progress lines")
    s.add_argument("--max-years", type=int, default=MAX_YEARS,
                   help=f"the longest span of logged days to export, in years (default {MAX_YEARS})")
    s.set_defaults(func=functools.partial(main, resolve=resolve))


def cache_folder(setup: Setup) -> Path | None:
    """Where closed days' figures are kept: ``<data dir>/stats-cache`` when
    the data directory exists (a command pointed only at ``--db`` makes no
    ``./data``), else ``None``."""
    if setup.data_dir is None or not setup.data_dir.is_dir():
        return None
    return setup.data_dir / "stats-cache"


def today() -> date:
    """The business day now: the date in Asia/Tokyo."""
    return datetime.now(TOKYO).date()


def _writable(path: Path) -> None:
    if path.is_dir():
        raise StatsError(f"--out {path} is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise StatsError(f"--out {path}: the folder {parent} does not exist")
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise StatsError(f"--out {path}: not allowed to write there")


def main(args: argparse.Namespace, resolve: Resolve) -> int:
    """Run ``madoguchi stats`` (see the module doc for exit codes)."""
    from .export import ExportError
    from .report import export
    from .source import Reader

    def progress(share: float, phase: str) -> None:
        if args.progress:
            print(f"progress {share:.2f} {phase}", flush=True)

    try:
        first, last = parse_day(args.first, "--from"), parse_day(args.last, "--to")
        if not 1 <= args.max_years <= 50:
            raise StatsError("--max-years must be between 1 and 50")
        bounded(first, last, None, args.max_years, FLAGS)  # before reading the log
        by = tuple(dict.fromkeys(args.by or (("day",) if args.format == "csv" else GRANULARITIES)))
        if args.format == "csv" and len(by) > 1:
            raise StatsError("a CSV holds one granularity: give one --by (XLSX takes several)")
        if args.target_min is not None and not 0 < args.target_min <= 1440:
            raise StatsError("--target-min must be between 0 and 1440 minutes")
        setup = resolve(args.config, args.db, args.data_dir)
        if args.section:
            unknown = [s for s in args.section if s not in setup.layout.sections]
            if unknown:
                known = ", ".join(setup.layout.sections)
                raise StatsError(f"--section {unknown[0]!r}: no such section (known: {known})")
        _writable(args.out)
    except (StatsError, ValueError) as err:
        print(f"madoguchi stats: error: {err}", file=sys.stderr)
        return 2
    try:
        reader = Reader(setup.database_url, in_server=False)
        first, last = bounded(first, last, reader.span(), args.max_years, FLAGS)
    except RangeError as err:
        print(f"madoguchi stats: error: {err}", file=sys.stderr)
        return 2
    except Exception as err:  # connectorx raises its own types; ValueError: no database there
        first_line = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        print(f"madoguchi stats: error: cannot read the database: {first_line}", file=sys.stderr)
        return 1
    target_s = args.target_min * 60 if args.target_min is not None else setup.target_wait_s
    started = time.perf_counter()
    csv, xlsx = ({by[0]: args.out}, None) if args.format == "csv" else (None, args.out)
    try:
        tickets = export(reader, setup.layout, first, last, by, target_s,
                         sections=args.section, encoding=args.encoding, progress=progress, csv=csv, xlsx=xlsx,
                         cache=cache_folder(setup), today=today())
    except ExportError as err:
        print(f"madoguchi stats: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"madoguchi stats: error: cannot write {args.out}: {err.strerror}", file=sys.stderr)
        return 2
    except Exception as err:  # connectorx raises its own types
        first_line = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
        print(f"madoguchi stats: error: cannot read the database: {first_line}", file=sys.stderr)
        return 1
    progress(1.0, "done")
    print(f"wrote {args.out}: {', '.join(by)}; {tickets} tickets; {time.perf_counter() - started:.2f} s", flush=True)
    return 0
