"""One statistics run: read the log half a month at a time, compute, write as the figures come.

A ticket never outlives its business day, so the stages of a run of days are
exact on their own: each part (half a month) gives its rows by the hour and
by the day, and a month's parts together give its row by the month. Two
worker threads read parts, cut them into stages and compute their figures
(connectorx and Polars work outside the GIL) while this thread writes, so
reading and writing overlap, the first rows are written early, and memory
stays that of a month or two. With a :class:`~stats.cache.DayCache`, closed
days' rows (and whole closed months' rows) come from the cache, and only the
other days are read from the log. Used by ``madoguchi stats``, the nightly
export and ``bench/stats_year.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl

from .cache import DayCache, Mark, parameters
from .export import CsvWriter, XlsxWriter, csv_rows
from .figures import EVENT_SCHEMA, Dimensions, measures, named, stages
from .layout import OfficeLayout
from .source import Reader

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


def _month_end(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1) - timedelta(days=1)


def _by_day(frame: pl.DataFrame, day_of: pl.Expr) -> dict[date, pl.DataFrame]:
    """``frame``'s rows by the day ``day_of`` gives (``YYYY-MM-DD`` text)."""
    if frame.height == 0:
        return {}
    parts = frame.with_columns(day_of.alias("_day")).partition_by("_day", as_dict=True, include_key=False)
    return {date.fromisoformat(str(key[0])): rows for key, rows in parts.items()}


