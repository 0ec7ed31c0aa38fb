"""Excel workbooks through libxlsxwriter, a thin ctypes adapter.

libxlsxwriter is the C library by the author of the Python XlsxWriter, with
the same file output (Debian package ``libxlsxwriter4``; also in Ubuntu,
Fedora and Homebrew). The statistics write some 700,000 cells for a year;
the pure-Python XlsxWriter spent about 5 µs of interpreter time on each (3.4 s
of a year's export, the largest part), a call into the C library about 1.5 µs
from Python, the loop included (``bench/stats_year.py``). This module declares
the few C functions the statistics need, with the signatures, enumerations
and structures of libxlsxwriter 1.1.4's headers (Debian 12), and nothing else:
the XLSX itself is the library's work.

Calls go through :class:`ctypes.PyDLL`, which keeps the GIL for the short cell
calls instead of handing it to other threads a million times; only
:meth:`Workbook.close`, which assembles and compresses the file in C, releases
it. The library is looked up as ``libxlsxwriter`` on the system's library
path, or taken from ``MADOGUCHI_LIBXLSXWRITER`` (a file path) when that is set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

#: Excel's last row index (1,048,576 rows, zero-based).
MAX_ROW = 1_048_575

# Enumerations from libxlsxwriter's headers (chart.h, format.h).
_CHART_LINE = 11  # enum lxw_chart_type
_AXIS = {"x": 0, "y": 1}  # lxw_chart_axis_type
_MARKERS = {"circle": 9}  # enum lxw_chart_marker_type
_BORDER_THIN = 1  # enum lxw_format_borders
_DEFAULT_CHART_PX = (480, 288)  # a chart's size before scaling (worksheet.h)


class XlsxError(Exception):
    """The workbook could not be made or written (message for people)."""


class _WorkbookOptions(ctypes.Structure):
    """``lxw_workbook_options`` (workbook.h), with zeroed room after it for
    fields a later version may add."""

    _fields_ = [("constant_memory", ctypes.c_uint8), ("tmpdir", ctypes.c_char_p), ("use_zip64", ctypes.c_uint8),
                ("_room", ctypes.c_uint8 * 64)]


class _ChartOptions(ctypes.Structure):
    """``lxw_chart_options`` (worksheet.h), with zeroed room after it for
    fields a later version may add."""

    _fields_ = [("x_offset", ctypes.c_int32), ("y_offset", ctypes.c_int32),
                ("x_scale", ctypes.c_double), ("y_scale", ctypes.c_double),
                ("object_position", ctypes.c_uint8), ("description", ctypes.c_char_p),
                ("decorative", ctypes.c_uint8), ("_room", ctypes.c_uint8 * 64)]


class _Ptr(ctypes.c_void_p):
    """A pointer the library returned, kept as a ctypes object: as a result
    type a subclass is not turned into an int, and passing the object back
    costs about a third less per call than passing an int (measured: 1.8
    against 2.4 µs a cell)."""


_P, _S, _U8, _U16, _U32, _D, _I = (_Ptr, ctypes.c_char_p, ctypes.c_uint8, ctypes.c_uint16,
                                   ctypes.c_uint32, ctypes.c_double, ctypes.c_int)
#: name → (result type, argument types); lxw_row_t is uint32, lxw_col_t uint16, lxw_error an int.
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "workbook_new_opt": (_P, [_S, ctypes.POINTER(_WorkbookOptions)]),
    "workbook_add_worksheet": (_P, [_P, _S]),
    "workbook_add_format": (_P, [_P]),
    "workbook_add_chart": (_P, [_P, _U8]),
    "format_set_num_format": (None, [_P, _S]),
    "format_set_bold": (None, [_P]),
    "format_set_bg_color": (None, [_P, _U32]),
    "format_set_border": (None, [_P, _U8]),
    "format_set_text_wrap": (None, [_P]),
    "worksheet_write_string": (_I, [_P, _U32, _U16, _S, _P]),
    "worksheet_write_number": (_I, [_P, _U32, _U16, _D, _P]),
    "worksheet_set_column": (_I, [_P, _U16, _U16, _D, _P]),
    "worksheet_freeze_panes": (None, [_P, _U32, _U16]),
    "worksheet_autofilter": (_I, [_P, _U32, _U16, _U32, _U16]),
    "worksheet_insert_chart_opt": (_I, [_P, _U32, _U16, _P, ctypes.POINTER(_ChartOptions)]),
    "chart_add_series": (_P, [_P, _S, _S]),
    "chart_series_set_categories": (None, [_P, _S, _U32, _U16, _U32, _U16]),
    "chart_series_set_values": (None, [_P, _S, _U32, _U16, _U32, _U16]),
    "chart_series_set_name_range": (None, [_P, _S, _U32, _U16]),
    "chart_series_set_marker_type": (None, [_P, _U8]),
    "chart_series_set_marker_size": (None, [_P, _U8]),
    "chart_title_set_name": (None, [_P, _S]),
    "chart_axis_get": (_P, [_P, _I]),
    "chart_axis_set_name": (None, [_P, _S]),
    "lxw_strerror": (_S, [_I]),
}


@functools.cache
def library() -> SimpleNamespace:
    """The bound C functions (attribute per name in ``_SIGNATURES``, plus
    ``workbook_close`` releasing the GIL). Raises :class:`XlsxError` when the
    library is missing or lacks a function."""
    path = os.environ.get("MADOGUCHI_LIBXLSXWRITER") or ctypes.util.find_library("xlsxwriter")
    if not path:
        raise XlsxError("Excel (XLSX) files need libxlsxwriter, which is not installed "
                        "(Debian: apt install libxlsxwriter4); CSV works without it")
    try:
        held, released = ctypes.PyDLL(path), ctypes.CDLL(path)
    except OSError:
        raise XlsxError("libxlsxwriter could not be loaded (Debian: apt install libxlsxwriter4); "
                        "CSV works without it") from None
    try:
        fns = {}
        for name, (result, args) in _SIGNATURES.items():
            fn = getattr(held, name)
            fn.restype, fn.argtypes = result, args
            fns[name] = fn
        close = released.workbook_close
    except AttributeError:
        raise XlsxError("the installed libxlsxwriter is too old (1.1 or newer is needed); "
                        "CSV works without it") from None
    close.restype, close.argtypes = _I, [_P]
    return SimpleNamespace(**fns, workbook_close=close)


def _check(code: int) -> None:
    if code:
        raise XlsxError(f"Excel file: {library().lxw_strerror(code).decode()}")


class Workbook:
    """An XLSX file at ``path``, written by :meth:`close`.

    In libxlsxwriter's constant-memory mode: each sheet is written row by
    row, in order, to a temporary file in ``path``'s folder as the cells
    come, so a row cannot be changed once a later row of its sheet is
    written, and :meth:`close` only puts the file together. Raises
    :class:`XlsxError` when the library is missing or the file cannot be made.
    """

    def __init__(self, path: Path) -> None:
        self.lib = library()
        folder = os.fsencode(path.parent)
        self._options = _WorkbookOptions(constant_memory=1, tmpdir=folder)
        self._keep: list[Any] = [folder]  # what the C side points at until close
        self.ptr = self.lib.workbook_new_opt(os.fsencode(path), ctypes.byref(self._options))
        if not self.ptr:
            raise XlsxError("Excel file: the workbook could not be made")

    def add_format(self, *, num_format: str | None = None, bold: bool = False, bg_color: int | None = None,
                   border: bool = False, text_wrap: bool = False) -> _Ptr:
        """A cell format; ``bg_color`` as ``0xRRGGBB``, ``border`` a thin line all round."""
        lib, fmt = self.lib, self.lib.workbook_add_format(self._live())
        if num_format is not None:
            lib.format_set_num_format(fmt, num_format.encode())
        if bold:
            lib.format_set_bold(fmt)
        if bg_color is not None:
            lib.format_set_bg_color(fmt, bg_color)
        if border:
            lib.format_set_border(fmt, _BORDER_THIN)
        if text_wrap:
            lib.format_set_text_wrap(fmt)
        return fmt

    def add_worksheet(self, name: str) -> Worksheet:
        """A new sheet named ``name`` (at most 31 characters, no ``[]:*?/\\``)."""
        ptr = self.lib.workbook_add_worksheet(self._live(), name.encode())
        if not ptr:
            raise XlsxError(f"Excel file: no sheet can be named {name!r}")
        return Worksheet(self, ptr, name)

    def add_line_chart(self, title: str, x_axis: str, y_axis: str) -> Chart:
        """A line chart with a title and axis names, to be filled with
        :meth:`Chart.add_series` and placed with :meth:`Worksheet.insert_chart`."""
        lib = self.lib
        ptr = lib.workbook_add_chart(self._live(), _CHART_LINE)
        lib.chart_title_set_name(ptr, title.encode())
        lib.chart_axis_set_name(lib.chart_axis_get(ptr, _AXIS["x"]), x_axis.encode())
        lib.chart_axis_set_name(lib.chart_axis_get(ptr, _AXIS["y"]), y_axis.encode())
        return Chart(self, ptr)

    def _live(self) -> _Ptr:
        """The workbook's pointer; raises :class:`XlsxError` once closed
        (the library has freed it and everything in it)."""
        if not self.ptr:
            raise XlsxError("Excel file: the workbook is already closed")
        return self.ptr

    def close(self) -> None:
        """Write the file and free the workbook (also after an error). Raises
        :class:`XlsxError` when the file cannot be written."""
        ptr, self.ptr = self.ptr, None
        if ptr:
            code = self.lib.workbook_close(ptr)
            self._keep.clear()
            _check(code)


class Worksheet:
    """One sheet of a :class:`Workbook`; rows and columns from 0."""

    def __init__(self, book: Workbook, ptr: _Ptr, name: str) -> None:
        self.book, self.ptr, self.name = book, ptr, name

    def _p(self) -> _Ptr:
        self.book._live()
        return self.ptr

    def write_string(self, row: int, col: int, text: str, fmt: _Ptr | None = None) -> None:
        """One text cell (never read as a formula or a link)."""
        _check(self.book.lib.worksheet_write_string(self._p(), row, col, text.encode(), fmt))

    def write_number(self, row: int, col: int, value: float, fmt: _Ptr | None = None) -> None:
        """One number cell."""
        _check(self.book.lib.worksheet_write_number(self._p(), row, col, value, fmt))

    def write_table(self, first_row: int, columns: Sequence[Sequence[Any]], text: Sequence[bool],
                    formats: Sequence[_Ptr | None]) -> None:
        """Rows ``first_row``.. (after every row written so far), columns
        0..: ``columns[c]`` holds column ``c``'s values (``None`` leaves the
        cell blank), written as text where ``text[c]``, else as numbers, with
        ``formats[c]``. Raises :class:`XlsxError` past Excel's last row or for
        a row already passed."""
        lib, ptr = self.book.lib, self._p()
        height = max((len(values) for values in columns), default=0)
        if height and first_row + height - 1 > MAX_ROW:
            raise XlsxError(f"the sheet {self.name} would pass Excel's 1,048,576 rows; "
                            "choose a shorter range, or CSV")
        write_string, write_number = lib.worksheet_write_string, lib.worksheet_write_number
        kinds = list(zip(text, formats))
        encoded: dict[str, bytes] = {}
        for row, values in enumerate(zip(*columns), start=first_row):
            for col, (value, (is_text, fmt)) in enumerate(zip(values, kinds)):
                if value is None:
                    continue
                if is_text:
                    data = encoded.get(value)
                    if data is None:
                        data = encoded[value] = value.encode()
                    code = write_string(ptr, row, col, data, fmt)
                else:
                    code = write_number(ptr, row, col, value, fmt)
                if code:
                    _check(code)

    def set_column(self, first: int, last: int, width: float, fmt: _Ptr | None = None) -> None:
        """Columns ``first``..``last``: width in characters and a default format."""
        _check(self.book.lib.worksheet_set_column(self._p(), first, last, width, fmt))

    def freeze_panes(self, row: int, col: int) -> None:
        """Keep the rows above ``row`` and the columns left of ``col`` in view."""
        self.book.lib.worksheet_freeze_panes(self._p(), row, col)

    def autofilter(self, first_row: int, first_col: int, last_row: int, last_col: int) -> None:
        """Filter buttons on ``first_row`` over the range."""
        _check(self.book.lib.worksheet_autofilter(self._p(), first_row, first_col, last_row, last_col))

    def insert_chart(self, row: int, col: int, chart: Chart, *, width_px: int, height_px: int,
                     description: str) -> None:
        """Place ``chart`` with its top left at the cell, ``width_px`` ×
        ``height_px``, with ``description`` as its alternative text."""
        text = description.encode()
        options = _ChartOptions(x_scale=width_px / _DEFAULT_CHART_PX[0], y_scale=height_px / _DEFAULT_CHART_PX[1],
                                description=text)
        self.book._keep.extend((text, options))
        _check(self.book.lib.worksheet_insert_chart_opt(self._p(), row, col, chart.ptr, ctypes.byref(options)))


class Chart:
    """A chart of a :class:`Workbook`."""

    def __init__(self, book: Workbook, ptr: _Ptr) -> None:
        self.book, self.ptr = book, ptr

    def add_series(self, sheet: str, name_cell: tuple[int, int], categories: tuple[int, int, int, int],
                   values: tuple[int, int, int, int], *, marker: str = "circle", marker_size: int = 4) -> None:
        """A series named by the cell ``name_cell`` (row, col) of ``sheet``,
        its categories and values ranges (first row, first col, last row,
        last col) on that sheet."""
        lib, name = self.book.lib, sheet.encode()
        self.book._live()
        series = lib.chart_add_series(self.ptr, None, None)
        if not series:
            raise XlsxError("Excel file: a chart series could not be added")
        lib.chart_series_set_categories(series, name, *categories)
        lib.chart_series_set_values(series, name, *values)
        lib.chart_series_set_name_range(series, name, *name_cell)
        lib.chart_series_set_marker_type(series, _MARKERS[marker])
        lib.chart_series_set_marker_size(series, marker_size)
