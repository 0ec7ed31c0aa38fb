"""One statistics run: read the log a month at a time, compute, write as the figures come.

A ticket never outlives its business day and no period spans two months, so
each month's stages give that month's rows of every granularity. Two worker
threads read and cut months into stages (connectorx and Polars work outside
the GIL) while this thread computes the figures and writes them, so reading
and writing overlap and memory stays that of a month or two. Used by
``madoguchi stats``, the nightly export and ``bench/stats_year.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from server.core.layout import Layout

from .export import CsvWriter, XlsxWriter
from .figures import figures, stages
from .source import dimensions, load_events

Progress = Callable[[float, str], None]


def month_spans(first: date, last: date) -> Iterator[tuple[date, date]]:
    """``first``..``last`` cut at month ends: (first day, last day) pairs."""
    start = first
    while start <= last:
        following = date(start.year + start.month // 12, start.month % 12 + 1, 1)
        end = min(last, following - timedelta(days=1))
        yield start, end
        start = end + timedelta(days=1)


def export(db_url: str, layout: Layout, first: date, last: date, by: Iterable[str], target_s: float, *,
           sections: Iterable[str] | None = None, csv: Mapping[str, Path] | None = None, xlsx: Path | None = None,
           encoding: str = "utf-8", progress: Progress = lambda share, phase: None) -> int:
    """Write the figures of business days ``first``..``last``: a CSV per
    granularity in ``csv`` and/or one workbook ``xlsx`` with the sheets of
    ``by``. Returns the number of tickets issued in the range.

    Raises :class:`~stats.export.ExportError` (Shift_JIS), ``OSError``,
    ``ValueError`` (database URL or missing file) and the driver's errors; on
    any error nothing is put in place of the earlier files.
    """
    by = [g for g in ("hour", "day", "month") if g in set(by)]
    secs = list(sections) if sections else None
    months = list(month_spans(first, last))
    dims = dimensions(layout, db_url)
    writers = {g: CsvWriter(path, encoding) for g, path in (csv or {}).items()}
    book = XlsxWriter(xlsx, by) if xlsx is not None else None
    tickets = 0

    def month(span: tuple[date, date]) -> tuple[int, dict[str, pl.DataFrame]]:
        st = stages(load_events(db_url, *span))
        return int((st["begin"] == "issued").sum()), {g: figures(st, dims, g, target_s, secs) for g in by}

    progress(0.02, "reading")
    try:
        with ThreadPoolExecutor(max_workers=2) as pool:
            for i, (issued, figs) in enumerate(pool.map(month, months)):
                tickets += issued
                for g, fig in figs.items():
                    if g in writers:
                        writers[g].append(fig)
                    if book is not None:
                        book.append(g, fig)
                progress(0.02 + 0.93 * (i + 1) / len(months), "computing" if i + 1 < len(months) else "writing")
        for w in writers.values():
            w.close()
        if book is not None:
            book.close()
    except BaseException:
        for w in writers.values():
            w.discard()
        if book is not None:
            book.discard()
        raise
    return tickets
