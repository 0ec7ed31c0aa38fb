"""Statistics on the staff side (issue 5): exports with progress from a running server, today so far, nightly files."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import psutil
import pytest

from server.core.calendar import business_day
from stats.nightly import next_run

from .serverkit import ServerProcess, admin, clerk
from .statskit import DAYS, History, build_log, oracle

pytestmark = pytest.mark.slow


def test_the_nightly_run_is_at_the_set_time_in_tokyo() -> None:
    utc = UTC
    assert next_run(datetime(2026, 1, 30, 15, 29, tzinfo=utc), "00:30") == datetime(2026, 1, 30, 15, 30, tzinfo=utc)
    assert next_run(datetime(2026, 1, 30, 15, 30, tzinfo=utc), "00:30") == datetime(2026, 1, 31, 15, 30, tzinfo=utc)
    assert next_run(datetime(2026, 1, 31, 14, 59, tzinfo=utc), "00:00") == datetime(2026, 1, 31, 15, 0, tzinfo=utc)


def test_the_nightly_command_writes_one_days_files(tmp_path: Path) -> None:
    h, url = build_log(tmp_path / "log.sqlite3")
    out = tmp_path / "nightly"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "server.cli", "stats-nightly", "--dir", str(out), "--day", "2026-01-31", "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "madoguchi-2026-01-31-day.csv",
        "madoguchi-2026-01-31-hour.csv",
        "madoguchi-2026-01-31.xlsx",
    ]
    book = openpyxl.load_workbook(out / "madoguchi-2026-01-31.xlsx")
    assert book.sheetnames == ["時間別", "日別", "時間別グラフ"]
    day_rows = list(book["日別"].iter_rows(values_only=True))[1:]
    want = {k for k in oracle(h, "day", 1200) if k[0] == "2026-01-31"}
    assert len(day_rows) == len(want) and {r[0] for r in day_rows} == {"2026-01-31"}
    bad = subprocess.run(
        [sys.executable, "-m", "server.cli", "stats-nightly", "--dir", str(tmp_path / "nope"), "--db", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "is not a folder" in bad.stderr


HistoryServer = tuple[History, Any, Path, Callable[..., None]]


@pytest.fixture(scope="module")
def history_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HistoryServer]:
    tmp = tmp_path_factory.mktemp("stats-web")
    h, _ = build_log(tmp / "oracle.sqlite3")
    # A larger log beside it, so an export takes long enough to watch.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.stats_year import generate

    big = tmp / "big.sqlite3"
    shutil.copy(tmp / "oracle.sqlite3", big)
    proc = ServerProcess(tmp / "data", args=("--db", f"sqlite+aiosqlite:///{tmp / 'oracle.sqlite3'}")).start()
    yield h, proc, tmp, generate
    proc.stop()


async def supervisor(http: httpx.AsyncClient) -> dict[str, str]:
    return await clerk(http, await admin(http), "kanri", role="supervisor")


async def run_export(http: httpx.AsyncClient, headers: dict[str, str],
                     body: dict[str, Any]) -> tuple[dict[str, Any], list[float]]:
    r = await http.post("/api/stats/exports", json=body, headers=headers)
    assert r.status_code == 202, r.text
    job, seen = r.json(), []
    deadline = time.monotonic() + 120
    while job["state"] == "running":
        assert time.monotonic() < deadline
        seen.append(job["progress"])
        await asyncio.sleep(0.05)
        job = (await http.get(f"/api/stats/exports/{job['id']}", headers=headers)).json()
    return job, seen


async def test_a_supervisor_downloads_an_export_that_matches_the_figures(history_server: HistoryServer) -> None:
    h, proc, tmp, _ = history_server
    async with httpx.AsyncClient(base_url=proc.url, timeout=30) as http:
        headers = await supervisor(http)
        body = {"from": DAYS[0].isoformat(), "to": DAYS[-1].isoformat(), "format": "xlsx"}
        job, seen = await run_export(http, headers, body)
        assert job["state"] == "done", job
        assert seen == sorted(seen)
        r = await http.get(job["download"], headers=headers)
        assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
        assert "madoguchi-2026-01-15_2026-02-02.xlsx" in r.headers["content-disposition"]
        (tmp / "got.xlsx").write_bytes(r.content)
        book = openpyxl.load_workbook(tmp / "got.xlsx")
        assert book.sheetnames == ["時間別", "日別", "月別", "時間別グラフ"]
        months: dict[Any, Any] = {
            (row[0], row[2], row[4]): row
            for row in list(book["月別"].iter_rows(values_only=True))[1:]
            if row[1] == "係"
        }
        want = oracle(h, "month", 1200)[("2026-01", "section", "shomei", "reception")]
        assert want["wait_mean_s"] is not None
        assert months[("2026-01", "shomei", "受付")][7] == want["served"]
        unserved = want["unserved"]
        assert isinstance(unserved, int) and unserved > 0
        assert months[("2026-01", "shomei", "受付")][11] == unserved  # 本日終了, a column of its own
        assert (
            abs(months[("2026-01", "shomei", "受付")][12] - want["wait_mean_s"] / 60) <= 0.005 + 1e-9
        )  # stored to 0.01 min

        job, _ = await run_export(http, headers, {**body, "format": "csv", "by": ["month"], "encoding": "shift_jis"})
        r = await http.get(job["download"], headers=headers)
        assert r.content.decode("cp932").startswith("期間,区分")

        for bad, message in (
            ({**body, "from": "2026-02-03"}, "after"),
            ({**body, "section": ["nenkin"]}, "no section"),
            ({**body, "format": "csv", "by": ["day", "hour"]}, "one granularity"),
        ):
            r = await http.post("/api/stats/exports", json=bad, headers=headers)
            assert r.status_code == 422 and message in r.json()["error"]["message"], r.text
        desk = await clerk(http, await admin(http), "hirashain")
        assert (await http.post("/api/stats/exports", json=body, headers=desk)).status_code == 403
    async with httpx.AsyncClient(base_url=proc.url, timeout=30) as anonymous:
        assert (await anonymous.get("/api/stats/today")).status_code == 401


@pytest.fixture(scope="module")
def year_log(history_server: HistoryServer) -> Path:
    """A fiscal year's log (2025-04-01..2026-03-31, 120,000 tickets) and one event of 2019-04-01
    before it, so that the log spans more than five years."""
    _, _, tmp, generate = history_server
    big = tmp / "year.sqlite3"
    generate(big, 120_000)
    db = sqlite3.connect(big)
    with db:
        # Logged before the year (a lower seq), as the writer would have: the newest event stays the year's last.
        seq = db.execute("SELECT MIN(seq) FROM events").fetchone()[0] - 1
        db.execute("INSERT INTO events (seq, business_day, at_us, type, counter, data) VALUES (?, '2019-04-01', ?, "
                   "'counter.opened', '1', '{\"counter\": \"1\"}')", (seq, 1554076800_000_000))
    db.close()
    return big


async def test_a_long_export_shows_progress_and_the_queue_server_keeps_answering(history_server: HistoryServer,
                                                                                  year_log: Path) -> None:
    _, _, tmp, _ = history_server
    other = ServerProcess(tmp / "data-year", args=("--db", f"sqlite+aiosqlite:///{year_log}")).start()
    try:
        async with httpx.AsyncClient(base_url=other.url, timeout=30) as http:
            headers = await supervisor(http)
            latencies: list[float] = []
            stop = asyncio.Event()

            async def ping() -> None:
                while not stop.is_set():
                    started = time.perf_counter()
                    assert (await http.get("/api/health")).status_code == 200
                    latencies.append(time.perf_counter() - started)
                    await asyncio.sleep(0.02)

            pinger = asyncio.create_task(ping())
            job, seen = await run_export(http, headers, {"from": "2025-04-01", "to": "2026-03-31", "format": "xlsx"})
            stop.set()
            await pinger
            assert job["state"] == "done", job
            assert any(0 < p < 1 for p in seen), seen  # progress was seen on the way
            assert len(latencies) > 20 and max(latencies) < 0.25, max(latencies)
    finally:
        other.stop()


async def test_today_so_far_counts_the_days_tickets(server: ServerProcess) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        headers = await supervisor(http)
        desk = await clerk(http, await admin(http), "tanaka-stats", counter="6")
        before = (await http.get("/api/stats/today", headers=headers)).json()
        issued = (await http.post("/api/tickets", json={"queue": "shomei"}, headers=desk)).json()
        assert (
            await http.post("/api/counters/6/call", json={"ticket": issued["ticket"]}, headers=desk)
        ).status_code == 200
        assert (await http.post("/api/counters/6/finish", json={"handover": False}, headers=desk)).status_code == 200
        asked = business_day(datetime.now(UTC))
        now = (await http.get("/api/stats/today", headers=headers)).json()
        assert now["day"] in {asked.isoformat(), business_day(datetime.now(UTC)).isoformat()}  # Tokyo's date
        assert now["tickets"] == before["tickets"] + 1
        row = next(r for r in now["figures"] if r["kind"] == "counter" and r["key"] == "6")
        assert row["served"] >= 1 and row["wait_mean_s"] is not None
        assert any(r["kind"] == "section" for r in now["hours"])


def export_children(server: ServerProcess) -> list[psutil.Process]:
    """The server's running ``madoguchi stats`` child processes."""
    assert server.pid is not None
    return [p for p in psutil.Process(server.pid).children(recursive=True)
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE and "stats" in p.cmdline()]


