"""ESC/POS thermal printers through python-escpos: job bytes, real-time status, sending.

Real-time status is Epson's ``DLE EOT n`` (ESC/POS Application Programming
Guide, "Transmit real-time status"), answered by most ESC/POS printers even
while they cannot print:

- ``n=1`` printer status: bit 3 set → offline;
- ``n=2`` offline cause: bit 2 cover open, bit 5 stopped by paper end, bit 6 error;
- ``n=4`` roll paper sensor: bits 2-3 near end, bits 5-6 paper end.

The calls here block (sockets, files); the server runs them in a worker thread.
"""

from __future__ import annotations

import contextlib
import enum
import socket
from dataclasses import dataclass

from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Dummy, File, Network
from PIL import Image

from .ticket import PAPER_DOTS

DLE_EOT = b"\x10\x04"


class PrinterState(enum.StrEnum):
    """A printer's health, worst first in :data:`SEVERITY`."""

    OK = "ok"
    NEAR_END = "paper_near_end"
    PAPER_END = "paper_end"
    COVER_OPEN = "cover_open"
    OFFLINE = "offline"
    ERROR = "error"
    UNKNOWN = "unknown"  # connected, but it does not answer DLE EOT

    @property
    def can_print(self) -> bool:
        """Whether a job may be sent (near end and unknown still print)."""
        return self in (PrinterState.OK, PrinterState.NEAR_END, PrinterState.UNKNOWN)


class PrintFailed(Exception):
    """A job did not reach the printer whole; ``state`` says why."""

    def __init__(self, state: PrinterState, message: str) -> None:
        super().__init__(message)
        self.state = state


def job_bytes(image: Image.Image, paper_mm: int) -> bytes:
    """ESC/POS for one ticket: ``ESC @`` (reset, so a retried job starts
    clean), the image as ``GS v 0`` raster fragments of at most 960 rows, feed
    and full cut. Raises ``ValueError`` when the image is wider than the paper."""
    dots = PAPER_DOTS[paper_mm]
    if image.width > dots:
        raise ValueError(f"ticket is {image.width} dots wide; {paper_mm} mm paper prints {dots}")
    dummy = Dummy()
    data = dict(dummy.profile.profile_data)
    data["media"] = {"dpi": 203, "width": {"mm": paper_mm, "pixels": dots}}
    dummy.profile.profile_data = data
    dummy.hw("INIT")
    dummy.image(image, impl="bitImageRaster", center=False)
    dummy.cut()
    return bytes(dummy.output)


def decode_status(online: bytes | None, cause: bytes | None, paper: bytes | None) -> PrinterState:
    """The state from the answers to ``DLE EOT 1``, ``2`` and ``4`` (one byte
    each; ``None`` or empty when the printer did not answer)."""
    if not online and not cause and not paper:
        return PrinterState.UNKNOWN
    if cause and cause[0] & 0x04:
        return PrinterState.COVER_OPEN
    if (paper and paper[0] & 0x60 == 0x60) or (cause and cause[0] & 0x20):
        return PrinterState.PAPER_END
    if cause and cause[0] & 0x40:
        return PrinterState.ERROR
    if online and online[0] & 0x08:
        return PrinterState.OFFLINE
    if paper and paper[0] & 0x0C == 0x0C:
        return PrinterState.NEAR_END
    return PrinterState.OK


@dataclass
class Link:
    """How to reach one printer: ``tcp`` (``host``, ``port``) or ``file`` (a
    device node such as ``/dev/usb/lp0``, the Linux usblp driver's USB printer).

    ``timeout`` (seconds) bounds connecting and sending; ``status_timeout``
    bounds waiting for a ``DLE EOT`` answer.
    """

    kind: str
    host: str = ""
    port: int = 9100
    path: str = ""
    timeout: float = 5.0
    status_timeout: float = 1.0

    def describe(self) -> str:
        """``tcp://host:port`` or ``file:/path``, for messages and logs."""
        return f"tcp://{self.host}:{self.port}" if self.kind == "tcp" else f"file:{self.path}"

    def _open(self) -> Network | File:
        try:
            if self.kind == "tcp":
                printer: Network | File = Network(self.host, self.port, timeout=self.timeout)
            else:
                printer = File(self.path, auto_flush=True)
            printer.open()
        except (DeviceNotFoundError, OSError) as err:
            raise PrintFailed(PrinterState.OFFLINE, f"cannot reach the printer at {self.describe()}") from err
        return printer

    def _status(self, printer: Network | File) -> PrinterState:
        if self.kind != "tcp":
            return PrinterState.UNKNOWN  # a usblp node's back channel is not read here
        sock: socket.socket = printer.device
        answers: list[bytes | None] = []
        sock.settimeout(self.status_timeout)
        try:
            for n in (1, 2, 4):
                try:
                    reply = printer.query_status(DLE_EOT + bytes((n,)))
                except TimeoutError:  # stopped answering: read what came
                    answers += [None] * (3 - len(answers))
                    return decode_status(*answers)
                if reply == b"":
                    raise PrintFailed(PrinterState.OFFLINE, f"the printer at {self.describe()} closed the connection")
                answers.append(reply[-1:])
        except OSError as err:
            raise PrintFailed(PrinterState.OFFLINE, f"lost the printer at {self.describe()}") from err
        finally:
            sock.settimeout(self.timeout)
        return decode_status(*answers)

    def status(self) -> PrinterState:
        """Connect, read the real-time status, disconnect. Never raises: an
        unreachable printer is :attr:`PrinterState.OFFLINE`."""
        try:
            printer = self._open()
        except PrintFailed as err:
            return err.state
        try:
            return self._status(printer)
        except PrintFailed as err:
            return err.state
        finally:
            _close(printer)

    def send(self, data: bytes) -> PrinterState:
        """Send one job: status first (nothing is sent to a printer that cannot
        print), the bytes, then status again, whose answer also proves that
        every byte before it arrived. Returns the state after the job.

        Raises :class:`PrintFailed` when the printer cannot print, the link
        breaks, or the paper ran out during the job.
        """
        printer = self._open()
        try:
            before = self._status(printer)
            if not before.can_print:
                raise PrintFailed(before, f"the printer reports {before.value}")
            try:
                printer._raw(data)
            except OSError as err:
                message = f"the connection to {self.describe()} broke during the job"
                raise PrintFailed(PrinterState.OFFLINE, message) from err
            after = self._status(printer)
            if after in (PrinterState.PAPER_END, PrinterState.COVER_OPEN, PrinterState.OFFLINE, PrinterState.ERROR):
                raise PrintFailed(after, f"the printer reported {after.value} during the job")
            return after
        finally:
            _close(printer)


def _close(printer: Network | File) -> None:
    with contextlib.suppress(OSError):  # the link may already be gone
        printer.close()
