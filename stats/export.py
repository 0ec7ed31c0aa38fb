"""The figures as CSV and XLSX, with Japanese headers and times in minutes.

CSV is UTF-8 with a byte-order mark by default, so Japanese Excel opens it
correctly, or Shift_JIS (Windows code page 932) on request. XLSX has one sheet
per granularity (時間別, 日別, 月別) with a frozen header row and number
formats, plus a sheet 時間別グラフ with each section's mean wait per hour and a
line chart of it. The 時間別 sheet holds sections and procedures; counters
and clerks by the hour are in the hourly CSV (a year of them is some 100,000
rows, more than a sheet is for). Both are appended to part by part as the
figures come (``stats.report``): CSV rows go to the file at once, XLSX cells
into the XlsxWriter library, which writes each sheet's rows to a temporary
file as they come and puts the workbook together at the end.
Both are written under a temporary name that is renamed at the end, so a
failed export never leaves half a file.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl
import xlsxwriter
from xlsxwriter.format import Format
from xlsxwriter.utility import xl_range_abs, xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

#: Column → Japanese header, in output order.
HEADERS = {
    "period": "期間", "kind": "区分", "key": "コード", "name": "名称", "stage": "段階",
    "issued": "発券数", "arrivals": "受付数", "served": "対応数", "no_show": "不在", "cancelled": "取消",
    "transferred": "転送", "unserved": "本日終了(未対応)", "wait_mean": "平均待ち時間(分)",
    "wait_min": "最短待ち時間(分)",
    "wait_max": "最長待ち時間(分)", "wait_median": "待ち時間中央値(分)", "wait_p90": "待ち時間90%値(分)",
    "service_mean": "平均対応時間(分)", "within_target": "目標時間内の割合",
}
KIND_JA = {"section": "係", "procedure": "手続", "counter": "窓口", "clerk": "職員"}
STAGE_JA = {"reception": "受付", "handover": "交付"}
SHEETS = {"hour": "時間別", "day": "日別", "month": "月別"}
CHART_SHEET = "時間別グラフ"
ENCODINGS = {"utf-8": "utf-8-sig", "shift_jis": "cp932"}
MINUTES = ("wait_mean", "wait_min", "wait_max", "wait_median", "wait_p90", "service_mean")


class ExportError(Exception):
    """The file could not be written (message for people)."""


def presented(fig: pl.DataFrame) -> pl.DataFrame:
    """Figures with Japanese kinds and stages, minutes instead of seconds and
    English column names as in :data:`HEADERS` (``within_target`` stays 0–1)."""
    return fig.select(
        "period",
        pl.col("kind").replace_strict(KIND_JA, return_dtype=pl.String),
        "key", "name",
        pl.col("stage").replace_strict(STAGE_JA, default=None, return_dtype=pl.String),
        "issued", "arrivals", "served", "no_show", "cancelled", "transferred", "unserved",
        *((pl.col(f"{m}_s") / 60).alias(m) for m in MINUTES),
        "within_target",
    )


class _Pending:
    """A file written under a temporary name beside ``path`` and renamed over
    it by :meth:`commit`; :meth:`discard` removes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.close(fd)
        self.tmp = Path(name)

    def commit(self) -> None:
        os.chmod(self.tmp, 0o644)
        os.replace(self.tmp, self.path)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def csv_rows(fig: pl.DataFrame, encoding: str = "utf-8") -> bytes:
    """``fig``'s rows as CSV lines in ``encoding`` (``utf-8`` or
    ``shift_jis``), without the header: minutes to 0.1 and the share as a
    percentage to 0.1. Safe in any thread. Raises :class:`ExportError` for a
    character Shift_JIS cannot hold."""
    return _encoded(_csv_table(fig).write_csv(include_header=False), ENCODINGS[encoding].replace("utf-8-sig", "utf-8"))


def _csv_table(fig: pl.DataFrame) -> pl.DataFrame:
    return presented(fig).with_columns(
        *(pl.col(m).round(1) for m in MINUTES), (pl.col("within_target") * 100).round(1)).rename(HEADERS)


def _encoded(text: str, codec: str) -> bytes:
    try:
        return text.encode(codec)
    except UnicodeEncodeError as err:
        raise ExportError(f"{text[err.start:err.end]!r} cannot be written in Shift_JIS; use --encoding utf-8") from None


