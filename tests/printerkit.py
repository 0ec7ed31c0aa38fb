"""A thermal printer stood in by a real TCP server on loopback, and an ESC/POS reader.

:class:`StandInPrinter` listens on 127.0.0.1, records every byte it receives,
answers the real-time status requests ``DLE EOT 1/2/4`` with the bytes of the
state it is set to (or not at all, like a printer with status turned off), and
can drop the connection part way through the next job. :func:`read_stream`
walks an ESC/POS byte stream command by command and :func:`raster` stacks the
``GS v 0`` images back into one picture, written here from the ESC/POS command
reference, independently of python-escpos.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field

from PIL import Image

ESC, GS, DLE = 0x1B, 0x1D, 0x10

#: Status answers (one byte each) for DLE EOT 1 (printer), 2 (offline cause), 4 (roll paper sensor).
STATES = {
    "ok": (0x16, 0x12, 0x12),
    "paper_near_end": (0x16, 0x12, 0x1E),
    "paper_end": (0x1E, 0x32, 0x72),
    "cover_open": (0x1E, 0x16, 0x12),
}


@dataclass
class Command:
    """One command of the stream: ``name`` and its bytes (for raster, the image too)."""

    name: str
    data: bytes
    width_bytes: int = 0
    height: int = 0


def read_stream(data: bytes) -> tuple[list[Command], bytes]:
    """Split ``data`` into commands; returns them and the incomplete tail.
    Known: ``ESC @``, ``ESC d n``, ``DLE EOT n``, ``GS v 0 m xL xH yL yH d…``,
    ``GS V m [n]``; any other byte is a ``byte`` command."""
    out: list[Command] = []
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        size, name = 1, "byte"
        if b in (ESC, GS, DLE):
            if i + 1 >= n:
                break
            second = data[i + 1]
            if b == ESC and second == ord("@"):
                size, name = 2, "init"
            elif b == ESC and second == ord("d"):
                size, name = 3, "feed"
            elif b == DLE and second == 0x04:
                size, name = 3, "status"
            elif b == GS and second == ord("v"):
                if i + 8 > n:
                    break
                xl, xh, yl, yh = data[i + 4:i + 8]
                wb, h = xl + 256 * xh, yl + 256 * yh
                if i + 8 + wb * h > n:
                    break
                out.append(Command("raster", data[i:i + 8 + wb * h], wb, h))
                i += 8 + wb * h
                continue
            elif b == GS and second == ord("V"):
                if i + 2 >= n:
                    break
                size, name = (4 if data[i + 2] in (65, 66, 97, 98, 103, 104) else 3), "cut"
        if i + size > n:
            break
        chunk = data[i:i + size]
        out.append(Command(f"status{chunk[2]}" if name == "status" else name, chunk))
        i += size
    return out, data[i:]


def split_jobs(data: bytes) -> list[bytes]:
    """The tickets in a stream (each from ``ESC @`` to its cut), read command by command."""
    commands, _ = read_stream(data)
    jobs: list[bytes] = []
    current = b""
    for c in commands:
        if c.name == "init":
            current = b""
        current += c.data
        if c.name == "cut":
            jobs.append(current)
            current = b""
    return jobs


def raster(data: bytes) -> Image.Image:
    """The ``GS v 0`` images in ``data`` stacked top to bottom (1 bit: black = 0).

    Raises ``AssertionError`` when the fragments differ in width or there are none.
    """
    commands, tail = read_stream(data)
    assert not tail, f"{len(tail)} bytes left over"
    parts = [c for c in commands if c.name == "raster"]
    assert parts, "no GS v 0 image in the stream"
    width_bytes = parts[0].width_bytes
    assert all(p.width_bytes == width_bytes for p in parts)
    rows = b"".join(p.data[8:] for p in parts)
    height = sum(p.height for p in parts)
    # GS v 0 bits: 1 = print (black). PIL mode "1" raw: 1 = white, so invert.
    image = Image.frombytes("1", (width_bytes * 8, height), bytes(255 - x for x in rows))
    return image


@dataclass
class Connection:
    """What one TCP connection carried."""

    received: bytearray = field(default_factory=bytearray)
    statuses: list[int] = field(default_factory=list)
    cut_at: float | None = None
    dropped: bool = False


class StandInPrinter:
    """The stand-in (see module doc). ``state`` is a key of :data:`STATES`;
    ``answers`` False makes it ignore status requests; ``drop_after`` (bytes)
    makes it close the next connection that carries an image after that many."""

    def __init__(self) -> None:
        self.state = "ok"
        self.answers = True
        self.drop_after: int | None = None
        self.connections: list[Connection] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._stop = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop listening (a later connection is refused)."""
        self._stop = True
        self._server.close()

    def jobs(self) -> list[bytes]:
        """The bytes of every connection that ended with a cut (whole tickets)."""
        with self._lock:
            return [bytes(c.received) for c in self.connections if c.cut_at is not None and not c.dropped]

    def last_cut(self) -> float:
        """When the latest whole ticket's cut command arrived (``time.monotonic()``)."""
        with self._lock:
            return max(c.cut_at for c in self.connections if c.cut_at is not None and not c.dropped)

    def wait_jobs(self, count: int, timeout: float = 15) -> list[bytes]:
        """Block until ``count`` whole tickets arrived; raises ``AssertionError`` on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            jobs = self.jobs()
            if len(jobs) >= count:
                return jobs
            time.sleep(0.02)
        raise AssertionError(f"{len(self.jobs())} of {count} tickets arrived in {timeout} s")

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        record = Connection()
        with self._lock:
            self.connections.append(record)
        pending = b""
        drop = None
        with conn:
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                record.received += chunk
                pending += chunk
                if drop is None and self.drop_after is not None and b"\x1dv0" in record.received:
                    drop, self.drop_after = self.drop_after, None
                if drop is not None and len(record.received) >= drop:
                    record.dropped = True
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    return  # closes with a reset, mid-job
                commands, pending = read_stream(pending)
                for c in commands:
                    if c.name.startswith("status") and self.answers:
                        n = int(c.name[6:])
                        index = {1: 0, 2: 1, 4: 2}.get(n)
                        if index is not None:
                            conn.sendall(bytes((STATES[self.state][index],)))
                            record.statuses.append(n)
                    elif c.name == "cut":
                        record.cut_at = time.monotonic()
