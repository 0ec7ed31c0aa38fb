"""Durable commands per second through the HTTP API, with their latency.

Usage: python bench/command_throughput.py --seconds 10 [--url URL] [--procs 2] [--workers 8]

Each client process runs ``workers`` kiosk loops (issue a ticket) and as many
counter loops (call next, finish), each on its own keep-alive connection: a
busy floor's mix. Only commands the server acknowledged as stored count
(issue 201, call/finish 200); a call with nobody waiting does not. The
clients use aiohttp (lighter than httpx, so the two cores go to the server
rather than to the load generator). Starts its
own server on a free port unless given --url. Last line:
``commands_per_s=… p99_ms=… p50_ms=… commands=… seconds=…``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx

from bench._server import admin_headers, clerk_token, connect, percentile

QUEUES = ("shomei", "idou", "koseki", "inkan")


def client_process(url: str, kiosk: str, clerks: list[tuple[str, str]], workers: int, seconds: float,
                   out: mp.Queue[list[float]]) -> None:
    """One client process: ``workers`` kiosk loops and one counter loop per clerk for ``seconds``;
    puts the acknowledged commands' latencies (seconds) on ``out``."""
    import aiohttp

    async def main() -> None:
        latencies: list[float] = []
        deadline = time.monotonic() + seconds
        outstanding = [0]

        async def post(session: aiohttp.ClientSession, path: str, body: dict[str, object] | None = None) -> int:
            async with session.post(url + path, json=body) as r:
                await r.read()
                return r.status

        def session(token: str) -> aiohttp.ClientSession:
            return aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"},
                                         connector=aiohttp.TCPConnector(limit=1))

        async def kiosk_loop(i: int) -> None:
            async with session(kiosk) as s:
                while time.monotonic() < deadline:
                    if outstanding[0] > 300:
                        await asyncio.sleep(0.001)
                        continue
                    t = time.perf_counter()
                    if await post(s, "/api/tickets", {"queue": QUEUES[i % len(QUEUES)]}) == 201:
                        latencies.append(time.perf_counter() - t)
                        outstanding[0] += 1

        async def counter_loop(counter: str, token: str) -> None:
            async with session(token) as s:
                while time.monotonic() < deadline:
                    t = time.perf_counter()
                    if await post(s, f"/api/counters/{counter}/call-next") != 200:
                        await asyncio.sleep(0.002)
                        continue
                    latencies.append(time.perf_counter() - t)
                    outstanding[0] -= 1
                    t = time.perf_counter()
                    if await post(s, f"/api/counters/{counter}/finish", {"handover": False}) == 200:
                        latencies.append(time.perf_counter() - t)

        await asyncio.gather(*(kiosk_loop(i) for i in range(workers)), *(counter_loop(c, t) for c, t in clerks))
        out.put(latencies)

    asyncio.run(main())


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--procs", type=int, default=2)
    p.add_argument("--workers", type=int, default=3, help="kiosk loops and counter loops per process")
    p.add_argument("--url")
    args = p.parse_args()
    server = connect(args.url)
    try:
        client = httpx.Client(base_url=server.url, timeout=30)
        admin = admin_headers(client)
        # Counters 1-9 serve shomei/koseki, 10-23 idou/inkan/mynumber: take some of each.
        pairs = zip(range(1, 10), range(10, 19), strict=True)
        counters = [str(n) for pair in pairs for n in pair][: args.procs * args.workers]
        clerks = [(counter, clerk_token(client, admin, f"bench-{counter}", counter)) for counter in counters]
        ctx = mp.get_context("spawn")
        out: mp.Queue[list[float]] = ctx.Queue()
        shares = [clerks[i * args.workers:(i + 1) * args.workers] for i in range(args.procs)]
        procs = [ctx.Process(target=client_process,
                             args=(server.url, server.kiosk, share, args.workers, args.seconds, out))
                 for share in shares]
        for proc in procs:
            proc.start()
        latencies = [x for _ in procs for x in out.get(timeout=args.seconds + 120)]
        for proc in procs:
            proc.join(30)
        seq = client.get("/api/health").json()["seq"]
    finally:
        server.stop()
    ms = [x * 1000 for x in latencies]
    print(f"client_procs={args.procs} workers={args.workers} events_stored={seq}")
    print(f"commands_per_s={len(ms) / args.seconds:.0f} p99_ms={percentile(ms, 0.99):.2f} "
          f"p50_ms={percentile(ms, 0.5):.2f} commands={len(ms)} seconds={args.seconds:g}")


if __name__ == "__main__":
    main()
