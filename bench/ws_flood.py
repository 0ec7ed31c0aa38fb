"""WebSocket flood: what one anonymous client sending subscribe messages as fast as it can does
to everyone else (issue 13 point 1).

Usage: python bench/ws_flood.py --calls 100 [--flood-messages 1000] [--url URL]

Times, first on a calm server and then while a flooder runs, a clerk's call (call-next sent →
the ``ticket.called`` event on an ``office`` subscriber's socket) and ``GET /api/health`` (polled
every 10 ms alongside). The flooder, in its own process, is the probe's: one connection sends
``{"type":"subscribe","topics":["office", … 50 times]}`` ``--flood-messages`` times while reading
what it is sent; when the server closes it, it connects again and goes on until the measurement
ends. Starts its own server on a free port unless given --url (then set MADOGUCHI_ADMIN_PASSWORD
and MADOGUCHI_KIOSK_TOKEN). Last line: ``health_p99_ms=… health_p99_flood_ms=… push_p99_ms=…
push_p99_flood_ms=… health_max_flood_ms=… push_max_flood_ms=… flood_messages=… flood_connections=…``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx
import orjson
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from bench._server import admin_headers, clerk_token, connect, percentile

FLOOD = orjson.dumps({"type": "subscribe", "topics": ["office"] * 50}).decode()


def flood_process(ws_url: str, messages: int, stop: Any, counts: Any) -> None:
    """Flood until ``stop`` is set; ``counts`` gets ``[messages sent, connections]``."""

    async def one(sent: list[int]) -> None:
        async with ws_connect(ws_url, max_queue=None, max_size=None) as ws:

            async def drain() -> None:
                async for _ in ws:
                    pass

            reader = asyncio.create_task(drain())
            try:
                for _ in range(messages):
                    if stop.is_set():
                        break
                    await ws.send(FLOOD)
                    sent[0] += 1
                await asyncio.wait_for(reader, 30)
            except (ConnectionClosed, TimeoutError):
                pass
            finally:
                reader.cancel()

    async def main() -> None:
        sent = [0]
        connections = 0
        while not stop.is_set():
            connections += 1
            try:
                await one(sent)
            except (ConnectionClosed, OSError):
                await asyncio.sleep(0.05)
            counts[0], counts[1] = sent[0], connections

    asyncio.run(main())


async def measure(base: str, ws_url: str, desk: str, kiosk: str, calls: int) -> tuple[list[float], list[float]]:
    """``(push latencies, health latencies)`` in seconds over ``calls`` calls."""
    health: list[float] = []
    done = asyncio.Event()
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        sub: ClientConnection = await ws_connect(ws_url, max_size=None)
        await sub.send(orjson.dumps({"type": "subscribe", "topics": ["office"]}).decode())

        async def poll() -> None:
            async with httpx.AsyncClient(base_url=base, timeout=60) as poller:
                while not done.is_set():
                    sent = time.perf_counter()
                    (await poller.get("/api/health")).raise_for_status()
                    health.append(time.perf_counter() - sent)
                    await asyncio.sleep(0.01)

        poller = asyncio.create_task(poll())
        pushes: list[float] = []
        auth = {"Authorization": f"Bearer {desk}"}
        issuer = {"Authorization": f"Bearer {kiosk}"}
        for _ in range(calls):
            r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=issuer)
            r.raise_for_status()
            sent = time.perf_counter()
            (await client.post("/api/counters/1/call-next", headers=auth)).raise_for_status()
            while True:
                msg = orjson.loads(await asyncio.wait_for(sub.recv(), 60))
                if msg["type"] == "event" and msg["event"]["type"] == "ticket.called":
                    break
            pushes.append(time.perf_counter() - sent)
            (await client.post("/api/counters/1/finish", headers=auth)).raise_for_status()
        done.set()
        await poller
        await sub.close()
    return pushes, health


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=100, help="calls timed in each phase")
    parser.add_argument("--flood-messages", type=int, default=1000, help="messages per flood connection")
    parser.add_argument("--url", help="a running server (default: start one)")
    args = parser.parse_args()
    server = connect(args.url, {"MADOGUCHI_PUBLIC_RATE": "1000000/minute"})
    try:
        ws_url = server.url.replace("http", "ws", 1) + "/ws"
        with httpx.Client(base_url=server.url, timeout=60) as client:
            desk = clerk_token(client, admin_headers(client), "bench-flood-clerk", "1")
        calm_push, calm_health = asyncio.run(measure(server.url, ws_url, desk, server.kiosk, args.calls))
        stop = mp.Event()
        counts = mp.Array("q", 2)
        flooder = mp.Process(target=flood_process, args=(ws_url, args.flood_messages, stop, counts), daemon=True)
        flooder.start()
        time.sleep(0.2)  # the flood is under way
        flood_push, flood_health = asyncio.run(measure(server.url, ws_url, desk, server.kiosk, args.calls))
        stop.set()
        flooder.join(30)
        if flooder.is_alive():
            flooder.terminate()
        ms = 1000
        print(f"calm: push p50 {percentile(calm_push, 0.5) * ms:.1f} ms, health p50"
              f" {percentile(calm_health, 0.5) * ms:.1f} ms;"
              f" flood: push p50 {percentile(flood_push, 0.5) * ms:.1f} ms, health p50"
              f" {percentile(flood_health, 0.5) * ms:.1f} ms ({len(flood_health)} health requests)")
        print(f"health_p99_ms={percentile(calm_health, 0.99) * ms:.1f} "
              f"health_p99_flood_ms={percentile(flood_health, 0.99) * ms:.1f} "
              f"push_p99_ms={percentile(calm_push, 0.99) * ms:.1f} "
              f"push_p99_flood_ms={percentile(flood_push, 0.99) * ms:.1f} "
              f"health_max_flood_ms={max(flood_health) * ms:.1f} push_max_flood_ms={max(flood_push) * ms:.1f} "
              f"flood_messages={counts[0]} flood_connections={counts[1]}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
