"""The figures as CSV and XLSX, with Japanese headers and times in minutes.

CSV is UTF-8 with a byte-order mark by default, so Japanese Excel opens it
correctly, or Shift_JIS (Windows code page 932) on request. XLSX has one sheet
per granularity (時間別, 日別, 月別) with a frozen header row and number
formats, plus a sheet 時間別グラフ with each section's mean wait per hour and a
line chart of it. The 時間別 sheet holds sections and procedures; counters
and clerks by the hour are in the hourly CSV (a year of them is some 100,000
rows, more than a sheet is for). Both are written month by month as the
figures come (a period never spans two months), under a temporary name that
is renamed at the end, so a failed export never leaves half a file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import polars as pl
import xlsxwriter

#: Column → Japanese header, in output order.
HEADERS = {
    "period": "期間", "kind": "区分", "key": "コード", "name": "名称", "stage": "段階",
    "issued": "発券数", "arrivals": "受付数", "served": "対応数", "no_show": "不在", "cancelled": "取消",
    "transferred": "転送", "wait_mean": "平均待ち時間(分)", "wait_min": "最短待ち時間(分)",
    "wait_max": "最長待ち時間(分)", "wait_median": "待ち時間中央値(分)", "wait_p90": "待ち時間90%値(分)",
    "service_mean": "平均対応時間(分)", "within_target": "目標時間内の割合",
}
KIND_JA = {"section": "係", "procedure": "手続", "counter": "窓口", "clerk": "職員"}
STAGE_JA = {"reception": "受付", "handover": "交付"}
SHEETS = {"hour": "時間別", "day": "日別", "month": "月別"}
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
        "issued", "arrivals", "served", "no_show", "cancelled", "transferred",
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


class CsvWriter:
    """One granularity's CSV, appended to month by month: minutes to 0.1 and
    the share as a percentage to 0.1. :meth:`append` raises
    :class:`ExportError` for a character Shift_JIS cannot hold."""

    def __init__(self, path: Path, encoding: str = "utf-8") -> None:
        self.pending = _Pending(path)
        self.codec = ENCODINGS[encoding]
        self.file = open(self.pending.tmp, "wb")  # noqa: SIM115 (closed in close/discard)
        self.header = True

    def append(self, fig: pl.DataFrame) -> None:
        """Write ``fig``'s rows (the header before the first)."""
        table = presented(fig).with_columns(
            *(pl.col(m).round(1) for m in MINUTES), (pl.col("within_target") * 100).round(1))
        text = table.rename(HEADERS).write_csv(include_header=self.header)
        codec = self.codec if self.header else self.codec.replace("utf-8-sig", "utf-8")
        try:
            self.file.write(text.encode(codec))
        except UnicodeEncodeError as err:
            raise ExportError(f"{text[err.start:err.end]!r} cannot be written in Shift_JIS; use --encoding utf-8") from None
        self.header = False

    def close(self) -> None:
        """Finish and put the file in place."""
        if self.header:
            self.append(_EMPTY)
        self.file.close()
        self.pending.commit()

    def discard(self) -> None:
        """Drop the half-written file; the earlier one stays."""
        self.file.close()
        self.pending.discard()