async def test_exports_are_bounded_in_number_days_and_span_and_can_be_cancelled(history_server: HistoryServer,
                                                                              year_log: Path) -> None:
    """Issue 13, point 10: at most two exports run at once (429 beyond), bad or out-of-range days are
    422, a range is narrowed to the logged days and refused beyond five years of them, and a running
    export is cancelled by DELETE, which kills its process and leaves no file."""
    _, _, tmp, _ = history_server
    data = tmp / "data-bounds"
    server = ServerProcess(data, args=("--db", f"sqlite+aiosqlite:///{year_log}")).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            headers = await supervisor(http)
            year = {"from": "2025-04-01", "to": "2026-03-31", "format": "xlsx"}
            for bad, message in (
                ({**year, "from": "0001-01-01"}, "outside 2000-01-01..2999-12-31"),
                ({**year, "to": "9999-12-31"}, "outside 2000-01-01..2999-12-31"),
                ({**year, "from": "2026-04-01"}, "is after"),
                ({**year, "to": "2026-02-30"}, "the request body has errors"),
                ({**year, "to": "10000-01-01"}, "the request body has errors"),
                ({**year, "from": "2000-01-01", "to": "2999-12-31"}, "2019-04-01..2026-03-31 is longer than 5 years"),
                ({**year, "from": "2021-01-01"}, "longer than 5 years"),
            ):
                r = await http.post("/api/stats/exports", json=bad, headers=headers)
                assert r.status_code == 422 and message in r.json()["error"]["message"], (bad, r.text)
            assert export_children(server) == []

            # Narrowed to the logged days: 2022..2999 is 2022-01-01..2026-03-31 (the log's last day).
            first = (await http.post("/api/stats/exports", json={**year, "from": "2022-01-01", "to": "2999-12-31"},
                                     headers=headers)).json()
            assert first["state"] == "running" and first["filename"] == "madoguchi-2022-01-01_2026-03-31.xlsx"
            second = await http.post("/api/stats/exports", json=year, headers=headers)
            assert second.status_code == 202
            third = await http.post("/api/stats/exports", json=year, headers=headers)
            assert third.status_code == 429
            assert "2 statistics exports are running" in third.json()["error"]["message"]
            assert len(export_children(server)) == 2

            r = await http.delete(f"/api/stats/exports/{first['id']}", headers=headers)
            assert r.status_code == 200 and r.json()["state"] == "cancelled", r.text
            assert (await http.get(f"/api/stats/exports/{first['id']}", headers=headers)).json()["state"] == "cancelled"
            assert (await http.get(f"/api/stats/exports/{first['id']}/file", headers=headers)).status_code == 409
            assert len(export_children(server)) == 1
            assert not [p for p in (data / "exports").iterdir() if first["id"] in p.name]  # no partial file

            # A place is free again.
            again = await http.post("/api/stats/exports", json=year, headers=headers)
            assert again.status_code == 202, again.text
            for job in (second.json(), again.json()):
                r = await http.delete(f"/api/stats/exports/{job['id']}", headers=headers)
                assert r.status_code == 200 and r.json()["state"] == "cancelled"
            deadline = time.monotonic() + 10
            while export_children(server) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            assert export_children(server) == []
            assert list((data / "exports").iterdir()) == []
            assert (await http.delete("/api/stats/exports/nope", headers=headers)).status_code == 404
            desk = await clerk(http, await admin(http), "hirashain-bounds")
            assert (await http.delete(f"/api/stats/exports/{first['id']}", headers=desk)).status_code == 403
    finally:
        server.stop()


