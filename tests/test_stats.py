"""Statistics (issue 5): figures from a known event log, checked against an oracle in plain Python."""

from __future__ import annotations

import csv
import io
import math
import re
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from stats.figures import figures, stages
from stats.layout import OfficeLayout
from stats.report import parts
from stats.source import Reader

from .statskit import AFTER_MIDNIGHT, DAYS, TOKYO, History, build_log, oracle

TARGET_S = 1200.0
MEASURES = ("issued", "arrivals", "served", "no_show", "cancelled", "transferred", "unserved", "wait_mean_s",
            "wait_min_s", "wait_max_s", "wait_median_s", "wait_p90_s", "service_mean_s", "within_target")


@pytest.fixture(scope="module")
def log(tmp_path_factory: pytest.TempPathFactory) -> tuple[History, str, Path]:
    path = tmp_path_factory.mktemp("stats") / "madoguchi.sqlite3"
    h, url = build_log(path)
    return h, url, path


def computed(h: History, url: str, by: str, sections: list[str] | None = None) -> dict[Any, dict[str, Any]]:
    reader = Reader(url, in_server=False)
    st = stages(reader.events(DAYS[0], DAYS[-1]))
    fig = figures(st, reader.dimensions(h.layout), by, TARGET_S, sections)
    return {(r["period"], r["kind"], r["key"], r["stage"]): r for r in fig.iter_rows(named=True)}


def same(a: float | int | None, b: float | int | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6)


def test_an_export_reads_half_months_and_knows_which_part_ends_its_month() -> None:
    d = date
    assert [(p.first, p.last, p.closes) for p in parts(d(2026, 1, 10), d(2026, 3, 15))] == [
        (d(2026, 1, 10), d(2026, 1, 15), False), (d(2026, 1, 16), d(2026, 1, 31), True),
        (d(2026, 2, 1), d(2026, 2, 15), False), (d(2026, 2, 16), d(2026, 2, 28), True),
        (d(2026, 3, 1), d(2026, 3, 15), True)]  # the run ends on the 15th: that part ends March
    assert [(p.first, p.last, p.closes) for p in parts(d(2026, 1, 31), d(2026, 2, 1))] == [
        (d(2026, 1, 31), d(2026, 1, 31), True), (d(2026, 2, 1), d(2026, 2, 1), True)]


@pytest.mark.parametrize("by", ["hour", "day", "month"])
def test_every_figure_matches_the_oracle(log: tuple[History, str, Path], by: str) -> None:
    h, url, _ = log
    expected = oracle(h, by, TARGET_S)
    got = computed(h, url, by)
    assert set(got) == set(expected)
    for key, want in expected.items():
        for m in MEASURES:
            assert same(got[key][m], want[m]), (key, m, got[key][m], want[m])


def test_the_history_covers_what_the_definitions_speak_of(log: tuple[History, str, Path]) -> None:
    h, url, _ = log
    outcomes = {s.outcome for s in h.stages}
    assert {"served", "no_show", "cancelled", "transferred", "unserved"} <= outcomes
    assert {s.begin for s in h.stages} == {"issued", "transfer", "next"}
    assert any(e.event.type == "ticket.recalled" for e in h.records)
    assert any(e.event.type == "ticket.reinstated" for e in h.records)
    assert any(e.event.type == "ticket.held" for e in h.records)
    day = computed(h, url, "day")
    assert {p for p, *_ in day} == {
        "2026-01-15",
        "2026-01-30",
        "2026-01-31",
        "2026-02-02",
    }  # 1 February: no opening, no rows
    hour = computed(h, url, "hour")
    assert ("2026-01-31 23:00", "section", "shomei", "reception") in hour  # Tokyo time, not UTC (14:00)
    assert ("2026-02-02 00:00", "section", "shomei", "reception") in hour or any(
        p == "2026-02-02 00:00" for p, *_ in hour
    )
    month = computed(h, url, "month")
    assert {p for p, *_ in month} == {"2026-01", "2026-02"}
    late = month[("2026-01", "procedure", "shomei", "reception")]
    assert late["no_show"] >= 1
    # A transferred visit counts in both queues; the hand-over stage stands on its own.
    assert (
        month[("2026-01", "procedure", "idou", "reception")]["arrivals"]
        > month[("2026-01", "procedure", "idou", "reception")]["issued"]
    )
    assert month[("2026-01", "section", "service", "handover")]["issued"] == 0
    assert month[("2026-01", "section", "service", "handover")]["served"] > 0


