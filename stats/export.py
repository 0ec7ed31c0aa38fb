"""The figures as CSV and XLSX, with Japanese headers and times in minutes.

CSV is UTF-8 with a byte-order mark by default, so Japanese Excel opens it
correctly, or Shift_JIS (Windows code page 932) on request. XLSX has one sheet
per granularity (時間別, 日別, 月別) with a frozen header row and number
formats, plus a sheet 時間別グラフ with each section's mean wait per hour and a
line chart of it. The 時間別 sheet holds sections and procedures; counters
and clerks by the hour are in the hourly CSV (a year of them is some 100,000
rows, more than a sheet is for). Files are written to a temporary name and renamed, so a
failed export never leaves half a file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

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


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    directory = path.parent
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_csv(fig: pl.DataFrame, path: Path, encoding: str = "utf-8") -> None:
    """One granularity as CSV: minutes to 0.1, the share as a percentage to
    0.1. Raises :class:`ExportError` for a character Shift_JIS cannot hold."""
    table = presented(fig).with_columns(
        *(pl.col(m).round(1) for m in MINUTES), (pl.col("within_target") * 100).round(1))
    text = table.rename(HEADERS).write_csv()
    try:
        data = text.encode(ENCODINGS[encoding])
    except UnicodeEncodeError as err:
        bad = text[err.start:err.end]
        raise ExportError(f"{bad!r} cannot be written in Shift_JIS; use --encoding utf-8") from None
    _atomic(path, lambda tmp: tmp.write_bytes(data))


def write_xlsx(figs: Mapping[str, pl.DataFrame], path: Path) -> None:
    """One sheet per granularity in ``figs`` (keys ``hour``/``day``/``month``)
    and, with ``hour``, the sheet 時間別グラフ with its chart."""
    _atomic(path, lambda tmp: _xlsx(figs, tmp))


def _xlsx(figs: Mapping[str, pl.DataFrame], tmp: Path) -> None:
    with xlsxwriter.Workbook(str(tmp), {"constant_memory": True}) as book:
        head = book.add_format({"bold": True, "bg_color": "#DDEBF7", "border": 1, "text_wrap": True})
        number = book.add_format({"num_format": "#,##0"})
        minutes = book.add_format({"num_format": "0.0"})
        share = book.add_format({"num_format": "0.0%"})
        formats = {**{c: number for c in ("issued", "arrivals", "served", "no_show", "cancelled", "transferred")},
                   **{c: minutes for c in MINUTES}, "within_target": share}
        widths = {"period": 17, "name": 28, "kind": 6, "key": 12, "stage": 6}
        for by in ("hour", "day", "month"):
            if by not in figs:
                continue
            fig = figs[by]
            if by == "hour":
                fig = fig.filter(pl.col("kind").is_in(["section", "procedure"]))
            table = presented(fig)
            sheet = book.add_worksheet(SHEETS[by])
            sheet.freeze_panes(1, 0)
            for col, name in enumerate(table.columns):
                sheet.set_column(col, col, widths.get(name, 11), formats.get(name))
                sheet.write(0, col, HEADERS[name], head)
            for row, values in enumerate(table.iter_rows(), start=1):
                for col, value in enumerate(values):
                    if value is not None:
                        sheet.write(row, col, value)
            sheet.autofilter(0, 0, max(table.height, 1), len(table.columns) - 1)
        if "hour" in figs:
            _chart(book, figs["hour"], head, minutes)


def _chart(book: xlsxwriter.Workbook, hour: pl.DataFrame, head: object, minutes: object) -> None:
    wide = (hour.filter((pl.col("kind") == "section") & (pl.col("stage") == "reception"))
            .select("period", "name", (pl.col("wait_mean_s") / 60).alias("wait"))
            .pivot(on="name", index="period", values="wait").sort("period"))
    sheet = book.add_worksheet("時間別グラフ")
    sheet.freeze_panes(1, 0)
    sheet.set_column(0, 0, 17)
    sheet.set_column(1, max(1, wide.width - 1), 14, minutes)
    sheet.write(0, 0, "期間", head)
    for col, name in enumerate(wide.columns[1:], start=1):
        sheet.write(0, col, f"{name} 平均待ち時間(分)", head)
    for row, values in enumerate(wide.iter_rows(), start=1):
        for col, value in enumerate(values):
            if value is not None:
                sheet.write(row, col, value)
    chart = book.add_chart({"type": "line"})
    last = max(1, wide.height)
    for col in range(1, wide.width):
        chart.add_series({"name": ["時間別グラフ", 0, col], "categories": ["時間別グラフ", 1, 0, last, 0],
                          "values": ["時間別グラフ", 1, col, last, col], "marker": {"type": "circle", "size": 4}})
    chart.set_title({"name": "係別 時間帯ごとの平均待ち時間（受付）"})
    chart.set_x_axis({"name": "時間帯"})
    chart.set_y_axis({"name": "分"})
    chart.set_size({"width": 960, "height": 420})
    sheet.insert_chart(1, wide.width + 1, chart)