class XlsxWriter:
    """The workbook, appended to month by month: one sheet per granularity in
    ``granularities`` (in the order hour, day, month), then 時間別グラフ."""

    def __init__(self, path: Path, granularities: Iterable[str]) -> None:
        self.pending = _Pending(path)
        self.book = xlsxwriter.Workbook(str(self.pending.tmp), {"constant_memory": True})
        self.head = self.book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        number = self.book.add_format({"num_format": "#,##0"})
        self.minutes = self.book.add_format({"num_format": "0.0"})
        share = self.book.add_format({"num_format": "0.0%"})
        formats = {**{c: number for c in ("issued", "arrivals", "served", "no_show", "cancelled", "transferred")},
                   **{c: self.minutes for c in MINUTES}, "within_target": share}
        widths = {"period": 17, "name": 28, "kind": 6, "key": 12, "stage": 6}
        self.sheets: dict[str, Any] = {}
        self.rows: dict[str, int] = {}
        for by in ("hour", "day", "month"):
            if by in granularities:
                sheet = self.book.add_worksheet(SHEETS[by])
                sheet.freeze_panes(1, 0)
                for col, name in enumerate(COLUMNS):
                    sheet.set_column(col, col, widths.get(name, 11), formats.get(name))
                    sheet.write(0, col, HEADERS[name], self.head)
                self.sheets[by], self.rows[by] = sheet, 0
        self.hourly: list[pl.DataFrame] = []

    def append(self, by: str, fig: pl.DataFrame) -> None:
        """Write ``fig``'s rows on the sheet of ``by``."""
        if by == "hour":
            self.hourly.append(fig.filter((pl.col("kind") == "section") & (pl.col("stage") == "reception"))
                               .select("period", "name", (pl.col("wait_mean_s") / 60).alias("wait")))
            fig = fig.filter(pl.col("kind").is_in(["section", "procedure"]))
        sheet, row = self.sheets[by], self.rows[by]
        write_row = sheet.write_row  # a None cell is left blank
        for row, values in enumerate(presented(fig).iter_rows(), start=row + 1):
            write_row(row, 0, values)
        self.rows[by] = row

    def close(self) -> None:
        """Add filters and the chart, finish and put the file in place."""
        for by, sheet in self.sheets.items():
            sheet.autofilter(0, 0, max(self.rows[by], 1), len(COLUMNS) - 1)
        if "hour" in self.sheets:
            self._chart(pl.concat(self.hourly) if self.hourly else pl.DataFrame(
                schema={"period": pl.String, "name": pl.String, "wait": pl.Float64}))
        self.book.close()
        self.pending.commit()

    def discard(self) -> None:
        """Drop the half-written workbook; the earlier file stays."""
        with contextlib.suppress(Exception):
            self.book.close()
        self.pending.discard()

    def _chart(self, hourly: pl.DataFrame) -> None:
        wide = hourly.pivot(on="name", index="period", values="wait").sort("period") if hourly.height else hourly.select("period")
        sheet = self.book.add_worksheet("時間別グラフ")
        sheet.freeze_panes(1, 0)
        sheet.set_column(0, 0, 17)
        sheet.set_column(1, max(1, wide.width - 1), 14, self.minutes)
        sheet.write(0, 0, "期間", self.head)
        for col, name in enumerate(wide.columns[1:], start=1):
            sheet.write(0, col, f"{name} 平均待ち時間(分)", self.head)
        for row, values in enumerate(wide.iter_rows(), start=1):
            for col, value in enumerate(values):
                if value is not None:
                    sheet.write(row, col, value)
        chart = self.book.add_chart({"type": "line"})
        last = max(1, wide.height)
        for col in range(1, wide.width):
            chart.add_series({"name": ["時間別グラフ", 0, col], "categories": ["時間別グラフ", 1, 0, last, 0],
                              "values": ["時間別グラフ", 1, col, last, col], "marker": {"type": "circle", "size": 4}})
        chart.set_title({"name": "係別 時間帯ごとの平均待ち時間（受付）"})
        chart.set_x_axis({"name": "時間帯"})
        chart.set_y_axis({"name": "分"})
        chart.set_size({"width": 960, "height": 420})
        sheet.insert_chart(1, wide.width + 1, chart)


#: Output columns, in order (as :func:`presented` gives them).
COLUMNS = ("period", "kind", "key", "name", "stage", "issued", "arrivals", "served", "no_show", "cancelled",
           "transferred", *MINUTES, "within_target")
_EMPTY = pl.DataFrame(schema={"period": pl.String, "kind": pl.String, "key": pl.String, "name": pl.String,
                              "stage": pl.String, **{c: pl.Int64 for c in ("issued", "arrivals", "served", "no_show",
                                                                           "cancelled", "transferred")},
                              **{f"{m}_s": pl.Float64 for m in MINUTES}, "within_target": pl.Float64})
