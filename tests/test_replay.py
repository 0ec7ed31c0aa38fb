"""A real day replayed through the public API, checked against its source file."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from server.replay import bank_day, synthetic

from .serverkit import ADMIN_PASSWORD, ServerProcess

BANK_DAY = Path(__file__).resolve().parents[2] / "shared" / "data" / "anonymous-bank-calls-one-day.csv"
SUMMARY = re.compile(
    r"^tickets=(\d+) served=(\d+) no_show=(\d+) mean_wait_s=([\d.]+) estimate_mae_s=([\d.]+) "
    r"naive_mae_s=([\d.]+) push_p99_ms=([\d.]+)$")


def replay(url: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MADOGUCHI_ADMIN_PASSWORD": ADMIN_PASSWORD}
    return subprocess.run([sys.executable, "-m", "server.cli", "replay", "--url", url, *args],
                          capture_output=True, text=True, timeout=timeout, env=env)


def independent_counts(path: Path) -> dict[str, int]:
    """The file's own counts, read without the replay's code."""
    import csv
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    served = sum(1 for r in rows if r["outcome"] == "AGENT")
    hung_in_queue = sum(1 for r in rows if r["outcome"] == "HANG" and r["q_start"] != "0:00:00")
    return {"tickets": served + hung_in_queue, "served": served, "no_show": hung_in_queue}


@pytest.mark.slow
def test_the_real_day_replays_to_the_end_and_matches_its_file(tmp_path):
    assert BANK_DAY.exists(), "shared/data must sit beside the checkout"
    expected = independent_counts(BANK_DAY)
    assert expected == {"tickets": 2239, "served": 1511, "no_show": 728}
    assert bank_day.expected_counts(BANK_DAY) == expected
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
    mean_wait, est, naive, p99 = (float(m.group(i)) for i in (4, 5, 6, 7))
    assert est < naive, last                      # the estimate beats the naive one on this day
    assert p99 < 1000
    seen = re.search(r"calls_seen_by_displays=(\d+)/(\d+)", done.stdout)
    assert seen and seen.group(1) == seen.group(2)   # every display saw every call


def test_a_synthetic_weekday_is_reproducible_and_replays(tmp_path):
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


def test_replay_refuses_bad_arguments(tmp_path):
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
