"""A display that stops reading is dropped; the others keep their latency."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from pathlib import Path

import httpx
import orjson
from websockets.client import ClientProtocol
from websockets.uri import parse_uri

from .serverkit import ServerProcess, admin, bearer, clerk
from .wskit import Display


def stuck_display(ws_url: str) -> socket.socket:
    """A display that subscribes to everything and then never reads again."""
    proto = ClientProtocol(parse_uri(ws_url))
    host, port = ws_url.removeprefix("ws://").split("/")[0].split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    proto.send_request(proto.connect())
    sock.sendall(b"".join(proto.data_to_send()))
    while not proto.events_received() and proto.handshake_exc is None:
        proto.receive_data(sock.recv(4096))
    assert proto.handshake_exc is None
    proto.send_text(orjson.dumps({"type": "subscribe", "topics": ["office"]}))
    sock.sendall(b"".join(proto.data_to_send()))
    return sock


async def test_a_stuck_client_is_dropped_without_slowing_the_others(tmp_path: Path) -> None:
    proc = ServerProcess(
        tmp_path, env={"MADOGUCHI_WS_QUEUE_SIZE": "32", "MADOGUCHI_SOCKET_SEND_BUFFER": "4096"}
    ).start()
    try:
        stuck = stuck_display(proc.ws_url)
        fast = await Display.open(proc.ws_url)
        await fast.send({"type": "subscribe", "id": 1, "topics": ["office"]})
        await fast.drain(0.2)
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as client:
            a = await admin(client)                                           # counts are for staff only
            assert (await client.get("/api/health", headers=a)).json()["ws_clients"] == 2
            desk = await clerk(client, a, "bp-clerk", counter="1")            # calls shomei
            await clerk(client, a, "bp-clerk-juki", counter="10")             # staffed, so idou issues too
            kiosk = bearer(proc.kiosk)
            latencies = []
            for i in range(800):
                r = await client.post("/api/tickets", json={"queue": ("shomei", "idou")[i % 2]}, headers=kiosk)
                assert r.status_code == 201, r.text
                if i % 20 == 0:
                    sent = time.perf_counter()
                    r = await client.post("/api/counters/1/call-next", headers=desk)
                    assert r.status_code == 200
                    await fast.until(lambda m: m["type"] == "event" and m["event"]["type"] == "ticket.called")
                    latencies.append(time.perf_counter() - sent)
                    await client.post("/api/counters/1/finish", headers=desk)
                else:
                    await fast.drain(0)
            health = (await client.get("/api/health", headers=a)).json()
        assert health["ws_clients"] == 1, health  # the stuck one is gone
        latencies.sort()
        assert latencies[-1] < 0.25, latencies  # the others never waited for it
        # Reading it now, it got at most part of the stream: it never answered the server's
        # goodbye, so the server reset the connection (what it had not read is gone).
        stuck.settimeout(10)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := stuck.recv(65536):
                received += chunk
        assert received.count(b'"type":"event"') < 800
        stuck.close()
        await fast.close()
    finally:
        proc.stop()


def tcp_state(sock: socket.socket) -> int:
    """The kernel's TCP state of ``sock`` (Linux ``tcp_info.tcpi_state``: 1 established,
    7 closed, 8 close-wait), read without reading the socket's data."""
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)[0]


async def test_a_dropped_client_s_tcp_connection_is_closed_by_the_server(tmp_path: Path) -> None:
    """Before, the server kept a dropped client's socket ESTABLISHED for minutes, holding
    its send queue (issue 13 point 11): the client never reads, so the server's goodbye
    never gets through and only a reset ends the connection."""
    proc = ServerProcess(
        tmp_path, env={"MADOGUCHI_WS_QUEUE_SIZE": "32", "MADOGUCHI_SOCKET_SEND_BUFFER": "4096"}
    ).start()
    try:
        stuck = stuck_display(proc.ws_url)
        assert tcp_state(stuck) == 1
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as client:
            await clerk(client, await admin(client), "bp-clerk-11", counter="1")
            kiosk = bearer(proc.kiosk)
            issued = 0
            started = time.monotonic()
            while tcp_state(stuck) == 1 and time.monotonic() - started < 20:
                for _ in range(20):
                    r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
                    assert r.status_code == 201, r.text
                    issued += 1
            # The events far outnumber what the client's and the server's buffers hold, so it was
            # dropped; its connection was then ended by the server within a few seconds (a reset).
            deadline = time.monotonic() + 5
            while tcp_state(stuck) == 1 and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        assert tcp_state(stuck) != 1, (issued, tcp_state(stuck))
        assert issued < 600, issued
        stuck.close()
    finally:
        proc.stop()
