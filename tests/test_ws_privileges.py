"""A WebSocket's privileges follow its credentials while it is open (issue 13 point 5), and a
browser page from another origin cannot use the session cookie on /ws (point 8)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from .serverkit import ADMIN_PASSWORD, ServerProcess, admin, bearer, clerk
from .wskit import Display

OTHER_ORIGIN = "https://floor.city.example"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("privileges"), env={
        "MADOGUCHI_PUBLIC_RATE": "100000/minute", "MADOGUCHI_ALLOWED_ORIGINS": f'["{OTHER_ORIGIN}"]',
    }).start()
    yield proc
    proc.stop()


@pytest.fixture
async def http(srv: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as c:
        yield c


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].split()[1]


async def staff_feed(url: str, headers: dict[str, str]) -> Display:
    """A client on the staff topic, past its snapshot."""
    d = await Display.open(url, headers)
    await d.send({"type": "subscribe", "id": 1, "topics": ["staff"]})
    assert (await d.next())["type"] == "result"
    assert (await d.next())["type"] == "snapshot"
    return d


async def closed_with(d: Display, timeout: float = 3) -> tuple[int | None, list[dict[str, Any]]]:
    """Read until the server closes; its close code and what came before."""
    got = []
    try:
        while True:
            got.append(await d.next(timeout))
    except ConnectionClosed:
        return d.ws.close_code, got


async def issue(http: httpx.AsyncClient, kiosk: str) -> dict[str, Any]:
    r = await http.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(kiosk))
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def test_a_revoked_display_loses_the_staff_feed_at_once(srv: ServerProcess, http: httpx.AsyncClient) -> None:
    a = await admin(http)
    await clerk(http, a, "priv-opener", counter="1")
    r = await http.post("/api/devices", json={"kind": "display", "name": "2F display revoked"}, headers=a)
    device = r.json()["device"]
    token = (await http.post("/api/devices/pair", json={"code": r.json()["pairing_code"]})).json()["token"]
    d = await staff_feed(srv.ws_url, bearer(token))
    before = await issue(http, srv.kiosk)
    ev = await d.until(lambda m: m["type"] == "event")
    assert ev["event"]["ticket"] == before["ticket"] and "token" in ev["event"]        # the full event
    assert (await http.delete(f"/api/devices/{device['id']}", headers=a)).status_code == 200
    after = await issue(http, srv.kiosk)
    code, got = await closed_with(d, timeout=0.8)     # at once: not waiting for the periodic re-check
    assert code == 4401, (code, got)
    assert after["ticket"] not in str(got) and after["token"] not in str(got), got


async def test_logout_ends_that_sessions_sockets_and_only_those(srv: ServerProcess, http: httpx.AsyncClient) -> None:
    a = await admin(http)
    await clerk(http, a, "priv-opener", counter="1")
    first = await clerk(http, a, "priv-sup", role="supervisor")
    second = await clerk(http, a, "priv-sup", role="supervisor")              # another session, same person
    cookie = {"Cookie": f"madoguchi_token={token_of(first)}"}                  # the way a browser page connects
    ending = await staff_feed(srv.ws_url, cookie)
    staying = await staff_feed(srv.ws_url, second)
    assert (await http.post("/api/auth/logout", headers=first)).status_code == 200
    after = await issue(http, srv.kiosk)
    code, got = await closed_with(ending, timeout=0.8)
    assert code == 4401 and after["token"] not in str(got), (code, got)
    ev = await staying.until(lambda m: m["type"] == "event" and m["event"]["ticket"] == after["ticket"])
    assert ev["event"]["token"] == after["token"]
    # A new socket with the ended session is anonymous: no staff topic.
    again = await Display.open(srv.ws_url, cookie)
    await again.send({"type": "subscribe", "id": 1, "topics": ["staff"]})
    assert (await again.next())["error"]["code"] == "forbidden"
    await again.close()
    await staying.close()


async def test_a_password_set_by_an_admin_ends_that_persons_sockets(
        srv: ServerProcess, http: httpx.AsyncClient) -> None:
    a = await admin(http)
    sup = await clerk(http, a, "priv-reset", role="supervisor")
    d = await staff_feed(srv.ws_url, sup)
    staff_id = (await http.get("/api/auth/me", headers=sup)).json()["id"]
    r = await http.put(f"/api/staff/{staff_id}/password", json={"password": "another-password-0123456789"}, headers=a)
    assert r.status_code == 200, r.text
    code, _ = await closed_with(d, timeout=0.8)
    assert code == 4401


async def test_auth_with_a_weaker_token_drops_what_it_may_not_read(
        srv: ServerProcess, http: httpx.AsyncClient) -> None:
    a = await admin(http)
    await clerk(http, a, "priv-opener", counter="1")
    d = await Display.open(srv.ws_url, a)
    await d.send({"type": "subscribe", "id": 1, "topics": ["staff", "office"]})
    await d.drain(0.3)
    await d.send({"type": "auth", "id": 2, "token": "not-a-token-anyone-has"})   # refused: nothing changes
    assert (await d.until(lambda m: m.get("id") == 2))["error"]["code"] == "unauthenticated"
    await d.send({"type": "auth", "id": 3, "token": srv.kiosk})
    result = await d.until(lambda m: m.get("id") == 3)
    assert result["result"] == {"kind": "device", "dropped": ["staff"]}, result
    t = await issue(http, srv.kiosk)
    ev = await d.until(lambda m: m["type"] == "event" and m["event"]["type"] == "ticket.issued")
    assert "token" not in ev["event"] and t["token"] not in str(d.messages[-1])   # the public event only
    await asyncio.sleep(0.3)
    assert t["token"] not in str(await d.drain(0.3))
    await d.send({"type": "subscribe", "id": 4, "topics": ["staff"]})
    assert (await d.until(lambda m: m.get("id") == 4))["error"]["code"] == "forbidden"
    await d.close()


async def test_the_cookie_works_on_ws_only_from_the_servers_own_origins(
        srv: ServerProcess, http: httpx.AsyncClient) -> None:
    a = await admin(http)
    cookie = {"Cookie": f"madoguchi_token={token_of(a)}"}
    for origin in ("http://evil.example", "null", srv.url.replace("127.0.0.1", "localhost"), srv.url + "1"):
        with pytest.raises(InvalidStatus) as refused:
            await Display.open(srv.ws_url, {**cookie, "Origin": origin})
        assert refused.value.response.status_code == 403, origin
    for headers in ({**cookie, "Origin": srv.url},                   # the server's own pages
                    {**cookie, "Origin": OTHER_ORIGIN},              # MADOGUCHI_ALLOWED_ORIGINS
                    cookie):                                         # no Origin: not a browser
        d = await staff_feed(srv.ws_url, headers)
        await d.close()
    # Without the cookie the origin does not matter: agents with a bearer token, public pages anywhere.
    d = await staff_feed(srv.ws_url, {**a, "Origin": "http://evil.example"})
    await d.close()
    anon = await Display.open(srv.ws_url, {"Origin": "http://evil.example"})
    await anon.send({"type": "subscribe", "id": 1, "topics": ["office"]})
    assert (await anon.next())["type"] == "result"
    await anon.close()


async def test_a_session_that_expires_ends_its_staff_feed(tmp_path: Path) -> None:
    ttl = 3
    proc = ServerProcess(tmp_path, env={"MADOGUCHI_SESSION_TTL_S": str(ttl)}).start()
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as http:
            r = await http.post("/api/auth/login", json={"username": "admin", "password": ADMIN_PASSWORD})
            d = await staff_feed(proc.ws_url, bearer(r.json()["token"]))
            loop = asyncio.get_running_loop()
            opened = loop.time()
            code, got = await closed_with(d, timeout=ttl + 3)
            assert code == 4401, (code, got)
            assert loop.time() - opened < ttl + 2.5
            assert all(m["type"] == "heartbeat" for m in got), got
    finally:
        proc.stop()
