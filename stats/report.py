"""One statistics run: read the log half a month at a time, compute, write as the figures come.

A ticket never outlives its business day, so the stages of a run of days are
exact on their own: each part (half a month) gives its rows by the hour and
by the day, and a month's parts together give its row by the month. Two
worker threads read parts, cut them into stages and compute their figures
(connectorx and Polars work outside the GIL) while this thread writes, so
reading and writing overlap, the first rows are written early, and memory
stays that of a month or two. Used by ``madoguchi stats``, the nightly export
and ``bench/stats_year.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from server.core.layout import Layout

from .export import CsvWriter, XlsxWriter, csv_rows
from .figures import Dimensions, figures, stages
from .source import dimensions, load_events

Progress = Callable[[float, str], None]


@dataclass(frozen=True)
class Part:
    """Days ``first``..``last`` (inclusive) of one month; ``closes`` when no
    later part of the run falls in the same month."""

    first: date
    last: date
    closes: bool


def parts(first: date, last: date) -> Iterator[Part]:
    """``first``..``last`` cut at month ends and at the 15th, in order."""
    start = first
    while start <= last:
        month_end = date(start.year + start.month // 12, start.month % 12 + 1, 1) - timedelta(days=1)
        end = min(last, month_end, start.replace(day=15) if start.day <= 15 else month_end)
        yield Part(start, end, end == min(last, month_end))
        start = end + timedelta(days=1)


@dataclass
class Computed:
    """A part's results: tickets issued, figures by granularity (``month``
    only from the part that closes its month), the CSV rows of those the run
    writes as CSV and, from a part that does not close its month, that
    month's stages so far."""

    issued: int
    figures: dict[str, pl.DataFrame]
    csv: dict[str, bytes]
    month_so_far: pl.DataFrame | None


def chart_sections(dims: Dimensions, sections: Iterable[str] | None = None) -> dict[str, str]:
    """Sections with a reception queue (those the hourly chart draws), id →
    name in the office file's order, kept to ``sections`` when given."""
    reception = {dims.queue_section[q] for q in dims.queue_section if q not in dims.handover_queues}
    keep = set(sections) if sections is not None else None
    return {s: name for s, name in dims.section_name.items() if s in reception and (keep is None or s in keep)}


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
    spans = list(parts(first, last))
    dims = dimensions(layout, db_url)
    writers: dict[str, CsvWriter] = {}
    book: XlsxWriter | None = None
    tickets = 0

    def part(span: Part, before: Future[Computed] | None) -> Computed:
        st = stages(load_events(db_url, span.first, span.last))
        figs = {g: figures(st, dims, g, target_s, secs) for g in by if g != "month"}
        month_so_far = None
        if "month" in by:
            earlier = before.result().month_so_far if before is not None else None
            month_so_far = st if earlier is None else pl.concat([earlier, st])
            if span.closes:
                figs["month"], month_so_far = figures(month_so_far, dims, "month", target_s, secs), None
        rows = {g: csv_rows(fig, encoding) for g, fig in figs.items() if g in writers}
        return Computed(int((st["begin"] == "issued").sum()), figs, rows, month_so_far)

    progress(0.02, "reading")
    try:
        for g, path in (csv or {}).items():
            writers[g] = CsvWriter(path, encoding)
        if xlsx is not None:
            book = XlsxWriter(xlsx, by, chart_sections(dims, secs))
        with ThreadPoolExecutor(max_workers=2) as pool:
            # A part waits for the part before it in its month (for that
            # month's stages) only after its own work; that part was submitted
            # first, so it is running or done: no deadlock.
            futures: list[Future[Computed] | None] = []
            for i, span in enumerate(spans):
                before = futures[-1] if i and not spans[i - 1].closes else None
                futures.append(pool.submit(part, span, before))
            try:
                for i in range(len(futures)):
                    done = futures[i].result()  # type: ignore[union-attr]
                    futures[i] = None  # its frames go once written
                    tickets += done.issued
                    for g, rows in done.csv.items():
                        writers[g].write(rows)
                    if book is not None:
                        for g in by:
                            if g in done.figures:
                                book.append(g, done.figures[g])
                    progress(0.02 + 0.93 * (i + 1) / len(spans), "computing" if i + 1 < len(spans) else "writing")
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)  # a failed run stops soon, not after every part
                raise
        # Every file is finished before any is put in place, the workbook (the likeliest to fail) first:
        # the nightly folder gets all its files or none.
        for w in writers.values():
            w.finish()
        if book is not None:
            book.finish()
            book.commit()
        for w in writers.values():
            w.commit()
    except BaseException:
        for w in writers.values():
            w.discard()
        if book is not None:
            book.discard()
        raise
    return tickets
