"""One statistics run: read the log once, compute the granularities, write the files.

Used by ``madoguchi stats``, the nightly export and ``bench/stats_year.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from server.core.layout import Layout

from .export import write_csv, write_xlsx
from .figures import figures, stages
from .source import dimensions, load_events

Progress = Callable[[float, str], None]


def build(db_url: str, layout: Layout, first: date, last: date, by: Iterable[str], target_s: float,
          sections: Iterable[str] | None = None, progress: Progress = lambda share, phase: None) -> tuple[dict[str, pl.DataFrame], int]:
    """Figures per granularity for business days ``first``..``last``, and the
    number of tickets issued in them. Raises ``ValueError`` (bad database URL
    or missing file) and the driver's errors when the log cannot be read."""
    # A ticket never outlives its business day, so the log is read and cut
    # into stages a month at a time: memory stays that of one month.
    # Two months at a time: the driver and Polars run outside the GIL.
    months = list(month_spans(first, last))
    dims = dimensions(layout, db_url)
    parts = []
    with ThreadPoolExecutor(max_workers=2) as pool:
        for i, part in enumerate(pool.map(lambda span: stages(load_events(db_url, *span)), months)):
            parts.append(part)
            progress(0.05 + 0.55 * (i + 1) / len(months), "reading")
    st = pl.concat(parts)
    by = list(by)
    figs = {}
    for i, g in enumerate(by):
        figs[g] = figures(st, dims, g, target_s, list(sections) if sections else None)
        progress(0.6 + 0.15 * (i + 1) / len(by), "computing")
    return figs, int((st["begin"] == "issued").sum())


def month_spans(first: date, last: date) -> Iterator[tuple[date, date]]:
    """``first``..``last`` cut at month ends: (first day, last day) pairs."""
    start = first
    while start <= last:
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        end = min(last, following - timedelta(days=1))
        yield start, end
        start = end + timedelta(days=1)


def write_all(figs: dict[str, pl.DataFrame], folder: Path, stem: str, encoding: str = "utf-8") -> list[Path]:
    """``<stem>-<by>.csv`` for each granularity and ``<stem>.xlsx`` with all of them, in ``folder``."""
    paths = []
    for g, fig in figs.items():
        path = folder / f"{stem}-{g}.csv"
        write_csv(fig, path, encoding)
        paths.append(path)
    path = folder / f"{stem}.xlsx"
    write_xlsx(figs, path)
    paths.append(path)
    return paths
