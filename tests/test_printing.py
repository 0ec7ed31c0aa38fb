"""Ticket printing (issue 4): a kiosk's ticket comes out of a printer with the QR of its phone page.

The printers are :class:`tests.printerkit.StandInPrinter`: real TCP servers on
loopback that record the bytes, answer DLE EOT status requests and can drop a
job part way. The server is a real ``madoguchi serve`` child process.
"""

from __future__ import annotations

import asyncio
import io
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image

from hardware.printer import PrinterState, decode_status
from hardware.ticket import PAPER_DOTS
from server.launch import ServerProcess as Launched

from .printerkit import StandInPrinter, raster, split_jobs
from .serverkit import ServerProcess, admin, bearer, clerk
from .wskit import Display

pytestmark = pytest.mark.slow


def closed_port() -> int:
    """A loopback port nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def office_with_printers(path: Path, ports: dict[str, int], *, expire_s: float = 120,
                         keep: tuple[str, ...] = ("kiosk1", "kiosk2", "nowhere", "usb1")) -> Path:
    """The demo office plus [printing] and [[printers]]: ``kiosk1`` (80 mm) and
    ``kiosk2`` (58 mm) on stand-ins, ``nowhere`` on a closed port, ``usb1`` through an agent."""
    from server.config import DEMO_OFFICE

    printers = {
        "kiosk1": f'connection = "network"\nhost = "127.0.0.1"\nport = {ports["kiosk1"]}\npaper_mm = 80',
        "kiosk2": f'connection = "network"\nhost = "127.0.0.1"\nport = {ports["kiosk2"]}\npaper_mm = 58',
        "nowhere": f'connection = "network"\nhost = "127.0.0.1"\nport = {ports["nowhere"]}',
        "usb1": 'connection = "agent"\npaper_mm = 58',
    }
    text = DEMO_OFFICE.read_text(encoding="utf-8")
    text += f"\n[printing]\nexpire_s = {expire_s}\npoll_s = 1\nretry_max_s = 0.5\ntimeout_s = 2\n"
    for pid in keep:
        name = f'{{ ja = "{pid} プリンタ", en = "{pid} printer" }}'
        text += f'\n[[printers]]\nid = "{pid}"\nname = {name}\n{printers[pid]}\n'
    path.write_text(text, encoding="utf-8")
    return path


class Floor:
    """A server with printers, an admin, a clerk at counter 4 (証明) and kiosks paired to printers."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.printer = StandInPrinter()
        self.small = StandInPrinter()
        self.ports = {"kiosk1": self.printer.port, "kiosk2": self.small.port, "nowhere": closed_port()}
        self.office = office_with_printers(tmp / "office.toml", self.ports)
        self.proc = self.start()

    def start(self, office: Path | None = None) -> Launched:
        return ServerProcess(self.tmp / "data", args=("--config", str(office or self.office), "--rehearsal")).start()

    def stop(self) -> None:
        self.proc.stop()
        self.printer.close()
        self.small.close()


@pytest.fixture(scope="module")
def floor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Floor]:
    f = Floor(tmp_path_factory.mktemp("printing"))
    yield f
    f.stop()


@pytest.fixture
async def http(floor: Floor) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=floor.proc.url, timeout=30) as c:
        yield c


async def kiosk(http: httpx.AsyncClient, headers: dict[str, str], name: str, printer: str | None) -> dict[str, str]:
    """Register and pair a kiosk printing on ``printer``; its bearer headers."""
    body = {"kind": "kiosk", "name": name, **({"printer": printer} if printer else {})}
    r = await http.post("/api/devices", json=body, headers=headers)
    assert r.status_code == 201, r.text
    r = await http.post("/api/devices/pair", json={"code": r.json()["pairing_code"], "kind": "kiosk"})
    assert r.status_code == 200, r.text
    return bearer(r.json()["token"])


async def open_counter_4(http: httpx.AsyncClient) -> dict[str, str]:
    return await clerk(http, await admin(http), "printing-clerk", counter="4")