def test_a_section_filter_keeps_only_its_queues(log: tuple[History, str, Path]) -> None:
    h, url, _ = log
    got = computed(h, url, "day", ["juki"])
    assert {k[2] for k in got if k[1] == "section"} == {"juki"}
    assert {k[2] for k in got if k[1] == "procedure"} <= {"idou", "inkan", "mynumber"}
    assert {k[2] for k in got if k[1] == "counter"} == {"10"}


# ------------------------------------------------------------------ exports
def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "server.cli", "stats", *args], capture_output=True, text=True, timeout=120
    )


def db_args(url: str) -> list[str]:
    return [
        "--db",
        url,
        "--from",
        DAYS[0].isoformat(),
        "--to",
        DAYS[-1].isoformat(),
        "--target-min",
        str(TARGET_S / 60),
    ]


HEADER = [
    "期間",
    "区分",
    "コード",
    "名称",
    "段階",
    "発券数",
    "受付数",
    "対応数",
    "不在",
    "取消",
    "転送",
    "本日終了(未対応)",
    "平均待ち時間(分)",
    "最短待ち時間(分)",
    "最長待ち時間(分)",
    "待ち時間中央値(分)",
    "待ち時間90%値(分)",
    "平均対応時間(分)",
    "目標時間内の割合",
]
KIND = {"係": "section", "手続": "procedure", "窓口": "counter", "職員": "clerk"}
STAGE = {"受付": "reception", "交付": "handover", "": None, None: None}


def check_rows(rows: list[list[Any]], expected: dict[Any, dict[str, Any]], share: float, minutes_tol: float,
               share_tol: float) -> None:
    """Rows of an export (after the header) against the oracle: counts exact,
    minutes within ``minutes_tol`` and shares (times ``share``: 100 for
    percent) within ``share_tol``, as the file rounds them."""
    assert len(rows) == len(expected)
    for row in rows:
        key = (row[0], KIND[row[1]], str(row[2]), STAGE[row[4] or None])
        want = expected[key]
        for col, m in enumerate(MEASURES, start=5):
            value = row[col]
            value = None if value in ("", None) else float(value)
            if want[m] is None:
                assert value is None, (key, m, value)
            elif m.endswith("_s"):
                assert abs(value - want[m] / 60) <= minutes_tol, (key, m, value, want[m] / 60)
            elif m == "within_target":
                assert abs(value - want[m] * share) <= share_tol, (key, m, value, want[m])
            else:
                assert value == want[m], (key, m, value, want[m])


@pytest.mark.parametrize(("by", "encoding"), [("day", "utf-8"), ("month", "shift_jis")])
def test_csv_in_utf8_with_bom_or_shift_jis_and_every_value_matches(
    log: tuple[History, str, Path], tmp_path: Path, by: str, encoding: str
) -> None:
    h, url, _ = log
    out = tmp_path / f"{by}.csv"
    done = cli(*db_args(url), "--by", by, "--format", "csv", "--out", str(out), "--encoding", encoding)
    assert done.returncode == 0, done.stderr
    raw = out.read_bytes()
    if encoding == "utf-8":
        assert raw.startswith(b"\xef\xbb\xbf")  # so Japanese Excel reads it as UTF-8
        text = raw.decode("utf-8-sig")
    else:
        assert not raw.startswith(b"\xef\xbb\xbf") and "期間".encode("cp932") in raw
        text = raw.decode("cp932")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == HEADER
    check_rows(
        rows[1:], oracle(h, by, TARGET_S), share=100, minutes_tol=0.05 + 1e-9, share_tol=0.05 + 1e-9
    )  # both to 0.1


