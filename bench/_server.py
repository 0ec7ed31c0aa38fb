"""Start a madoguchi server for a benchmark (a child process on 127.0.0.1)."""

from __future__ import annotations

import os
import tempfile

import httpx

from server.launch import ServerProcess

ADMIN_PASSWORD = "maple station ladder 3141"


def start(env: dict[str, str] | None = None) -> ServerProcess:
    """A demo-office server on a fresh data directory."""
    data = tempfile.mkdtemp(prefix="madoguchi-bench-")
    try:
        return ServerProcess(data, {"MADOGUCHI_ADMIN_PASSWORD": ADMIN_PASSWORD, **(env or {})}).start()
    except RuntimeError as exc:
        raise SystemExit(str(exc)) from None


class RunningServer:
    """A server someone else started (``--url``)."""

    def __init__(self, url: str, kiosk: str) -> None:
        self.url, self.kiosk, self.proc = url, kiosk, None

    def stop(self) -> None:
        """Nothing to stop: it is not ours."""


def connect(url: str | None, env: dict[str, str] | None = None) -> ServerProcess | RunningServer:
    """``url`` as given (a running server: needs MADOGUCHI_ADMIN_PASSWORD and a kiosk
    token in MADOGUCHI_KIOSK_TOKEN), or a fresh one."""
    if url is None:
        return start(env)
    return RunningServer(url.rstrip("/"), os.environ.get("MADOGUCHI_KIOSK_TOKEN", ""))


def admin_password() -> str:
    return os.environ.get("MADOGUCHI_ADMIN_PASSWORD", ADMIN_PASSWORD)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))]


def admin_headers(client: httpx.Client) -> dict[str, str]:
    """Sign in as admin; bearer headers."""
    r = client.post("/api/auth/login", json={"username": "admin", "password": admin_password()})
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['token']}"}


def clerk_token(client: httpx.Client, admin: dict[str, str], name: str, counter: str) -> str:
    """Create (or reuse) clerk ``name``, sign in and open ``counter``; the bearer token."""
    password = "cedar road quill 7706"  # passes the password rules (no user name in it)
    client.post("/api/staff", json={"username": name, "password": password, "role": "clerk"}, headers=admin)
    token = client.post("/api/auth/login", json={"username": name, "password": password}).json()["token"]
    r = client.post(f"/api/counters/{counter}/sign-in", headers={"Authorization": f"Bearer {token}"})
    r.raise_for_status()
    if r.json()["counter"]["ticket"]:
        client.post(f"/api/counters/{counter}/hold", headers={"Authorization": f"Bearer {token}"})
    return str(token)
