"""What one WebSocket client can cause is bounded (issue 13 points 1 and 16): repeated topics
count once, a connection holds a bounded number of topics, messages are rate-limited (a
flooder is closed), sizes count bytes, and a flood from one anonymous client does not move
anyone else's latency."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from websockets.exceptions import ConnectionClosed

from .serverkit import ServerProcess, admin, bearer, clerk
from .wskit import Display

MAX_TOPICS = 4
#: The probe's flood: 1,000 messages naming the office topic 50 times (533 bytes each).
FLOOD = orjson.dumps({"type": "subscribe", "topics": ["office"] * 50}).decode()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("limits"), env={
        "MADOGUCHI_PUBLIC_RATE": "100000/minute", "MADOGUCHI_WS_MAX_TOPICS": str(MAX_TOPICS),
    }).start()
    yield proc
    proc.stop()


@pytest.fixture
async def http(limited: ServerProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=limited.url, timeout=30) as c:
        yield c


async def test_a_topic_named_fifty_times_gets_one_snapshot(limited: ServerProcess) -> None:
    d = await Display.open(limited.ws_url)
    await d.send({"type": "subscribe", "id": 1, "topics": ["office"] * 50})
    result = await d.next()
    assert result["type"] == "result" and result["result"]["topics"] == ["office"], result
    got = [m for m in await d.drain(0.5) if m["type"] != "heartbeat"]
    assert [m["type"] for m in got] == ["snapshot"], got
    await d.close()


async def test_a_connection_holds_a_bounded_number_of_topics(limited: ServerProcess) -> None:
    queues = ["queue:shomei", "queue:idou", "queue:kofu", "queue:inkan", "queue:koseki"]
    d = await Display.open(limited.ws_url)
    await d.send({"type": "subscribe", "id": 1, "topics": queues})            # 5 at once
    err = await d.next()
    assert err["type"] == "error" and err["id"] == 1 and err["error"]["code"] == "too_many_topics", err
    assert str(MAX_TOPICS) in err["error"]["message"]
    await d.send({"type": "subscribe", "id": 2, "topics": queues[:MAX_TOPICS]})
    await d.until(lambda m: m.get("id") == 2 and m["type"] == "result")
    await d.send({"type": "subscribe", "id": 3, "topics": [queues[4]]})       # one more than held
    err = await d.until(lambda m: m.get("id") == 3)
    assert err["type"] == "error" and err["error"]["code"] == "too_many_topics", err
    await d.send({"type": "subscribe", "id": 4, "topics": [queues[0]]})       # one already held: fine
    assert (await d.until(lambda m: m.get("id") == 4))["type"] == "result"
    await d.send({"type": "unsubscribe", "id": 5, "topics": [queues[0]]})
    await d.until(lambda m: m.get("id") == 5)
    await d.send({"type": "subscribe", "id": 6, "topics": [queues[4]]})       # room again
    assert (await d.until(lambda m: m.get("id") == 6))["type"] == "result"
    await d.close()


async def test_messages_past_the_rate_are_refused_with_the_envelope_and_the_client_stays(
        limited: ServerProcess) -> None:
    d = await Display.open(limited.ws_url)
    for i in range(45):                              # the burst is 40
        await d.send({"type": "ping", "id": i})
    replies = [await d.next() for _ in range(45)]
    pongs = [m for m in replies if m["type"] == "result"]
    refused = [m for m in replies if m["type"] == "error"]
    assert 40 <= len(pongs) < 45 and refused, replies
    assert all(m["error"]["code"] == "rate_limited" and m["error"]["message"] for m in refused), refused
    await asyncio.sleep(0.5)                         # the bucket refills at 10 a second
    await d.send({"type": "ping", "id": 99})
    assert (await d.until(lambda m: m.get("id") == 99))["result"]["pong"] is True
    await d.close()


async def test_the_size_limit_counts_bytes_not_characters(limited: ServerProcess) -> None:
    d = await Display.open(limited.ws_url)
    japanese = orjson.dumps({"type": "ping", "id": 1, "pad": "窓" * 6000}).decode()   # 6,000 chars, 18,000 bytes
    assert len(japanese) < 16_384 < len(japanese.encode())
    await d.send(japanese)
    err = await d.next()
    assert err["type"] == "error" and err["error"]["code"] == "message_too_large", err
    await d.send(japanese.encode())                   # as a binary frame too
    assert (await d.next())["error"]["code"] == "message_too_large"
    small = orjson.dumps({"type": "subscribe", "id": 2, "topics": ["queue:shomei"], "since": 0}).decode()
    await d.send(small)
    assert (await d.next())["type"] == "result"
    await d.close()


async def _timed_calls(http: httpx.AsyncClient, watcher: Display, desk: dict[str, str], kiosk: dict[str, str],
                       seconds: float) -> list[float]:
    """Issue, call and finish for ``seconds``; each call's time from sending call-next to
    the ``ticket.called`` event on ``watcher``'s socket."""
    out = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        r = await http.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
        assert r.status_code == 201, r.text
        sent = time.perf_counter()
        r = await http.post("/api/counters/1/call-next", headers=desk)
        assert r.status_code == 200, r.text
        await watcher.until(lambda m: m["type"] == "event" and m["event"]["type"] == "ticket.called", timeout=30)
        out.append(time.perf_counter() - sent)
        assert (await http.post("/api/counters/1/finish", headers=desk)).status_code == 200
        await asyncio.sleep(0.05)
    return out