def test_xlsx_has_a_sheet_per_granularity_japanese_headers_formats_and_a_chart(
    log: tuple[History, str, Path], tmp_path: Path
) -> None:
    h, url, _ = log
    out = tmp_path / "figures.xlsx"
    done = cli(*db_args(url), "--format", "xlsx", "--out", str(out))
    assert done.returncode == 0, done.stderr
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["時間別", "日別", "月別", "時間別グラフ"]
    for by, name in (("hour", "時間別"), ("day", "日別"), ("month", "月別")):
        sheet = book[name]
        assert sheet.freeze_panes == "A2"
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert rows[0] == HEADER
        expected = oracle(h, by, TARGET_S)
        if by == "hour":  # counters and clerks by the hour are in the hourly CSV
            expected = {k: v for k, v in expected.items() if k[1] in ("section", "procedure")}
        check_rows(
            rows[1:], expected, share=1, minutes_tol=0.005 + 1e-9, share_tol=0.00005 + 1e-9
        )  # to 0.01 min, 0.01 %
        assert sheet.cell(2, 13).number_format == "0.0" and sheet.cell(2, 19).number_format == "0.0%"
    # The chart's sheet: a row per hour, a column per section with a reception queue, its mean wait.
    graph: list[list[Any]] = [list(r) for r in book["時間別グラフ"].iter_rows(values_only=True)]
    names = {s.id: s.name.ja for s in h.layout.sections.values()}
    assert graph[0] == [
        "期間",
        *(f"{names[s]} 平均待ち時間(分)" for s in ("koseki", "shomei", "juki")),
    ]  # service: hand-over only
    hourly = {k: v for k, v in oracle(h, "hour", TARGET_S).items() if k[1] == "section" and k[3] == "reception"}
    assert [r[0] for r in graph[1:]] == sorted({k[0] for k in hourly})
    for row in graph[1:]:
        for section, value in zip(("koseki", "shomei", "juki"), row[1:], strict=True):
            want = hourly.get((row[0], "section", section, "reception"), {}).get("wait_mean_s")
            assert (value is None) if want is None else abs(value - want / 60) <= 0.005 + 1e-9, (
                row[0],
                section,
                value,
                want,
            )
    import zipfile

    with zipfile.ZipFile(out) as z:
        chart = z.read(next(n for n in z.namelist() if n.startswith("xl/charts/chart"))).decode()
        assert "lineChart" in chart
        assert re.findall(r"<a:t>([^<]*)</a:t>", chart) == [
            "係別 時間帯ごとの平均待ち時間（受付）",
            "時間帯",
            "分",
        ]  # title, axes
        last = len(graph)
        assert re.findall(r"<c:f>([^<]*)</c:f>", chart)[:3] == [  # the first series: its name, hours and waits
            "'時間別グラフ'!$B$1",
            f"'時間別グラフ'!$A$2:$A${last}",
            f"'時間別グラフ'!$B$2:$B${last}",
        ]
        drawing = z.read(next(n for n in z.namelist() if n.startswith("xl/drawings/drawing"))).decode()
        assert 'descr="係ごとの平均待ち時間（受付、分）を時間帯ごとに示す折れ線グラフ' in drawing  # alternative text


