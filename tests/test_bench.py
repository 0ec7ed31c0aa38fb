"""Every benchmark in bench/ runs, briefly, so that none can rot: its dependencies are installed
(the ``bench`` extra, which ``./dev test`` installs), it starts its own server, and its last line
is the ``key=value`` figures the README promises. This times nothing: the figures are only
checked to be there and sane, never against a limit (speed is for the benches themselves)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Each bench with its shortest run (flags the script offers) and the figures its last line must
#: give. bench/stats_year.py is run only with its smallest size flag (it is reworked elsewhere),
#: and only the keys it has always printed are checked.
RUNS: dict[str, tuple[list[str], set[str]]] = {
    "command_throughput": (["--seconds", "1", "--procs", "1", "--workers", "1"],
                           {"commands_per_s", "p99_ms", "p50_ms", "commands", "seconds"}),
    "push_latency": (["--subscribers", "5", "--calls", "5"],
                     {"subscribers", "calls", "p50_ms", "p99_ms", "max_ms", "server_peak_rss_mb"}),
    "print_latency": (["--tickets", "3"], {"tickets", "paper_mm", "p50_ms", "p99_ms", "max_ms", "bytes_per_ticket"}),
    "receipt_pdf": (["--runs", "3"],
                    {"answers", "runs", "pages", "cold_ms", "build_ms", "p99_ms", "cpu_ms", "size_kb"}),
    "stats_year": (["--tickets", "2000"], {"seconds", "cpu_s", "peak_rss_mb", "tickets"}),
    "postal_lookup": (["--lookups", "200"], {"import_ms", "first_lookup_ms", "lookup_us", "lookup_p99_us", "rss_mb"}),
    "forms_load": (["--citizens", "5", "--subscribers", "5", "--calls", "5", "--file-kb", "64"],
                   {"citizens", "stored", "page_p99_ms", "submit_p99_ms", "peak_rss_mb", "floor_push_p99_ms",
                    "floor_push_quiet_p99_ms", "upload_p99_ms", "floor_calls", "burst_s"}),
    "ws_flood": (["--calls", "5", "--flood-messages", "100"],
                 {"health_p99_ms", "health_p99_flood_ms", "push_p99_ms", "push_p99_flood_ms"}),
}


def figures(line: str) -> dict[str, str]:
    """``a=1 b=2`` → ``{"a": "1", "b": "2"}``; fails on a word that is not ``key=value``."""
    pairs = [word.split("=", 1) for word in line.split()]
    assert pairs and all(len(pair) == 2 and pair[0] for pair in pairs), line
    return dict((key, value) for key, value in pairs)


def test_every_bench_is_run_here_and_documented() -> None:
    scripts = {p.stem for p in (ROOT / "bench").glob("*.py") if not p.name.startswith("_")}
    assert scripts == set(RUNS)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "./dev bench NAME" in readme
    for name in scripts:
        assert f"python bench/{name}.py" in readme, name


@pytest.mark.parametrize("name", sorted(RUNS))
def test_the_bench_runs_and_prints_its_figures(name: str, tmp_path: Path) -> None:
    flags, keys = RUNS[name]
    # Its own temporary folder: stats_year.py keeps its generated log and output there.
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    env.pop("MADOGUCHI_ADMIN_PASSWORD", None)
    done = subprocess.run([sys.executable, f"bench/{name}.py", *flags], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    last = figures(done.stdout.strip().splitlines()[-1])
    assert keys <= set(last), (keys, last)
    for key in keys:
        assert float(last[key]) >= 0, (key, last)
    if name == "stats_year":   # the year and the month, each with the cache cold, then warm
        runs = [figures(line) for line in done.stdout.splitlines() if line.startswith("period=")]
        assert [(r["period"], r["cache"]) for r in runs] == [
            ("year", "cold"), ("year", "warm"), ("month", "cold"), ("month", "warm")], done.stdout
    if name == "command_throughput":
        assert int(last["commands"]) > 0 and float(last["commands_per_s"]) > 0
    elif name == "push_latency":
        assert (last["subscribers"], last["calls"]) == ("5", "5")
        assert float(last["server_peak_rss_mb"]) > 0
    elif name == "print_latency":
        assert last["tickets"] == "3" and int(last["bytes_per_ticket"]) > 0
    elif name == "forms_load":   # every citizen's application stored, through the real citizens' API
        assert (last["citizens"], last["stored"]) == ("5", "5") and float(last["peak_rss_mb"]) > 0
    elif name == "receipt_pdf":
        assert (last["answers"], last["runs"]) == ("20", "3") and int(last["pages"]) >= 1
        assert float(last["size_kb"]) > 0