class CsvWriter:
    """One granularity's CSV: the header (after a byte-order mark in UTF-8),
    then rows appended part by part, from :meth:`append` or, made elsewhere
    by :func:`csv_rows`, from :meth:`write`."""

    def __init__(self, path: Path, encoding: str = "utf-8") -> None:
        self.pending = _Pending(path)
        self.encoding = encoding
        self.file = open(self.pending.tmp, "wb")
        self.file.write(_encoded(_csv_table(_EMPTY).write_csv(include_header=True), ENCODINGS[encoding]))

    def append(self, fig: pl.DataFrame) -> None:
        """Write ``fig``'s rows; raises :class:`ExportError` as :func:`csv_rows`."""
        self.write(csv_rows(fig, self.encoding))

    def write(self, rows: bytes) -> None:
        """Write rows made by :func:`csv_rows` with this file's encoding."""
        self.file.write(rows)

    def close(self) -> None:
        """Finish and put the file in place."""
        self.finish()
        self.commit()

    def finish(self) -> None:
        """Write the last bytes under the temporary name."""
        self.file.close()

    def commit(self) -> None:
        """Put the finished file in place."""
        self.pending.commit()

    def discard(self) -> None:
        """Drop the half-written file; the earlier one stays."""
        self.file.close()
        self.pending.discard()


#: Excel's last row index (1,048,576 rows, zero-based).
MAX_ROW = 1_048_575


