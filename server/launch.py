"""Run ``madoguchi serve`` as a child process and read its start-up banner.

For tests, benchmarks and scripts that need a real server on loopback. The
banner is printed by :func:`server.cli._serve`; this is its one reader.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Self

import httpx


class ServerProcess:
    """``madoguchi serve --port 0`` on ``data_dir``: once started, ``url`` and the
    demo ``kiosk`` and ``display`` tokens are known; ``lines`` holds its output."""

    def __init__(self, data_dir: Path | str, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        self.data_dir = Path(data_dir)
        self.env = {**os.environ, **(env or {})}
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.url = ""
        self.kiosk = ""
        self.display = ""
        self._pump: threading.Thread | None = None

    def start(self, timeout: float = 30) -> Self:
        """Start and wait until ``/api/health`` answers. Raises ``RuntimeError`` with
        the server's output when it does not come up."""
        cmd = [sys.executable, "-m", "server.cli", "serve", "--port", "0", "--data-dir", str(self.data_dir), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env)
        ready = threading.Event()

        def pump() -> None:
            assert self.proc and self.proc.stdout
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                if "Demo display" in line or ("Public status" in line and "--config" in self.args) \
                        or ("Online applications" in line and "--door" in self.args):
                    ready.set()
            ready.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        if not ready.wait(timeout) or self.proc.poll() is not None:
            raise RuntimeError("server did not start:\n" + "\n".join(self.lines))
        text = "\n".join(self.lines)
        listening = re.search(r"listening on (http://\S+)", text)
        if listening is None:
            raise RuntimeError("server did not start:\n" + text)
        self.url = listening.group(1)
        kiosk = re.search(r"Demo kiosk .* token (\S+)", text)
        display = re.search(r"Demo display .* token (\S+)", text)
        self.kiosk = kiosk.group(1) if kiosk else ""
        self.display = display.group(1) if display else ""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/api/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("server not healthy")

    @property
    def ws_url(self) -> str:
        """The ``/ws`` URL."""
        return self.url.replace("http", "ws", 1) + "/ws"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self.proc.pid if self.proc else None

    def kill9(self) -> None:
        """Kill the server with SIGKILL, as a crash would."""
        assert self.proc
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._close()

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self._close()

    def _close(self) -> None:
        if self._pump is not None:
            self._pump.join(5)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