def test_the_stats_command_refuses_bad_days_and_narrows_to_the_log(year_log: Path, tmp_path: Path) -> None:
    def stats(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "server.cli", "stats", "--db", f"sqlite+aiosqlite:///{year_log}",
                               "--format", "csv", "--by", "month", "--out", str(tmp_path / "m.csv"), *args],
                              capture_output=True, text=True, timeout=300)

    for args, message in ((("--from", "0001-01-01", "--to", "2026-01-01"), "outside 2000-01-01..2999-12-31"),
                          (("--from", "2026-01-01", "--to", "9999-12-31"), "outside 2000-01-01..2999-12-31"),
                          (("--from", "2000-01-01", "--to", "2999-12-31"), "longer than 5 years")):
        done = stats(*args)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    done = stats("--from", "2026-03-01", "--to", "2999-12-31")
    assert done.returncode == 0, done.stderr
    periods = [line.split(",")[0] for line in (tmp_path / "m.csv").read_text(encoding="utf-8-sig").splitlines()[1:]]
    assert set(periods) == {"2026-03"}
    # An empty log: nothing to narrow to, an export with no rows (MIN over no rows is NULL, which
    # connectorx could not type).
    from sqlalchemy import create_engine

    from server.storage import schema

    empty = tmp_path / "empty.sqlite3"
    engine = create_engine(f"sqlite:///{empty}")
    schema.metadata.create_all(engine)
    engine.dispose()
    done = subprocess.run([sys.executable, "-m", "server.cli", "stats", "--db", f"sqlite+aiosqlite:///{empty}",
                           "--format", "csv", "--from", "2000-01-01", "--to", "2999-12-31",
                           "--out", str(tmp_path / "e.csv")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "e.csv").read_text(encoding="utf-8-sig").splitlines()[1:] == []
