"""A real madoguchi server in a child process on 127.0.0.1, and sign-in helpers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx

from server.launch import ServerProcess as Launcher

ADMIN_PASSWORD = "quiet lantern harbor 4817"


def password_of(name: str) -> str:
    """The tests' password for staff account ``name``: passes the password rules
    (15+ characters, not common, without the user name)."""
    return f"kaede river {int(hashlib.sha256(name.encode()).hexdigest()[:10], 16) % 10**8:08d}"


class ServerProcess(Launcher):
    """A server with the tests' admin password (see :class:`server.launch.ServerProcess`). Every test's
    citizens come from one address, so the limit on applications started per address is lifted unless a
    test sets it (``tests/test_forms_apply.py`` checks it)."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, args: tuple[str, ...] = ()) -> None:
        super().__init__(data_dir, {"MADOGUCHI_ADMIN_PASSWORD": ADMIN_PASSWORD,
                                    "MADOGUCHI_APPLY_START_RATE": "100000/hour", **(env or {})}, args)


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
    password = password_of(name)
    r = await client.post(
        "/api/staff", json={"username": name, "password": password, "role": role}, headers=admin_headers
    )
    assert r.status_code in (201, 409), r.text
    headers = await login(client, name, password)
    if counter is not None:
        r = await client.post(f"/api/counters/{counter}/sign-in", headers=headers)
        assert r.status_code == 200, r.text
    return headers
