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
from server.config import DEMO_OFFICE
from tests.printerkit import StandInPrinter
from tests.serverkit import ADMIN_PASSWORD, ServerProcess, password_of


def bench_office(path: Path, port: int) -> Path:
    """The demo office plus two network printers on the stand-in at ``port``: ``kiosk1``
    (80 mm paper) and ``kiosk2`` (58 mm). Written to ``path``; returns it."""
    text = DEMO_OFFICE.read_text(encoding="utf-8")
    text += "\n[printing]\nexpire_s = 120\npoll_s = 1\nretry_max_s = 0.5\ntimeout_s = 2\n"
    for pid, paper in (("kiosk1", 80), ("kiosk2", 58)):
        text += (f'\n[[printers]]\nid = "{pid}"\nname = {{ ja = "{pid} プリンタ", en = "{pid} printer" }}\n'
                 f'connection = "network"\nhost = "127.0.0.1"\nport = {port}\npaper_mm = {paper}\n')
    path.write_text(text, encoding="utf-8")
    return path


def main() -> None:
    """Run the benchmark and print its figures."""
    p = argparse.ArgumentParser()
    p.add_argument("--tickets", type=int, default=50)
    p.add_argument("--paper", type=int, choices=(58, 80), default=80)
    args = p.parse_args()
    printer = StandInPrinter()
    tmp = Path(tempfile.mkdtemp(prefix="madoguchi-bench-"))
    office = bench_office(tmp / "office.toml", printer.port)
    proc = ServerProcess(tmp / "data", args=("--config", str(office), "--rehearsal")).start()
    name = "kiosk1" if args.paper == 80 else "kiosk2"
    try:
        with httpx.Client(base_url=proc.url, timeout=30) as http:
            def bearer(r: httpx.Response) -> dict[str, str]:
                assert r.status_code in (200, 201), r.text
                return {"Authorization": f"Bearer {r.json()['token']}"}

            admin = bearer(http.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD}))
            device = http.post("/api/devices", headers=admin, json={"kind": "kiosk", "name": "bench", "printer": name})
            kiosk = bearer(http.post("/api/devices/pair", json={"code": device.json()["pairing_code"]}))
            account = {"username": "bench", "password": password_of("bench")}
            clerk = http.post("/api/staff", headers=admin, json={**account, "role": "clerk"})
            assert clerk.status_code == 201, clerk.text
            staff = bearer(http.post("/api/auth/login", json=account))
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