_TICKET_DAY = (pl.col("ticket") // 100_000).cast(pl.String).str.strptime(pl.Date, "%Y%m%d").dt.strftime("%Y-%m-%d")


def export(reader: Reader, layout: OfficeLayout, first: date, last: date, by: Iterable[str], target_s: float, *,
           sections: Iterable[str] | None = None, csv: Mapping[str, Path] | None = None, xlsx: Path | None = None,
           encoding: str = "utf-8", progress: Progress = lambda share, phase: None,
           cache: Path | None = None, today: date | None = None) -> int:
    """Write the figures of business days ``first``..``last``: a CSV per
    granularity in ``csv`` and/or one workbook ``xlsx`` with the sheets of
    ``by``. Returns the number of tickets issued in the range.

    ``cache``: the folder of a :class:`~stats.cache.DayCache` keeping the
    days before ``today`` (the business day now, Asia/Tokyo); without it
    everything is read from the log. Raises
    :class:`~stats.export.ExportError` (Shift_JIS), ``OSError``,
    ``ValueError`` (database URL or missing file) and the driver's errors; on
    any error nothing is put in place of the earlier files.
    """
    by = [g for g in ("hour", "day", "month") if g in set(by)]
    secs = list(sections) if sections else None
    spans = list(parts(first, last))
    dims = reader.dimensions(layout)
    store = None
    if cache is not None:
        if today is None:
            raise ValueError("a statistics cache needs today's date")
        store = DayCache(cache, reader.uri, today, parameters(dims.grouping(), target_s, secs))
    # The marks are read before any event, so a day that grows meanwhile is kept under its older marks.
    marks = reader.marks(first, last) if store is not None else {}
    month_rows: dict[date, pl.DataFrame] = {}
    month_marks: dict[date, list[Mark]] = {}
    if store is not None and "month" in by:
        for span in spans:
            start, end = span.first.replace(day=1), _month_end(span.first)
            if span.closes and start >= first and end <= last and store.closed(end):
                month_marks[start] = [m for d, m in marks.items() if start <= d <= end]
                hit = store.month_rows(start, month_marks[start])
                if hit is not None:
                    month_rows[start] = hit
    writers: dict[str, CsvWriter] = {}
    book: XlsxWriter | None = None
    tickets = 0

    def compute(st: pl.DataFrame, g: str) -> pl.DataFrame:
        return measures(st, dims, g, target_s, secs)

    def finish(span: Part, before: Future[Computed] | None, st: pl.DataFrame | None,
               rows: dict[str, pl.DataFrame], issued: int) -> Computed:
        """Name the part's rows, add its month's when it closes one, make the CSV rows."""
        figs = {g: named(rows[g], dims) for g in by if g != "month"}
        month_so_far = None
        month = span.first.replace(day=1)
        if "month" in by and month in month_rows:
            if span.closes:
                figs["month"] = named(month_rows[month], dims)
        elif "month" in by:
            assert st is not None
            earlier = before.result().month_so_far if before is not None else None
            month_so_far = st if earlier is None else pl.concat([earlier, st])
            if span.closes:
                rows_month = compute(month_so_far, "month")
                if store is not None and month in month_marks:
                    store.put_month_rows(month, month_marks[month], rows_month)
                figs["month"], month_so_far = named(rows_month, dims), None
        csv_out = {g: csv_rows(fig, encoding) for g, fig in figs.items() if g in writers}
        return Computed(issued, figs, csv_out, month_so_far)

    def part(span: Part, before: Future[Computed] | None) -> Computed:
        if store is None:
            st = stages(reader.events(span.first, span.last))
            rows = {g: compute(st, g) for g in by if g != "month"}
            return finish(span, before, st, rows, int((st["begin"] == "issued").sum()))
        return cached_part(store, span, before)

    def cached_part(store: DayCache, span: Part, before: Future[Computed] | None) -> Computed:
        days = sorted(d for d in marks if span.first <= d <= span.last)
        kept: dict[date, tuple[pl.DataFrame, int]] = {}
        for d in days:
            if store.closed(d):
                hit = store.day_rows(d, marks[d])
                if hit is not None:
                    kept[d] = hit
        fresh = [d for d in days if d not in kept]
        need_month = "month" in by and span.first.replace(day=1) not in month_rows
        stage_days = days if need_month else fresh
        by_day: dict[date, pl.DataFrame] = {}
        for d in stage_days:
            kept_stages = store.stages(d, marks[d]) if store.closed(d) else None
            if kept_stages is not None:
                by_day[d] = kept_stages
        unread = [d for d in stage_days if d not in by_day]
        if unread:
            read = stages(reader.events(span.first, span.last, only=unread)).sort("ticket", "stage_no")
            empty = stages(pl.DataFrame(schema=EVENT_SCHEMA))
            split = _by_day(read, _TICKET_DAY)
            for d in unread:  # a day of other events only has no stages
                by_day[d] = split.get(d, empty)
                store.put_stages(d, marks[d], by_day[d])
        empty = stages(pl.DataFrame(schema=EVENT_SCHEMA))
        rows: dict[str, list[pl.DataFrame]] = {
            g: [frame.filter(pl.col("by") == g).drop("by") for frame, _ in kept.values()] for g in ("hour", "day")}
        issued = sum(n for _, n in kept.values())
        if fresh:
            st_fresh = pl.concat([by_day.get(d, empty) for d in fresh])
            computed = {g: compute(st_fresh, g) for g in ("hour", "day")}
            per_day = {g: _by_day(computed[g], pl.col("period").str.slice(0, 10)) for g in ("hour", "day")}
            for d in fresh:
                frame = by_day.get(d, empty)
                n = int((frame["begin"] == "issued").sum())
                issued += n
                if store.closed(d):
                    both = [per_day[g][d].with_columns(pl.lit(g).alias("by"))
                            for g in ("hour", "day") if d in per_day[g]]
                    if both:
                        store.put_day_rows(d, marks[d], pl.concat(both), n)
            for g in ("hour", "day"):
                rows[g].append(computed[g])
        template = compute(empty, "day")
        merged = {g: pl.concat(rows[g]) if rows[g] else template for g in ("hour", "day")}
        st = pl.concat([by_day[d] for d in days if d in by_day]) if need_month and by_day else (
            empty if need_month else None)
        return finish(span, before, st, merged, issued)

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
                for i, future in enumerate(futures):
                    assert future is not None
                    done = future.result()
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
