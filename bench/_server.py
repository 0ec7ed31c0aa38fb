"""Start a madoguchi server for a benchmark (a child process on 127.0.0.1)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass

import httpx

ADMIN_PASSWORD = "bench-admin-password"


@dataclass
class Server:
    url: str
    kiosk: str
    proc: subprocess.Popen[str] | None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(15)


def start(env: dict[str, str] | None = None) -> Server:
    """A demo-office server on a fresh data directory; returns its URL and kiosk token."""
    data = tempfile.mkdtemp(prefix="madoguchi-bench-")
    cmd = [sys.executable, "-m", "server.cli", "serve", "--port", "0", "--data-dir", data]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "MADOGUCHI_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})})
    lines: list[str] = []
    ready = threading.Event()

    def pump() -> None:
        assert proc.stdout
        for line in proc.stdout:
            lines.append(line)
            if "Demo display" in line:
                ready.set()
        ready.set()

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(30):
        raise SystemExit("server did not start:\n" + "".join(lines))
    text = "".join(lines)
    match = re.search(r"listening on (\S+)", text)
    kiosk = re.search(r"Demo kiosk .* token (\S+)", text)
    if not match or not kiosk:
        raise SystemExit("server did not start:\n" + text)
    url = match.group(1)
    for _ in range(100):
        try:
            if httpx.get(url + "/api/health").status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.05)
    return Server(url, kiosk.group(1), proc)


def connect(url: str | None, env: dict[str, str] | None = None) -> Server:
    """``url`` as given (a running server: needs MADOGUCHI_ADMIN_PASSWORD and a kiosk
    token in MADOGUCHI_KIOSK_TOKEN), or a fresh one."""
    if url is None:
        return start(env)
    return Server(url.rstrip("/"), os.environ.get("MADOGUCHI_KIOSK_TOKEN", ""), None)


def admin_password() -> str:
    return os.environ.get("MADOGUCHI_ADMIN_PASSWORD", ADMIN_PASSWORD)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, int(round(q * len(ordered) + 0.5)) - 1))]


def admin_headers(client: httpx.Client) -> dict[str, str]:
    """Sign in as admin; bearer headers."""
    r = client.post("/api/auth/login", json={"username": "admin", "password": admin_password()})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def clerk_token(client: httpx.Client, admin: dict[str, str], name: str, counter: str) -> str:
    """Create (or reuse) clerk ``name``, sign in and open ``counter``; the bearer token."""
    password = f"{name}-password"
    client.post("/api/staff", json={"username": name, "password": password, "role": "clerk"}, headers=admin)
    token = client.post("/api/auth/login", json={"username": name, "password": password}).json()["token"]
    r = client.post(f"/api/counters/{counter}/sign-in", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    if r.json()["counter"]["ticket"]:
        client.post(f"/api/counters/{counter}/hold", headers={"Authorization": f"Bearer {token}"})
    return str(token)