async def issue(http: httpx.AsyncClient, kiosk_headers: dict[str, str], key: str | None = None) -> dict[str, Any]:
    headers = {**kiosk_headers, **({"Idempotency-Key": key} if key else {})}
    r = await http.post("/api/tickets", json={"queue": "shomei"}, headers=headers)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def printed(http: httpx.AsyncClient, job: str, headers: dict[str, str], timeout: float = 15) -> dict[str, Any]:
    """The job's status once it is done (asking with ``?wait=``); fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = (await http.get(f"/api/print-jobs/{job}", params={"wait": 2}, headers=headers)).json()
        if status["state"] == "done" or time.monotonic() > deadline:
            assert status["state"] == "done", status
            return status
        await asyncio.sleep(0.1)


def qr_texts(image: Image.Image) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(image.convert("L"))]


def tallest_ink_band(image: Image.Image) -> tuple[int, int]:
    """(top, height) of the tallest run of rows that each hold black dots."""
    grey = image.convert("L")
    width, height = grey.size
    pixels = grey.tobytes()  # one byte per dot, row by row
    best = (0, 0)
    start = None
    for y in range(height + 1):
        inked = y < height and any(pixels[y * width + x] < 128 for x in range(0, width, 2))
        if inked and start is None:
            start = y
        elif not inked and start is not None:
            if y - start > best[1]:
                best = (start, y - start)
            start = None
    return best


def check_ticket(job: bytes, url: str, paper_mm: int) -> Image.Image:
    """The decoded ticket: its QR reads ``url``, it fits the paper, and the
    number (the tallest band of ink, above the QR) is there."""
    image = raster(job)
    assert image.width <= PAPER_DOTS[paper_mm], (image.width, paper_mm)
    assert image.width == PAPER_DOTS[paper_mm]
    codes = zxingcpp.read_barcodes(image.convert("L"))
    assert [c.text for c in codes] == [url]
    qr_top = min(p.y for p in (codes[0].position.top_left, codes[0].position.top_right))
    top, band = tallest_ink_band(image.crop((0, 0, image.width, qr_top)))
    assert band >= 0.18 * image.width, f"no large number: tallest ink band {band} px"
    ink = sum(image.crop((0, top, image.width, top + band)).convert("L").histogram()[:128])
    assert ink > 0.04 * image.width * band, "the number region is (almost) empty"
    return image


# --------------------------------------------------------------------- units
def test_real_time_status_bytes_are_read_as_the_printer_means_them() -> None:
    assert decode_status(b"\x16", b"\x12", b"\x12") is PrinterState.OK
    assert decode_status(b"\x16", b"\x12", b"\x1e") is PrinterState.NEAR_END
    assert decode_status(b"\x1e", b"\x32", b"\x72") is PrinterState.PAPER_END
    assert decode_status(b"\x1e", b"\x16", b"\x12") is PrinterState.COVER_OPEN
    assert decode_status(b"\x1e", b"\x52", b"\x12") is PrinterState.ERROR
    assert decode_status(b"\x1e", b"\x12", b"\x12") is PrinterState.OFFLINE
    assert decode_status(None, None, None) is PrinterState.UNKNOWN


# --------------------------------------------------------------- the ticket
async def test_a_kiosk_ticket_prints_with_the_qr_of_its_phone_page_on_80_and_58_mm(
    floor: Floor, http: httpx.AsyncClient,
) -> None:
    headers = await admin(http)
    await open_counter_4(http)
    wide = await kiosk(http, headers, "1階 発券機 A", "kiosk1")
    narrow = await kiosk(http, headers, "1階 発券機 B", "kiosk2")
    before = len(floor.printer.jobs())

    started = time.monotonic()
    ticket = await issue(http, wide)
    assert ticket["print"]["state"] == "queued" and ticket["print"]["printer"] == "kiosk1"
    job = floor.printer.wait_jobs(before + 1)[-1]
    elapsed = floor.printer.last_cut() - started  # issue command → last byte (the cut) at the printer
    assert elapsed < 5, elapsed
    check_ticket(job, ticket["status_url"], 80)
    assert ticket["status_url"].endswith(f"/t/{ticket['token']}")
    r = await http.get(f"/api/print-jobs/{ticket['print']['job']}", params={"wait": 5}, headers=wide)
    assert r.json()["state"] == "done" and r.json()["attempts"] == 1

    ticket = await issue(http, narrow)
    check_ticket(floor.small.wait_jobs(1)[-1], ticket["status_url"], 58)

    # A double tap (same idempotency key) is one ticket and one print.
    count = len(floor.printer.jobs())
    first = await issue(http, wide, key="tap-1")
    again = await issue(http, wide, key="tap-1")
    assert again["ticket"] == first["ticket"] and again["print"]["job"] == first["print"]["job"]
    floor.printer.wait_jobs(count + 1)
    await asyncio.sleep(0.5)
    assert len(floor.printer.jobs()) == count + 1

    # Another kiosk's job is not this kiosk's to read.
    r = await http.get(f"/api/print-jobs/{first['print']['job']}", headers=narrow)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_job"


async def test_the_preview_png_is_the_same_ticket_for_the_kiosk_screen(floor: Floor, http: httpx.AsyncClient) -> None:
    headers = await admin(http)
    await open_counter_4(http)
    screen_only = await kiosk(http, headers, "2階 発券機 (プリンタなし)", None)
    ticket = await issue(http, screen_only)
    assert ticket["print"] == {"state": "no_printer"}
    for paper in (80, 58):
        r = await http.get(ticket["preview_url"], params={"paper": paper})
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        image = Image.open(io.BytesIO(r.content))
        assert image.width == PAPER_DOTS[paper]
        assert qr_texts(image) == [ticket["status_url"]]
        path = Path("test-artifacts/screens")
        path.mkdir(parents=True, exist_ok=True)
        image.save(path / f"ticket-preview-{paper}mm.png")
    assert (await http.get(ticket["preview_url"], params={"paper": 99})).json()["error"]["code"] == "invalid_request"
    r = await http.get("/t/AAAAAAAAAAAAAAAAAAAAAA/ticket.png")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


# ------------------------------------------------------------------- health
async def test_paper_end_and_cover_open_raise_alerts_and_the_ticket_prints_once_fixed(
    floor: Floor, http: httpx.AsyncClient,
) -> None:
    headers = await admin(http)
    await open_counter_4(http)
    wide = await kiosk(http, headers, "1階 発券機 C", "kiosk1")
    staff = await Display.open(floor.proc.ws_url, headers)
    await staff.send({"type": "subscribe", "id": 1, "topics": ["staff"]})
    try:
        snapshot = await staff.until(lambda m: m["type"] == "snapshot")
        assert {p["printer"] for p in snapshot["data"]["printers"]} == {"kiosk1", "kiosk2", "nowhere", "usb1"}
        before = len(floor.printer.jobs())
        floor.printer.state = "paper_end"
        alert = await staff.until(lambda m: m["type"] == "event" and m["event"]["type"] == "printer.status"
                                  and m["event"]["printer"] == "kiosk1" and m["event"]["state"] == "paper_end",
                                  timeout=10)
        assert alert["event"]["previous"] == "ok"

        ticket = await issue(http, wide)  # issued while the paper is out
        assert ticket["print"]["printer_state"] == "paper_end"
        r = await http.get(f"/api/print-jobs/{ticket['print']['job']}", params={"wait": 5}, headers=wide)
        job = r.json()
        assert job["state"] == "queued" and job["printer_state"] == "paper_end"  # the kiosk shows it on screen
        r = await http.get("/api/staff/state", headers=headers)
        assert ticket["ticket"] in str(r.json())  # the ticket was issued all the same

        floor.printer.state = "cover_open"
        await staff.until(lambda m: m["type"] == "event" and m["event"]["type"] == "printer.status"
                          and m["event"]["state"] == "cover_open", timeout=10)
        printers = {p["printer"]: p for p in (await http.get("/api/printers", headers=headers)).json()}
        assert printers["kiosk1"]["state"] == "cover_open" and printers["kiosk1"]["queued"] == 1
        assert len(floor.printer.jobs()) == before  # nothing was printed into an open cover

        floor.printer.state = "ok"
        await staff.until(lambda m: m["type"] == "event" and m["event"]["type"] == "printer.status"
                          and m["event"]["state"] == "ok", timeout=10)
        check_ticket(floor.printer.wait_jobs(before + 1)[-1], ticket["status_url"], 80)
        r = await http.get(f"/api/print-jobs/{ticket['print']['job']}", params={"wait": 5}, headers=wide)
        assert r.json()["state"] == "done"

        floor.printer.state = "paper_near_end"  # a warning: it still prints
        await staff.until(lambda m: m["type"] == "event" and m["event"].get("state") == "paper_near_end", timeout=10)
        ticket = await issue(http, wide)
        check_ticket(floor.printer.wait_jobs(before + 2)[-1], ticket["status_url"], 80)
        floor.printer.state = "ok"
    finally:
        await staff.close()


async def test_a_connection_dropped_mid_job_is_retried_and_the_ticket_printed_whole(
    floor: Floor, http: httpx.AsyncClient,
) -> None:
    headers = await admin(http)
    await open_counter_4(http)
    wide = await kiosk(http, headers, "1階 発券機 D", "kiosk1")
    before = len(floor.printer.jobs())
    floor.printer.drop_after = 6000
    ticket = await issue(http, wide)
    job = floor.printer.wait_jobs(before + 1)[-1]
    assert any(c.dropped and len(c.received) >= 6000 for c in floor.printer.connections)
    check_ticket(job, ticket["status_url"], 80)
    r = await http.get(f"/api/print-jobs/{ticket['print']['job']}", params={"wait": 5}, headers=wide)
    assert r.json()["state"] == "done" and r.json()["attempts"] == 2


async def test_a_printer_that_does_not_answer_status_still_prints(floor: Floor, http: httpx.AsyncClient) -> None:
    headers = await admin(http)
    await open_counter_4(http)
    narrow = await kiosk(http, headers, "1階 発券機 E", "kiosk2")
    floor.small.answers = False
    try:
        before = len(floor.small.jobs())
        ticket = await issue(http, narrow)
        check_ticket(floor.small.wait_jobs(before + 1, timeout=20)[-1], ticket["status_url"], 58)
        r = await http.get(f"/api/print-jobs/{ticket['print']['job']}", params={"wait": 10}, headers=narrow)
        assert r.json()["state"] == "done" and r.json()["printer_state"] == "unknown"
    finally:
        floor.small.answers = True


# ------------------------------------------------------------- bad settings
async def test_bad_printer_settings_get_clear_errors_and_the_ticket_is_still_issued_and_shown(
    floor: Floor, http: httpx.AsyncClient,
) -> None:
    headers = await admin(http)
    await open_counter_4(http)
    devices_before = len((await http.get("/api/devices", headers=headers)).json())
    r = await http.post("/api/devices", json={"kind": "kiosk", "name": "x", "printer": "lobby9"}, headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_printer"
    assert "lobby9" in r.json()["error"]["message"] and "kiosk1" in r.json()["error"]["message"]
    assert len((await http.get("/api/devices", headers=headers)).json()) == devices_before  # nothing half-made

    unreachable = await kiosk(http, headers, "3階 発券機", "nowhere")
    ticket = await issue(http, unreachable)
    assert ticket["display"] and ticket["print"]["state"] == "queued"
    r = await http.get(f"/api/print-jobs/{ticket['print']['job']}", params={"wait": 10}, headers=unreachable)
    assert r.json()["state"] == "queued" and r.json()["printer_state"] == "offline"
    assert "cannot reach the printer at tcp://127.0.0.1" in r.json()["error"]
    r = await http.get(ticket["preview_url"])  # what the kiosk shows instead
    assert qr_texts(Image.open(io.BytesIO(r.content))) == [ticket["status_url"]]

    devices = {d["name"]: d for d in (await http.get("/api/devices", headers=headers)).json()}
    device_id = devices["3階 発券機"]["id"]
    r = await http.put(f"/api/devices/{device_id}/printer", json={"printer": "nope"}, headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_printer"
    a_clerk = await clerk(http, headers, "p-clerk")
    r = await http.put(f"/api/devices/{device_id}/printer", json={"printer": "kiosk1"}, headers=a_clerk)
    assert r.status_code == 403
    devices = {d["name"]: d for d in (await http.get("/api/devices", headers=headers)).json()}
    assert devices["3階 発券機"]["printer"] == "nowhere"  # unchanged by the refused requests
    r = await http.get("/api/print-jobs/0123456789abcdef", params={"wait": "soon"}, headers=headers)
    assert r.status_code == 404
    r = await http.get(f"/api/print-jobs/{ticket['print']['job']}", params={"wait": "soon"}, headers=headers)
    assert r.status_code == 422 and "wait" in r.json()["error"]["message"]


def test_office_file_printer_mistakes_are_named(tmp_path: Path) -> None:
    from server.config import DEMO_OFFICE

    base = DEMO_OFFICE.read_text(encoding="utf-8")
    p1 = '[[printers]]\nid = "p1"\nname = { ja = "a", en = "a" }\n'
    cases = {
        p1 + 'connection = "network"\n': "printers[0].host: a network printer needs host",
        p1 + 'connection = "network"\nhost = "1.2.3.4"\npaper_mm = 76\n': "printers[0].paper_mm",
        p1 + 'connection = "serial"\n': "printers[0].connection",
        p1 + 'connection = "network"\nhost = "tcp://1.2.3.4:9100"\n': "printers[0].host",
    }
    for extra, message in cases.items():
        bad = tmp_path / "office.toml"
        bad.write_text(base + "\n" + extra, encoding="utf-8")
        done = subprocess.run([sys.executable, "-m", "server.cli", "check-config", str(bad)],
                              capture_output=True, text=True)
        assert done.returncode == 2 and message in done.stderr, (done.returncode, done.stderr)
        assert "Traceback" not in done.stderr


# ------------------------------------------------------------------ reprint
async def test_staff_reprint_is_marked_and_audited(floor: Floor, http: httpx.AsyncClient) -> None:
    headers = await admin(http)
    desk = await open_counter_4(http)
    wide = await kiosk(http, headers, "1階 発券機 F", "kiosk1")
    before, before_small = len(floor.printer.jobs()), len(floor.small.jobs())
    ticket = await issue(http, wide)
    original = raster(floor.printer.wait_jobs(before + 1)[-1])

    r = await http.post(f"/api/tickets/{ticket['ticket']}/reprint", json={}, headers=desk)
    assert r.status_code == 202 and r.json()["printer"] == "kiosk1"
    again = check_ticket(floor.printer.wait_jobs(before + 2)[-1], ticket["status_url"], 80)
    assert again.height > original.height  # the 再発行 REPRINT line on top
    r = await http.post(f"/api/tickets/{ticket['ticket']}/reprint", json={"printer": "kiosk2"}, headers=desk)
    assert r.status_code == 202
    check_ticket(floor.small.wait_jobs(before_small + 1)[-1], ticket["status_url"], 58)

    async with httpx.AsyncClient(base_url=floor.proc.url) as anonymous:  # no session cookie
        assert (await anonymous.post(f"/api/tickets/{ticket['ticket']}/reprint", json={})).status_code == 401
    r = await http.post(f"/api/tickets/{ticket['ticket']}/reprint", json={}, headers=wide)
    assert r.status_code == 403  # a kiosk cannot reprint
    r = await http.post("/api/tickets/nope/reprint", json={}, headers=desk)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_ticket"
    r = await http.post(f"/api/tickets/{ticket['ticket']}/reprint", json={"printer": "lobby9"}, headers=desk)
    assert r.status_code == 404 and r.json()["error"]["code"] == "unknown_printer"
    staff_ticket = (await http.post("/api/tickets", json={"queue": "shomei"}, headers=desk)).json()
    r = await http.post(f"/api/tickets/{staff_ticket['ticket']}/reprint", json={}, headers=desk)
    assert r.status_code == 409 and r.json()["error"]["code"] == "no_printer"

    with sqlite3.connect(f"file:{floor.tmp / 'data' / 'madoguchi.sqlite3'}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT actor, action, detail FROM audit WHERE action = 'ticket.reprinted'").fetchall()
    mine = [row for row in rows if ticket["ticket"] in row[2]]
    assert len(mine) == 2 and all(row[0] == "printing-clerk" for row in mine)
    assert "on kiosk1" in mine[0][2] and "on kiosk2" in mine[1][2]


# -------------------------------------------------------------------- agent
async def test_the_printer_agent_prints_its_kiosks_tickets_and_catches_up_after_being_away(
    floor: Floor, http: httpx.AsyncClient, tmp_path: Path,
) -> None:
    headers = await admin(http)
    await open_counter_4(http)
    usb_kiosk = await kiosk(http, headers, "2階 発券機 (USB)", "usb1")
    body = {"kind": "printer", "name": "2階 発券機のプリンタ", "printer": "usb1"}
    r = await http.post("/api/devices", json=body, headers=headers)
    assert r.status_code == 201, r.text
    code = r.json()["pairing_code"]
    assert (await http.post("/api/devices", json={"kind": "printer", "name": "x"}, headers=headers)).status_code == 422

    # A FIFO stands in for /dev/usb/lp0, the usblp character device: each job
    # opens it, writes and closes; a reader thread keeps every byte.
    device = tmp_path / "lp0"
    os.mkfifo(device)
    received = bytearray()
    stop = threading.Event()

    def read_device() -> None:
        while not stop.is_set():
            with open(device, "rb") as f:
                received.extend(f.read())

    reader = threading.Thread(target=read_device, daemon=True)
    reader.start()
    token_file = tmp_path / "agent.token"

    def agent(*extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "server.cli", "printer-agent", "--server", floor.proc.url,
                                 "--to", str(device), "--token-file", str(token_file), *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

    bad = subprocess.run([sys.executable, "-m", "server.cli", "printer-agent", "--server", floor.proc.url,
                          "--to", "lpt://1", "--token-file", str(token_file)], capture_output=True, text=True)
    assert bad.returncode == 2 and "--to" in bad.stderr
    refused = subprocess.run([sys.executable, "-m", "server.cli", "printer-agent", "--server", floor.proc.url,
                              "--to", str(device), "--token-file", str(token_file), "--pair", "not-a-real-code-123"],
                             capture_output=True, text=True)
    assert refused.returncode == 2 and "pairing refused" in refused.stderr

    # Issued while no agent is connected: queued, the printer shown offline.
    early = await issue(http, usb_kiosk)
    r = await http.get(f"/api/print-jobs/{early['print']['job']}", params={"wait": 5}, headers=usb_kiosk)
    assert r.json()["state"] == "queued" and r.json()["printer_state"] == "offline"

    proc = agent("--pair", code)
    try:
        await printed(http, early["print"]["job"], usb_kiosk)
        later = await issue(http, usb_kiosk)
        await printed(http, later["print"]["job"], usb_kiosk)
        first, second = split_jobs(bytes(received))
        check_ticket(first, early["status_url"], 58)
        check_ticket(second, later["status_url"], 58)
    finally:
        proc.terminate()
        out = proc.communicate(timeout=10)[0]
    assert proc.returncode == 0, out
    assert token_file.stat().st_mode & 0o077 == 0  # the token is readable by its owner only

    # Started again from its kept token, it still prints.
    proc = agent()
    try:
        again = await issue(http, usb_kiosk)
        await printed(http, again["print"]["job"], usb_kiosk)
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
        stop.set()
        with open(device, "wb"):
            pass  # lets the reader thread leave
        reader.join(5)
    assert len(split_jobs(bytes(received))) == 3


# ------------------------------------------------------------------ restart
async def test_a_queued_job_survives_a_server_restart_and_prints_when_the_paper_is_back(
    floor: Floor, tmp_path: Path,
) -> None:
    async with httpx.AsyncClient(base_url=floor.proc.url, timeout=30) as http:
        headers = await admin(http)
        await open_counter_4(http)
        wide = await kiosk(http, headers, "1階 発券機 G", "kiosk1")
        floor.printer.state = "paper_end"
        before = len(floor.printer.jobs())
        ticket = await issue(http, wide)
        r = await http.get(f"/api/print-jobs/{ticket['print']['job']}", params={"wait": 5}, headers=wide)
        assert r.json()["state"] == "queued"
    floor.proc.stop()
    floor.proc = floor.start()
    floor.printer.state = "ok"
    check_ticket(floor.printer.wait_jobs(before + 1)[-1], ticket["status_url"], 80)

    # An office file that no longer has the kiosk's printer: the ticket is still issued.
    floor.proc.stop()
    floor.proc = floor.start(office_with_printers(tmp_path / "office.toml", floor.ports, keep=("kiosk2",)))
    try:
        async with httpx.AsyncClient(base_url=floor.proc.url, timeout=30) as http:
            await open_counter_4(http)
            ticket = await issue(http, wide)
            assert ticket["print"]["state"] == "unknown_printer" and ticket["print"]["printer"] == "kiosk1"
            assert (await http.get(ticket["preview_url"])).status_code == 200
    finally:
        floor.proc.stop()
        floor.proc = floor.start()


# ------------------------------------------------------------------- expiry
async def test_a_ticket_the_printer_never_takes_is_given_up_at_expire_s_and_stays_listed_across_a_restart(
    tmp_path: Path,
) -> None:
    ports = {"kiosk1": closed_port(), "kiosk2": closed_port(), "nowhere": closed_port()}
    office = office_with_printers(tmp_path / "office.toml", ports, expire_s=10, keep=("nowhere",))

    def serve() -> Launched:
        return ServerProcess(tmp_path / "data", args=("--config", str(office), "--rehearsal")).start()

    proc = serve()
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as http:
            headers = await admin(http)
            await open_counter_4(http)
            unplugged = await kiosk(http, headers, "3階 発券機", "nowhere")
            staff = await Display.open(proc.ws_url, headers)
            await staff.send({"type": "subscribe", "id": 1, "topics": ["staff"]})
            try:
                await staff.until(lambda m: m["type"] == "snapshot")
                ticket = await issue(http, unplugged)
                job = ticket["print"]["job"]
                r = await http.get(f"/api/print-jobs/{job}", params={"wait": 5}, headers=unplugged)
                assert r.json()["state"] == "queued" and r.json()["printer_state"] == "offline"
                failed = await staff.until(lambda m: m["type"] == "event" and m["event"]["type"] == "print.failed",
                                           timeout=30)
            finally:
                await staff.close()
            event = failed["event"]
            assert (event["printer"], event["job"], event["ticket"]) == ("nowhere", job, ticket["ticket"])
            given_up_after = datetime.fromisoformat(event["at"]) - datetime.fromisoformat(ticket["issued_at"])
            assert 10 <= given_up_after.total_seconds() < 15, given_up_after  # expire_s, not before
            assert event["display"] == ticket["display"] and "cannot reach the printer" in event["reason"]
            assert event["attempts"] >= 3  # retried with back-off until then
            status = (await http.get(f"/api/print-jobs/{job}", headers=unplugged)).json()
            assert status["state"] == "expired" and status["attempts"] == event["attempts"]
            printers = {p["printer"]: p for p in (await http.get("/api/printers", headers=headers)).json()}
            assert printers["nowhere"]["queued"] == 0
            listed = {"job": job, "ticket": ticket["ticket"], "display": ticket["display"]}
            assert printers["nowhere"]["failed"] == [listed]
    finally:
        proc.stop()
    with sqlite3.connect(f"file:{tmp_path / 'data' / 'madoguchi.sqlite3'}?mode=ro", uri=True) as db:
        assert db.execute("SELECT state, attempts FROM print_jobs WHERE id = ?", (job,)).fetchall() == [
            ("expired", event["attempts"])]

    proc = serve()  # given up is given up: listed for reprint, not tried again
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as http:
            printers = {p["printer"]: p for p in (await http.get("/api/printers", headers=await admin(http))).json()}
            assert [f["job"] for f in printers["nowhere"]["failed"]] == [job] and printers["nowhere"]["queued"] == 0
    finally:
        proc.stop()
