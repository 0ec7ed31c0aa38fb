"""A real madoguchi server in a child process on 127.0.0.1, for end-to-end tests."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

ADMIN_PASSWORD = "admin-password-for-tests"


class ServerProcess:
    """``madoguchi serve --port 0`` on a data directory; knows its URL and demo tokens."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        self.data_dir = Path(data_dir)
        self.env = {**os.environ, "MADOGUCHI_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})}
        self.args = args
        self.proc: subprocess.Popen[str] | None = None
        self.lines: list[str] = []
        self.url = ""
        self.kiosk = ""
        self.display = ""

    def start(self, timeout: float = 30) -> "ServerProcess":
        cmd = [sys.executable, "-m", "server.cli", "serve", "--port", "0", "--data-dir", str(self.data_dir), *self.args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.env)
        ready = threading.Event()

        def pump() -> None:
            assert self.proc and self.proc.stdout
            for line in self.proc.stdout:
                self.lines.append(line.rstrip("\n"))
                if "Demo display" in line or ("Public status" in line and "--config" in self.args):
                    ready.set()
            ready.set()

        self._pump = threading.Thread(target=pump, daemon=True)
        self._pump.start()
        if not ready.wait(timeout) or self.proc.poll() is not None:
            raise RuntimeError("server did not start:\n" + "\n".join(self.lines))
        text = "\n".join(self.lines)
        self.url = re.search(r"listening on (http://\S+)", text).group(1)  # type: ignore[union-attr]
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
        return self.url.replace("http", "ws", 1) + "/ws"

    def kill9(self) -> None:
        """Kill the server with SIGKILL, as a power cut of the process would."""
        assert self.proc
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        self._close()

    def _close(self) -> None:
        self._pump.join(5)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
            self._close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: httpx.AsyncClient, username: str, password: str) -> dict[str, str]:
    r = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return bearer(r.json()["token"])


async def admin(client: httpx.AsyncClient) -> dict[str, str]:
    return await login(client, "admin", ADMIN_PASSWORD)


async def clerk(client: httpx.AsyncClient, admin_headers: dict[str, str], name: str, counter: str | None = None,
                role: str = "clerk") -> dict[str, str]:
    """Create (or reuse) a staff account, sign in, and optionally open a counter."""
    password = f"pw-{name}-0123456789"
    r = await client.post("/api/staff", json={"username": name, "password": password, "role": role}, headers=admin_headers)
    assert r.status_code in (201, 409), r.text
    headers = await login(client, name, password)
    if counter is not None:
        r = await client.post(f"/api/counters/{counter}/sign-in", headers=headers)
        assert r.status_code == 200, r.text
    return headers