class XlsxWriter:
    """The workbook, appended to part by part: one sheet per granularity in
    ``granularities`` (in the order hour, day, month), then 時間別グラフ with
    the hourly mean wait (reception) of each section in ``chart_sections``
    (id → name, the chart's series in order) and a line chart of it.

    Written with the XlsxWriter library in its constant-memory mode: each
    sheet's rows go to a temporary file in ``path``'s folder as they come,
    in order, and :meth:`close` puts the workbook together. Cells are written
    with ``write_string`` and ``write_number`` only, so text is never read as
    a formula or a link. Minutes are stored to 0.01 and shares to 0.0001
    (shown as ``0.0`` and ``0.0%``): finer digits mean nothing to a reader
    and only make the file bigger. Raises :class:`ExportError` when a sheet
    would pass Excel's 1,048,576 rows.
    """

    def __init__(self, path: Path, granularities: Iterable[str], chart_sections: Mapping[str, str]) -> None:
        self.pending = _Pending(path)
        self.closed = False
        # The library's own temporary files (a sheet's rows, the parts being zipped) go to a folder
        # of this workbook's, beside it, which goes whatever happens.
        self.scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".parts", dir=path.parent))
        try:
            self.book = xlsxwriter.Workbook(str(self.pending.tmp),
                                            {"constant_memory": True, "tmpdir": str(self.scratch)})
            self._start(granularities, chart_sections)
        except BaseException:
            self.discard()
            raise

    def _start(self, granularities: Iterable[str], chart_sections: Mapping[str, str]) -> None:
        book = self.book
        self.head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        number = book.add_format({"num_format": "#,##0"})
        self.minutes = book.add_format({"num_format": "0.0"})
        share = book.add_format({"num_format": "0.0%"})
        formats = {**{c: number for c in ("issued", "arrivals", "served", "no_show", "cancelled", "transferred",
                                                 "unserved")},
                   **{c: self.minutes for c in MINUTES}, "within_target": share}
        self.formats: list[Format | None] = [formats.get(name) for name in COLUMNS]
        widths = {"period": 17, "name": 28, "kind": 6, "key": 12, "stage": 6}
        self.sheets: dict[str, Worksheet] = {}
        self.rows: dict[str, int] = {}
        granularities = set(granularities)
        for by in ("hour", "day", "month"):
            if by in granularities:
                sheet = book.add_worksheet(SHEETS[by])
                sheet.freeze_panes(1, 0)
                for col, name in enumerate(COLUMNS):
                    sheet.set_column(col, col, widths.get(name, 11), self.formats[col])
                    sheet.write_string(0, col, HEADERS[name], self.head)
                self.sheets[by], self.rows[by] = sheet, 0
        self.chart_sections = dict(chart_sections)
        self.chart_sheet = self._chart_sheet() if "hour" in self.sheets else None
        self.chart_rows = 0

    def append(self, by: str, fig: pl.DataFrame) -> None:
        """Write ``fig``'s rows on the sheet of ``by`` (and, for hours, on the chart's sheet)."""
        if by == "hour":
            self._chart_rows(fig)
            fig = fig.filter(pl.col("kind").is_in(["section", "procedure"]))
        table = presented(fig).with_columns(*(pl.col(m).round(2).fill_nan(None) for m in MINUTES),
                                            pl.col("within_target").round(4).fill_nan(None))
        first = self.rows[by] + 1
        if table.height and first + table.height - 1 > MAX_ROW:
            raise ExportError(f"the sheet {SHEETS[by]} would pass Excel's 1,048,576 rows; "
                              "choose a shorter range, or CSV")
        sheet = self.sheets[by]
        write_string, write_number = sheet.write_string, sheet.write_number
        kinds = [(col, table[name].dtype == pl.String, self.formats[col]) for col, name in enumerate(COLUMNS)]
        columns = [table[name].to_list() for name in COLUMNS]
        for row, values in enumerate(zip(*columns, strict=True), start=first):
            for (col, is_text, fmt), value in zip(kinds, values, strict=True):
                if value is None:
                    continue
                if is_text:
                    write_string(row, col, value, fmt)
                else:
                    write_number(row, col, value, fmt)
        self.rows[by] += table.height

    def close(self) -> None:
        """Add filters and the chart, finish and put the file in place."""
        self.finish()
        self.commit()

    def finish(self) -> None:
        """Add filters and the chart and write the workbook under its temporary name."""
        try:
            for by, sheet in self.sheets.items():
                sheet.autofilter(0, 0, max(self.rows[by], 1), len(COLUMNS) - 1)
            if self.chart_sheet is not None:
                self._chart()
            self.closed = True
            self.book.close()
        finally:
            shutil.rmtree(self.scratch, ignore_errors=True)

    def commit(self) -> None:
        """Put the finished workbook in place."""
        self.pending.commit()

    def discard(self) -> None:
        """Drop the half-written workbook and the library's temporary files; the earlier file stays."""
        book = getattr(self, "book", None)
        if book is not None and not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):
                book.close()  # the library's only way to close its sheets' files; the result is dropped below
        shutil.rmtree(self.scratch, ignore_errors=True)
        self.pending.discard()

    def _chart_sheet(self) -> Worksheet:
        sheet = self.book.add_worksheet(CHART_SHEET)
        sheet.freeze_panes(1, 0)
        sheet.set_column(0, 0, 17)
        sheet.set_column(1, max(1, len(self.chart_sections)), 14, self.minutes)
        sheet.write_string(0, 0, "期間", self.head)
        for col, name in enumerate(self.chart_sections.values(), start=1):
            sheet.write_string(0, col, f"{name} 平均待ち時間(分)", self.head)
        return sheet

    def _chart_rows(self, fig: pl.DataFrame) -> None:
        """One row per hour of ``fig`` with each chart section's mean wait (reception) in minutes."""
        waits = fig.filter((pl.col("kind") == "section") & (pl.col("stage") == "reception")
                           & pl.col("key").is_in(list(self.chart_sections)))
        column = {key: col for col, key in enumerate(self.chart_sections, start=1)}
        sheet, row, period = self.chart_sheet, self.chart_rows, None
        assert sheet is not None
        for when, key, wait in waits.select("period", "key", (pl.col("wait_mean_s") / 60).round(2)).iter_rows():
            if when != period:
                row, period = row + 1, when
                sheet.write_string(row, 0, when)
            if wait is not None:
                sheet.write_number(row, column[key], wait, self.minutes)
        self.chart_rows = row

    def _chart(self) -> None:
        chart = self.book.add_chart({"type": "line"})
        assert chart is not None
        chart.set_title({"name": "係別 時間帯ごとの平均待ち時間（受付）"})
        chart.set_x_axis({"name": "時間帯"})
        chart.set_y_axis({"name": "分"})
        last = max(1, self.chart_rows)
        sheet = f"'{CHART_SHEET}'"
        for col in range(1, len(self.chart_sections) + 1):
            cell = xl_rowcol_to_cell(0, col, row_abs=True, col_abs=True)
            chart.add_series({
                "name": f"={sheet}!{cell}",
                "categories": f"={sheet}!{xl_range_abs(1, 0, last, 0)}",
                "values": f"={sheet}!{xl_range_abs(1, col, last, col)}",
                "marker": {"type": "circle", "size": 4},
            })
        assert self.chart_sheet is not None
        self.chart_sheet.insert_chart(
            1, len(self.chart_sections) + 2, chart,
            {"x_scale": 960 / 480, "y_scale": 420 / 288,
             "description": "係ごとの平均待ち時間（受付、分）を時間帯ごとに示す折れ線グラフ。値は左の表にあります。"})


#: Output columns, in order (as :func:`presented` gives them).
COLUMNS = ("period", "kind", "key", "name", "stage", "issued", "arrivals", "served", "no_show", "cancelled",
           "transferred", "unserved", *MINUTES, "within_target")
_EMPTY = pl.DataFrame(schema={"period": pl.String, "kind": pl.String, "key": pl.String, "name": pl.String,
                              "stage": pl.String, **{c: pl.Int64 for c in ("issued", "arrivals", "served", "no_show",
                                                                           "cancelled", "transferred", "unserved")},
                              **{f"{m}_s": pl.Float64 for m in MINUTES}, "within_target": pl.Float64})
