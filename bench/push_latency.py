"""Push latency: a clerk's call command sent → the last of N subscribers has it.

Usage: python bench/push_latency.py --subscribers 100 --calls 200 [--url URL] [--procs P]

Subscribers are WebSocket clients subscribed to ``office`` (the guidance
display's topic), spread over P client processes (websockets' sans-I/O client
protocol on plain asyncio transports, to keep the load generator light); times use the machine-wide
monotonic clock so they compare across processes. Starts its own server on a
free port unless given --url (then set MADOGUCHI_ADMIN_PASSWORD and
MADOGUCHI_KIOSK_TOKEN). Last line:
``subscribers=N calls=K p50_ms=… p99_ms=… max_ms=… server_peak_rss_mb=…``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import httpx
import orjson

from bench._server import admin_headers, clerk_token, connect, percentile


def subscriber_process(ws_url: str, count: int, ready: mp.Queue[int], out: mp.Queue[tuple[str, float]],
                       calls: int) -> None:
    """Open ``count`` connections; report, per call, when the last of them got it.

    Each connection is websockets' sans-I/O client protocol driven straight from
    an asyncio protocol's callbacks, so the load generator spends as little CPU
    as it can on the two cores it shares with the server.
    """
    from websockets.client import ClientProtocol
    from websockets.frames import Frame, Opcode
    from websockets.http11 import Response
    from websockets.uri import parse_uri

    uri = parse_uri(ws_url)
    subscribe = orjson.dumps({"type": "subscribe", "topics": ["office"]})
    got: dict[bytes, list[float]] = {}
    state = {"done": 0}

    async def main() -> None:
        loop = asyncio.get_running_loop()
        finished = loop.create_future()

        class Subscriber(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport = transport
                self.ws = ClientProtocol(uri, max_size=None)
                self.ws.send_request(self.ws.connect())
                transport.write(b"".join(self.ws.data_to_send()))  # type: ignore[attr-defined]

            def data_received(self, data: bytes) -> None:
                now = time.monotonic()
                self.ws.receive_data(data)
                for event in self.ws.events_received():
                    if isinstance(event, Response):
                        self.ws.send_text(subscribe)
                        ready.put(1)
                    elif isinstance(event, Frame) and event.opcode is Opcode.TEXT and b'"ticket.called"' in event.data:
                        data = bytes(event.data)
                        start = data.index(b'"ticket":"') + 10
                        key = data[start:data.index(b'"', start)]
                        times = got.setdefault(key, [])
                        times.append(now)
                        if len(times) == count:
                            out.put((key.decode(), max(times)))
                            del got[key]
                            state["done"] += 1
                            if state["done"] >= calls and not finished.done():
                                finished.set_result(None)
                pending = self.ws.data_to_send()
                if pending:
                    self.transport.write(b"".join(pending))  # type: ignore[attr-defined]

        host, port = uri.host, uri.port
        transports = []
        for i in range(count):
            transport, _ = await loop.create_connection(Subscriber, host, port)
            transports.append(transport)
            if i % 50 == 49:
                await asyncio.sleep(0.02)
        await finished
        for t in transports:
            t.close()

    asyncio.run(main())


def rss_sampler(pid: int, stop: threading.Event, peak: list[float]) -> None:
    import psutil
    proc = psutil.Process(pid)
    while not stop.is_set():
        try:
            peak[0] = max(peak[0], proc.memory_info().rss / 2**20)
        except psutil.Error:
            return
        time.sleep(0.05)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subscribers", type=int, default=100)
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--procs", type=int, default=0, help="client processes (default: 1 per 1,000 subscribers)")
    p.add_argument("--url")
    args = p.parse_args()
    procs = args.procs or max(1, (args.subscribers + 999) // 1000)
    server = connect(args.url)
    stop, peak = threading.Event(), [0.0]
    if server.proc is not None:
        threading.Thread(target=rss_sampler, args=(server.proc.pid, stop, peak), daemon=True).start()
    try:
        client = httpx.Client(base_url=server.url, timeout=30)
        counter = "4"
        clerk = {"Authorization": f"Bearer {clerk_token(client, admin_headers(client), 'bench-clerk', counter)}"}
        kiosk = {"Authorization": f"Bearer {server.kiosk}"}
        for _ in range(args.calls):
            client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk).raise_for_status()
        ws_url = server.url.replace("http", "ws", 1) + "/ws"
        ctx = mp.get_context("spawn")
        ready: mp.Queue[int] = ctx.Queue()
        out: mp.Queue[tuple[str, float]] = ctx.Queue()
        shares = [args.subscribers // procs + (1 if i < args.subscribers % procs else 0) for i in range(procs)]
        workers = [ctx.Process(target=subscriber_process, args=(ws_url, n, ready, out, args.calls))
                   for n in shares if n]
        for w in workers:
            w.start()
        for _ in range(args.subscribers):
            ready.get(timeout=120)
        time.sleep(1.0)
        latencies = []
        for _ in range(args.calls):
            sent = time.monotonic()
            r = client.post(f"/api/counters/{counter}/call-next", headers=clerk)
            r.raise_for_status()
            ticket = r.json()["ticket"]["id"]
            last = 0.0
            for _ in workers:
                key, at = out.get(timeout=60)
                assert key == ticket, (key, ticket)
                last = max(last, at)
            latencies.append((last - sent) * 1000)
            client.post(f"/api/counters/{counter}/finish", json={"handover": False}, headers=clerk).raise_for_status()
        for w in workers:
            w.join(30)
        health = client.get("/api/health").json()
    finally:
        stop.set()
        server.stop()
    print(f"client_procs={len(workers)} ws_clients_at_end={health.get('ws_clients')} "
          f"slowest_calls={sorted(range(len(latencies)), key=lambda i: -latencies[i])[:5]}")
    rss = f" server_peak_rss_mb={peak[0]:.1f}" if server.proc is not None else ""
    print(f"subscribers={args.subscribers} calls={args.calls} p50_ms={percentile(latencies, 0.5):.2f} "
          f"p99_ms={percentile(latencies, 0.99):.2f} max_ms={max(latencies):.2f}{rss}")


if __name__ == "__main__":
    main()