# --------------------------------------------------------------- bad input
def test_bad_arguments_get_a_clear_error_and_exit_code_2(log: tuple[History, str, Path], tmp_path: Path) -> None:
    _, url, _ = log
    out = tmp_path / "x.csv"
    cases = [
        (
            ["--db", url, "--from", "2026-02-02", "--to", "2026-01-30", "--format", "csv", "--out", str(out)],
            "--from 2026-02-02 is after --to 2026-01-30",
        ),
        (
            ["--db", url, "--from", "2026-02-30", "--to", "2026-03-01", "--format", "csv", "--out", str(out)],
            "--from '2026-02-30' is not a date",
        ),
        (
            [*db_args(url), "--section", "nenkin", "--format", "csv", "--out", str(out)],
            "--section 'nenkin': no such section (known: koseki, shomei, juki, service)",
        ),
        ([*db_args(url), "--format", "csv", "--out", str(tmp_path / "no-such-folder" / "x.csv")], "does not exist"),
        ([*db_args(url), "--format", "csv", "--out", str(tmp_path)], "is a folder"),
        (
            [*db_args(url), "--format", "csv", "--by", "day", "--by", "hour", "--out", str(out)],
            "a CSV holds one granularity",
        ),
    ]
    for args, message in cases:
        done = cli(*args)
        assert done.returncode == 2 and message in done.stderr, (args, done.returncode, done.stderr)
        assert "Traceback" not in done.stderr
    assert not out.exists()
    done = cli(
        "--db",
        f"sqlite+aiosqlite:///{tmp_path / 'missing.sqlite3'}",
        "--from",
        "2026-01-01",
        "--to",
        "2026-01-02",
        "--format",
        "csv",
        "--out",
        str(out),
    )
    assert done.returncode == 1 and "no database at" in done.stderr


def test_a_failed_export_leaves_the_previous_file_as_it_was(log: tuple[History, str, Path], tmp_path: Path) -> None:
    import shutil
    import sqlite3

    _, _, path = log
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(path, copy)
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE staff SET display_name = '𠮷田' WHERE id = 's-doi'")  # not in Shift_JIS
    out = tmp_path / "day.csv"
    out.write_text("last month's file", encoding="utf-8")
    done = cli(
        *db_args(f"sqlite+aiosqlite:///{copy}"),
        "--by",
        "day",
        "--format",
        "csv",
        "--out",
        str(out),
        "--encoding",
        "shift_jis",
    )
    assert done.returncode == 2 and "cannot be written in Shift_JIS" in done.stderr and "𠮷" in done.stderr
    assert out.read_text(encoding="utf-8") == "last month's file"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".day.csv")] == []  # no temporary left
    done = cli(*db_args(f"sqlite+aiosqlite:///{copy}"), "--by", "day", "--format", "csv", "--out", str(out))
    assert done.returncode == 0 and "𠮷田" in out.read_text(encoding="utf-8-sig")


def nightly_run(url: str, folder: Path) -> subprocess.CompletedProcess[str]:
    """``madoguchi stats-nightly`` for the first day of the log into ``folder``."""
    command = [sys.executable, "-m", "server.cli", "stats-nightly", "--db", url, "--dir", str(folder),
               "--day", DAYS[0].isoformat()]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_the_nightly_files_come_together_or_not_at_all(log: tuple[History, str, Path], tmp_path: Path) -> None:
    _, url, _ = log
    nightly = tmp_path / "nightly"
    nightly.mkdir()
    (nightly / f"madoguchi-{DAYS[0].isoformat()}.xlsx").mkdir()  # the workbook cannot be put in place
    done = nightly_run(url, nightly)
    assert done.returncode == 2 and "cannot write to" in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert [p.name for p in nightly.iterdir()] == [f"madoguchi-{DAYS[0].isoformat()}.xlsx"]  # no CSV, no temporary
    (nightly / f"madoguchi-{DAYS[0].isoformat()}.xlsx").rmdir()
    done = nightly_run(url, nightly)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in nightly.iterdir()) == [
        f"madoguchi-{DAYS[0].isoformat()}{suffix}" for suffix in ("-day.csv", "-hour.csv", ".xlsx")
    ]


