"""Print latency: a kiosk's issue command sent → the last byte of its ticket at the printer.

Usage: python bench/print_latency.py --tickets 50 [--paper 80]

Starts a server with the demo office plus one network printer, played by the
tests' loopback stand-in (tests/printerkit.py: a real TCP server that answers
DLE EOT and records the bytes), pairs a kiosk to it, and issues tickets one
after another, each waiting for the previous to come out. The time runs from
just before the HTTP request to the arrival of the cut command (the job's last
bytes). Last line: ``tickets=N paper_mm=… p50_ms=… p99_ms=… max_ms=… bytes_per_ticket=…``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx

from bench._server import percentile
from tests.printerkit import StandInPrinter
from tests.serverkit import ADMIN_PASSWORD, ServerProcess
from tests.test_printing import closed_port, office_with_printers


def main() -> None:
    """Run the benchmark and print its figures."""
    p = argparse.ArgumentParser()
    p.add_argument("--tickets", type=int, default=50)
    p.add_argument("--paper", type=int, choices=(58, 80), default=80)
    args = p.parse_args()
    printer = StandInPrinter()
    tmp = Path(tempfile.mkdtemp(prefix="madoguchi-bench-"))
    ports = {"kiosk1": printer.port, "kiosk2": printer.port, "nowhere": closed_port()}
    office = office_with_printers(tmp / "office.toml", ports, keep=("kiosk1", "kiosk2"))
    proc = ServerProcess(tmp / "data", args=("--config", str(office), "--rehearsal")).start()
    name = "kiosk1" if args.paper == 80 else "kiosk2"
    try:
        with httpx.Client(base_url=proc.url, timeout=30) as http:
            token = http.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}).json()["token"]
            admin = {"Authorization": f"Bearer {token}"}
            code = http.post("/api/devices", headers=admin, json={"kind": "kiosk", "name": "bench", "printer": name}).json()["pairing_code"]
            kiosk = {"Authorization": "Bearer " + http.post("/api/devices/pair", json={"code": code}).json()["token"]}
            clerk = http.post("/api/staff", headers=admin, json={"username": "bench", "password": "pw-bench-0123456789", "role": "clerk"})
            assert clerk.status_code == 201, clerk.text
            staff = {"Authorization": "Bearer " + http.post("/api/auth/login", json={"username": "bench", "password": "pw-bench-0123456789"}).json()["token"]}
            assert http.post("/api/counters/4/sign-in", headers=staff).status_code == 200
            time.sleep(1.5)  # let the first health check pass
            times = []
            for i in range(args.tickets):
                started = time.monotonic()
                r = http.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
                assert r.status_code == 201, r.text
                printer.wait_jobs(i + 1)
                times.append((printer.last_cut() - started) * 1000)
            size = sum(len(j) for j in printer.jobs()) / len(printer.jobs())
    finally:
        proc.stop()
        printer.close()
    times.sort()
    print(f"tickets={len(times)} paper_mm={args.paper} p50_ms={percentile(times, 0.5):.1f} "
          f"p99_ms={percentile(times, 0.99):.1f} max_ms={times[-1]:.1f} bytes_per_ticket={size:.0f}")


if __name__ == "__main__":
    main()
