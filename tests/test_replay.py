"""A real day replayed through the public API, checked against its source file."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from server.replay import bank_day, synthetic

from .serverkit import ADMIN_PASSWORD, ServerProcess

BANK_DAY = Path(__file__).resolve().parents[2] / "shared" / "data" / "anonymous-bank-calls-one-day.csv"
SUMMARY = re.compile(
    r"^tickets=(\d+) served=(\d+) no_show=(\d+) mean_wait_s=([\d.]+) estimate_mae_s=([\d.]+) "
    r"naive_mae_s=([\d.]+) push_p99_ms=([\d.]+)$")


def replay_command(url: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "server.cli", "replay", "--url", url, *args]


REPLAY_ENV = {**os.environ, "MADOGUCHI_ADMIN_PASSWORD": ADMIN_PASSWORD}


def replay(url: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(replay_command(url, *args), capture_output=True, text=True, timeout=timeout, env=REPLAY_ENV)


#: The counters the synthetic weekday staffs (server/replay/synthetic.py).
SYNTHETIC_COUNTERS = {"1", "2", "4", "5", "6", "7", "8", "10", "11", "12", "13", "24", "25"}


def counter_status(url: str) -> dict[str, str]:
    state = httpx.get(url + "/api/state", timeout=10).json()
    return {c["id"]: c["status"] for c in state["counters"]}


def sign_in_a_clerk(url: str, counter: str) -> None:
    """A real clerk (not the replay's) signs in at ``counter``."""
    with httpx.Client(base_url=url, timeout=10) as client:
        r = client.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        admin = {"Authorization": f"Bearer {r.json()['token']}"}
        account = {"username": "suzuki", "password": "autumn ferry window 5528", "role": "clerk"}
        r = client.post("/api/staff", json=account, headers=admin)
        assert r.status_code == 201, r.text
        r = client.post("/api/auth/login", json={"username": "suzuki", "password": "autumn ferry window 5528"})
        r = client.post(f"/api/counters/{counter}/sign-in", headers={"Authorization": f"Bearer {r.json()['token']}"})
        assert r.status_code == 200, r.text


def independent_counts(path: Path) -> dict[str, int]:
    """The file's own counts, read without the replay's code."""
    import csv
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    served = sum(1 for r in rows if r["outcome"] == "AGENT")
    hung_in_queue = sum(1 for r in rows if r["outcome"] == "HANG" and r["q_start"] != "0:00:00")
    return {"tickets": served + hung_in_queue, "served": served, "no_show": hung_in_queue}


def arrivals_before_the_first_service(path: Path) -> int:
    """Visitors (answered calls, and calls that hung up in the queue) who entered the
    queue before any agent's first service of the day, read without the replay's code:
    on the floor they find 準備中 (no counter open) and wait for the first clerk."""
    import csv

    def secs(hms: str) -> int:
        h, m, s = (int(x) for x in hms.split(":"))
        return h * 3600 + m * 60 + s

    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    first_service = min(secs(r["ser_start"]) for r in rows
                        if r["outcome"] == "AGENT" and r["server"] != "NO_SERVER" and r["ser_start"] != "0:00:00")
    return sum(1 for r in rows
               if (r["outcome"] == "AGENT" or (r["outcome"] == "HANG" and r["q_start"] != "0:00:00"))
               and secs(r["q_start"] if r["q_start"] != "0:00:00" else r["vru_exit"]) < first_service)


@pytest.mark.slow
def test_the_real_day_replays_to_the_end_and_matches_its_file(tmp_path: Path) -> None:
    assert BANK_DAY.exists(), "shared/data must sit beside the checkout"
    expected = independent_counts(BANK_DAY)
    assert expected == {"tickets": 2239, "served": 1511, "no_show": 728}
    assert bank_day.expected_counts(BANK_DAY) == expected
    early = arrivals_before_the_first_service(BANK_DAY)
    assert early == 2
    proc = ServerProcess(tmp_path).start()
    try:
        done = replay(proc.url, "--day", str(BANK_DAY), "--speed", "1000")
    finally:
        proc.stop()
    assert done.returncode == 0, done.stderr + done.stdout
    last = done.stdout.strip().splitlines()[-1]
    m = SUMMARY.match(last)
    assert m, last
    tickets, served, no_show = (int(m.group(i)) for i in (1, 2, 3))
    assert {"tickets": tickets, "served": served, "no_show": no_show} == expected
    _mean_wait, est, naive, p99 = (float(m.group(i)) for i in (4, 5, 6, 7))
    assert est < naive, last                      # the estimate beats the naive one on this day
    assert p99 < 1000
    seen = re.search(r"calls_seen_by_displays=(\d+)/(\d+)", done.stdout)
    assert seen and seen.group(1) == seen.group(2)   # every display saw every call
    # Those who came before the first clerk waited at 準備中 and took their tickets then; nobody left.
    assert f"waited_for_opening={early} " in done.stdout, done.stdout
    assert "turned_away=0 " in done.stdout, done.stdout


def test_a_synthetic_weekday_is_reproducible_and_replays(tmp_path: Path) -> None:
    one, again = synthetic.generate(7), synthetic.generate(7)
    assert one.visits == again.visits and one.visits != synthetic.generate(8).visits
    hours = [int(v.arrival_s // 3600) for v in one.visits]
    assert 400 < len(one.visits) < 650
    assert min(hours) >= 8 and max(hours) <= 17
    morning = sum(1 for h in hours if 9 <= h < 11)
    lunch = sum(1 for h in hours if h == 12)
    assert morning / 2 > lunch                    # morning peak, lunch-time dip
    proc = ServerProcess(tmp_path).start()
    try:
        done = replay(proc.url, "--synthetic", "--seed", "7", "--speed", "3000", "--displays", "2")
    finally:
        proc.stop()
    assert done.returncode == 0, done.stderr + done.stdout
    m = SUMMARY.match(done.stdout.strip().splitlines()[-1])
    assert m
    tickets, served, no_show = (int(m.group(i)) for i in (1, 2, 3))
    assert tickets == len(one.visits)
    assert served + no_show == tickets
    assert no_show == sum(1 for v in one.visits if v.no_show)


def test_replay_refuses_bad_arguments(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    done = replay("http://127.0.0.1:9", "--day", str(bad))
    assert done.returncode == 2 and "not an Anonymous Bank call log" in done.stderr
    done = replay("http://127.0.0.1:9", "--day", str(tmp_path / "missing.csv"))
    assert done.returncode == 2
    done = replay("http://127.0.0.1:9", "--synthetic", "--speed", "0")
    assert done.returncode == 2 and "--speed" in done.stderr
    done = replay("http://127.0.0.1:9", "--synthetic")          # nothing listens on port 9
    assert done.returncode == 1 and "cannot reach" in done.stderr


def test_replay_skips_a_counter_where_a_clerk_is_signed_in_and_closes_every_counter_it_opened(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path).start()
    try:
        sign_in_a_clerk(proc.url, "4")
        done = replay(proc.url, "--synthetic", "--seed", "3", "--until", "09:30", "--speed", "3000", "--displays", "1",
                      timeout=300)
        after = counter_status(proc.url)
    finally:
        proc.stop()
    assert done.returncode == 0, done.stderr + done.stdout
    assert "counter 4: skipped (another clerk is signed in there)" in done.stdout
    assert "skipped_counters=4 " in done.stdout
    m = SUMMARY.match(done.stdout.strip().splitlines()[-1])
    assert m, done.stdout
    tickets, served, no_show = (int(m.group(i)) for i in (1, 2, 3))
    assert tickets > 20 and served + no_show == tickets        # the other shomei counters served counter 4's share
    assert after["4"] == "open"                                 # the clerk's counter is untouched
    assert {c for c, status in after.items() if status != "closed"} == {"4"}, after


def wait_for_open_counters(url: str, n: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sum(1 for s in counter_status(url).values() if s != "closed") >= n:
            return
        time.sleep(0.1)
    raise AssertionError(f"the replay did not open {n} counters: {counter_status(url)}")


def test_an_interrupted_replay_closes_the_counters_it_opened(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path).start()
    try:
        sign_in_a_clerk(proc.url, "4")
        for signum, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130)):     # SIGINT: Ctrl-C
            child = subprocess.Popen(replay_command(proc.url, "--synthetic", "--seed", "3", "--speed", "60",
                                                    "--displays", "1"),
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=REPLAY_ENV)
            try:
                wait_for_open_counters(proc.url, len(SYNTHETIC_COUNTERS))  # the replay's 12 and the clerk's
                time.sleep(1.0)                                            # into the day: tickets at counters
                busy = {c for c, s in counter_status(proc.url).items() if s != "closed"}
                assert busy == SYNTHETIC_COUNTERS, busy
                child.send_signal(signum)
                out, err = child.communicate(timeout=60)
            finally:
                if child.poll() is None:
                    child.kill()
                    child.communicate()
            assert child.returncode == code, err + out
            after = counter_status(proc.url)
            assert {c for c, status in after.items() if status != "closed"} == {"4"}, after
            assert "the counters it had opened are closed" in err
            closed = re.search(r"closed on the way out: counters ([\d, ]+)", out)
            assert closed, out
            assert set(closed.group(1).split(", ")) == SYNTHETIC_COUNTERS - {"4"}
    finally:
        proc.stop()