def test_a_sheet_past_excels_last_row_is_refused_and_the_earlier_workbook_stays(
    log: tuple[History, str, Path], tmp_path: Path
) -> None:
    from stats.export import MAX_ROW, ExportError, XlsxWriter

    h, url, _ = log
    reader = Reader(url, in_server=False)
    day = figures(stages(reader.events(DAYS[0], DAYS[0])), reader.dimensions(h.layout), "day", TARGET_S)
    out = tmp_path / "long.xlsx"
    out.write_bytes(b"earlier")
    book = XlsxWriter(out, ["day"], {})
    book.rows["day"] = MAX_ROW - day.height  # as if a long range had filled the sheet so far
    book.append("day", day)  # exactly up to row 1,048,576
    with pytest.raises(ExportError, match="would pass Excel's 1,048,576 rows"):
        book.append("day", day.head(1))
    book.discard()
    assert out.read_bytes() == b"earlier" and sorted(p.name for p in tmp_path.iterdir()) == ["long.xlsx"]


def test_a_name_that_looks_like_a_formula_stays_text_in_the_workbook(
    log: tuple[History, str, Path], tmp_path: Path
) -> None:
    import shutil
    import sqlite3

    _, _, path = log
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(path, copy)
    with sqlite3.connect(copy) as db:
        db.execute("UPDATE staff SET display_name = '=HYPERLINK(\"http://x.invalid\",\"土井\")' WHERE id = 's-doi'")
    out = tmp_path / "figures.xlsx"
    done = cli(*db_args(f"sqlite+aiosqlite:///{copy}"), "--by", "day", "--format", "xlsx", "--out", str(out))
    assert done.returncode == 0, done.stderr
    sheet = openpyxl.load_workbook(out)["日別"]
    cells = [row[3] for row in sheet.iter_rows(min_row=2) if row[2].value == "s-doi"]
    assert cells and all(c.data_type == "s" and str(c.value).startswith("=HYPERLINK(") for c in cells)


def test_the_queue_server_starts_without_polars_or_connectorx() -> None:
    """Polars comes in only when a supervisor asks for today so far; connectorx never (it carries
    its own SQLite library, and two in one process break each other's locks)."""
    code = "import sys, server.cli, server.app; print('polars' in sys.modules, 'connectorx' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["False", "False"], done.stdout + done.stderr


# ------------------------------------------------------------------ the cache of closed days
def run_export(url: str, layout: OfficeLayout, out: Path, first: date, last: date,
               cache: Path | None) -> dict[str, bytes]:
    """CSVs of all three granularities and the workbook's sheets, with ``today`` 2 February 2026."""
    from stats.report import export

    out.mkdir()
    csv_paths = {g: out / f"{g}.csv" for g in ("hour", "day", "month")}
    export(
        Reader(url, in_server=False),
        layout,
        first,
        last,
        ("hour", "day", "month"),
        TARGET_S,
        csv=csv_paths,
        xlsx=out / "book.xlsx",
        cache=cache,
        today=AFTER_MIDNIGHT,
    )
    files = {g: p.read_bytes() for g, p in csv_paths.items()}
    book = openpyxl.load_workbook(out / "book.xlsx")
    for name in book.sheetnames:
        files[name] = repr([list(r) for r in book[name].iter_rows(values_only=True)]).encode()
    return files