async def _timed_health(http: httpx.AsyncClient, stop: asyncio.Event) -> list[float]:
    out = []
    while not stop.is_set():
        sent = time.perf_counter()
        assert (await http.get("/api/health")).status_code == 200
        out.append(time.perf_counter() - sent)
        await asyncio.sleep(0.02)
    return out


async def _measure(http: httpx.AsyncClient, watcher: Display, desk: dict[str, str], kiosk: dict[str, str],
                   seconds: float) -> tuple[list[float], list[float]]:
    stop = asyncio.Event()
    health = asyncio.create_task(_timed_health(http, stop))
    try:
        calls = await _timed_calls(http, watcher, desk, kiosk, seconds)
    finally:
        stop.set()
    return calls, await health


async def _flood(url: str) -> dict[str, Any]:
    """One anonymous client sends the probe's 1,000 messages as fast as it can while
    reading everything it is sent; what it got and how it ended."""
    flooder = await Display.open(url, max_queue=None)
    got: dict[str, Any] = {"snapshots": 0, "rate_limited": 0, "sent": 0, "close": None}

    async def read() -> None:
        try:
            async for raw in flooder.ws:
                m = orjson.loads(raw)
                if m["type"] == "snapshot":
                    got["snapshots"] += 1
                elif m["type"] == "error" and m["error"]["code"] == "rate_limited":
                    got["rate_limited"] += 1
        except ConnectionClosed:
            pass

    reader = asyncio.create_task(read())
    try:
        for _ in range(1000):
            await flooder.ws.send(FLOOD)
            got["sent"] += 1
    except ConnectionClosed:
        pass
    await asyncio.wait_for(reader, 30)
    got["close"] = flooder.ws.close_code
    return got


def _ms(values: list[float]) -> str:
    ordered = sorted(values)
    return f"n={len(ordered)} p50={ordered[len(ordered) // 2] * 1000:.1f}ms max={ordered[-1] * 1000:.1f}ms"


async def test_a_flood_from_one_anonymous_client_does_not_move_anyone_elses_latency(
        tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path, env={"MADOGUCHI_PUBLIC_RATE": "100000/minute"}).start()
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=30) as http:
            desk = await clerk(http, await admin(http), "flood-clerk", counter="1")
            kiosk = bearer(proc.kiosk)
            watcher = await Display.open(proc.ws_url)
            await watcher.send({"type": "subscribe", "id": 1, "topics": ["office"]})
            await watcher.drain(0.3)
            calm_calls, calm_health = await _measure(http, watcher, desk, kiosk, 2.0)
            flood = asyncio.create_task(_flood(proc.ws_url))
            flood_calls, flood_health = await _measure(http, watcher, desk, kiosk, 3.0)
            got = await flood
            await watcher.close()
        print(f"\nflood figures: calm push {_ms(calm_calls)}; calm health {_ms(calm_health)}; "
              f"flood push {_ms(flood_calls)}; flood health {_ms(flood_health)}; flooder {got}")
        assert got["close"] == 1008, got                      # the persistent flooder is closed
        assert got["rate_limited"] > 0 and got["snapshots"] <= 45, got    # one snapshot per accepted message
        assert got["sent"] < 1000 or got["rate_limited"] > 0
        # Before, this flood stalled /api/health for 6.5 s and pushes for 7.3 s.
        assert max(flood_health) < 0.5, (sorted(flood_health)[-5:], sorted(calm_health)[-5:])
        assert max(flood_calls) < 0.5, (sorted(flood_calls)[-5:], sorted(calm_calls)[-5:])
    finally:
        proc.stop()