def test_closed_days_come_from_the_cache_with_the_same_figures_and_a_grown_day_is_read_again(
    log: tuple[History, str, Path], tmp_path: Path
) -> None:
    import shutil
    import sqlite3

    h, _, path = log
    copy = tmp_path / "copy.sqlite3"
    shutil.copy(path, copy)
    url = f"sqlite+aiosqlite:///{copy}"
    cache = tmp_path / "stats-cache"
    for first, last in ((date(2026, 1, 1), date(2026, 1, 31)), (DAYS[0], DAYS[-1])):  # the first: a whole month
        tag = first.isoformat()
        plain = run_export(url, h.layout, tmp_path / f"plain-{tag}", first, last, None)
        cold = run_export(url, h.layout, tmp_path / f"cold-{tag}", first, last, cache)
        warm = run_export(url, h.layout, tmp_path / f"warm-{tag}", first, last, cache)
        assert plain == cold == warm
    kept = sorted(p.name.split("_")[0] for p in cache.glob("v*/stages/*.parquet"))
    assert kept == ["2026-01-15", "2026-01-30", "2026-01-31"]  # 2 February is today: never kept
    figures_dir = next(cache.glob("v*/figures-*"))
    assert sorted(p.name.split("_")[0] for p in figures_dir.glob("*.parquet")) == [
        "2026-01",
        *kept,
    ]  # and the whole of January
    rows = list(csv.reader(io.StringIO((tmp_path / f"warm-{DAYS[0].isoformat()}" / "day.csv").read_text("utf-8-sig"))))
    check_rows(rows[1:], oracle(h, "day", TARGET_S), share=100, minutes_tol=0.05 + 1e-9, share_tol=0.05 + 1e-9)

    # Closed days are not read again: the log's middle rows of 30 January can go (the log is
    # append-only, so that never happens) and the figures stay those kept.
    with sqlite3.connect(copy) as db:
        lo, hi = db.execute("SELECT MIN(seq), MAX(seq) FROM events WHERE business_day = '2026-01-30'").fetchone()
        db.execute("DELETE FROM events WHERE business_day = '2026-01-30' AND seq > ? AND seq < ?", (lo, hi))
    again = run_export(url, h.layout, tmp_path / "again", DAYS[0], DAYS[-1], cache)
    assert again == plain
    # A kept file that cannot be read counts as missing.
    next(figures_dir.glob("2026-01-15_*.parquet")).write_bytes(b"not parquet")
    assert run_export(url, h.layout, tmp_path / "repaired", DAYS[0], DAYS[-1], cache) == plain

    # A day that grows (a server whose clock was behind) is read again, and its month with it.
    shutil.copy(path, copy)
    with sqlite3.connect(copy) as db:
        seq = db.execute("SELECT MAX(seq) FROM events").fetchone()[0] + 1
        at_us = int(datetime(2026, 1, 30, 10, 0, tzinfo=TOKYO).timestamp() * 1_000_000)
        db.execute(
            "INSERT INTO events (seq, business_day, at_us, type, ticket, queue, counter, staff, data) "
            "VALUES (?, '2026-01-30', ?, 'ticket.issued', '20260130-00999', 'koseki', NULL, NULL, "
            '\'{"ticket":"20260130-00999","queue":"koseki"}\')',
            (seq, at_us),
        )
    grown = run_export(url, h.layout, tmp_path / "grown", date(2026, 1, 1), date(2026, 1, 31), cache)
    fresh = run_export(url, h.layout, tmp_path / "fresh", date(2026, 1, 1), date(2026, 1, 31), None)
    assert grown == fresh
    month = {r[2]: r for r in csv.reader(io.StringIO(grown["month"].decode("utf-8-sig"))) if r[1] == "手続"}
    before = oracle(h, "month", TARGET_S)[("2026-01", "procedure", "koseki", "reception")]
    assert int(month["koseki"][5]) == int(before["issued"] or 0) + 1  # the new ticket counts
    assert len(list(cache.glob("v*/stages/2026-01-30_*.parquet"))) == 1  # the old file of that day went


def test_the_statistics_do_not_import_the_server_and_connectorx_is_refused_inside_it() -> None:
    code = (
        "import sys, stats.report, stats.cli, stats.nightly, stats.cache; "
        "print(sorted(m for m in sys.modules if m == 'server' or m.startswith('server.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr
    with pytest.raises(RuntimeError, match="inside the queue server"):
        Reader("sqlite+aiosqlite:////nonexistent.sqlite3", in_server=True)
