"""Real-time push over /ws: snapshots, numbered events, reconnects, bad messages."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from .serverkit import ServerProcess, admin, bearer, clerk
from .wskit import Display

PRIVATE = ("token", "staff", "device", "idempotency_key")


async def subscribe(url: str, topics: list[str], since: int | None = None,
                    headers: dict[str, str] | None = None) -> Display:
    d = await Display.open(url, headers)
    msg: dict[str, Any] = {"type": "subscribe", "id": 1, "topics": topics}
    if since is not None:
        msg["since"] = since
    await d.send(msg)
    result = await d.next()
    assert result["type"] == "result" and result["id"] == 1, result
    return d



async def staff(client: httpx.AsyncClient, counter: str) -> dict[str, str]:
    """Sign a clerk in at ``counter``, as a real day starts: a queue with no staffed
    counter is 準備中 and issues no ticket (``queue_not_ready``)."""
    return await clerk(client, await admin(client), f"ws-opener-{counter}", counter=counter)


def answers(msg_id: int) -> Callable[[dict[str, Any]], bool]:
    """A predicate: the reply to request ``msg_id``."""
    return lambda m: m.get("id") == msg_id

async def test_a_display_gets_a_snapshot_then_every_call_as_numbered_events(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    desk = await clerk(client, a, "ws-clerk-1", counter="10")
    d = await subscribe(server.ws_url, ["office"])
    snap = await d.next()
    assert snap["type"] == "snapshot" and snap["topic"] == "office"
    assert {q["id"] for q in snap["data"]["queues"]} >= {"shomei", "idou", "kofu"}
    issued = (await client.post("/api/tickets", json={"queue": "idou"}, headers=bearer(server.kiosk))).json()
    ev = await d.until(lambda m: m["type"] == "event" and m["event"]["type"] == "ticket.issued")
    assert ev["event"]["ticket"] == issued["ticket"] and ev["seq"] > snap["seq"]
    await client.post("/api/counters/10/call", json={"ticket": issued["ticket"]}, headers=desk)
    called = await d.until(lambda m: m["type"] == "event" and m["event"]["type"] == "ticket.called")
    assert called["event"]["counter_number"] == 10 and called["event"]["display"] == issued["display"]
    assert called["seq"] > ev["seq"]
    status = called["queues"][0]
    assert status["queue"] == "idou" and "waiting" in status and "wait_s" in status and "open_counters" in status
    for m in d.messages:
        if m["type"] == "event":
            assert not set(PRIVATE) & set(m["event"]), m
    assert issued["token"] not in str(d.messages)
    await client.post("/api/counters/10/finish", headers=desk)
    await d.close()


async def test_reconnecting_with_the_last_number_gets_exactly_what_was_missed(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    desk = await clerk(client, a, "ws-clerk-2", counter="11")
    kiosk = bearer(server.kiosk)
    watcher = await subscribe(server.ws_url, ["queue:inkan"])      # stays connected throughout
    leaver = await subscribe(server.ws_url, ["queue:inkan"])
    last = (await leaver.next())["seq"]
    await leaver.close()
    for _ in range(3):
        t = (await client.post("/api/tickets", json={"queue": "inkan"}, headers=kiosk)).json()
        await client.post("/api/counters/11/call", json={"ticket": t["ticket"]}, headers=desk)
        await client.post("/api/counters/11/finish", headers=desk)
    await client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)   # another queue: not for them
    seen = [m["seq"] for m in await watcher.drain() if m["type"] == "event"]
    assert len(seen) == 3 * 4     # issued, called, started, finished
    back = await subscribe(server.ws_url, ["queue:inkan"], since=last)
    got = [m for m in await back.drain()]
    assert [m["seq"] for m in got if m["type"] == "event"] == seen
    assert all(m["type"] in ("event", "queue_status") for m in got)
    await back.close()
    await watcher.close()


async def test_a_number_too_old_or_from_the_future_gets_a_fresh_snapshot(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path, env={"MADOGUCHI_WS_HISTORY": "100"}).start()
    try:
        async with httpx.AsyncClient(base_url=proc.url) as client:
            await staff(client, "1")
            d = await subscribe(proc.ws_url, ["office"])
            opened = (await d.next())["seq"]        # the counter's opening is numbered too
            await d.close()
            assert opened >= 1
            for _ in range(120):
                r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(proc.kiosk))
                assert r.status_code == 201, r.text
        last = opened + 120
        for since in (1, 10**9):        # 1 is older than the last 100 kept; 10**9 was never given
            d = await subscribe(proc.ws_url, ["office"], since=since)
            first = await d.next()
            assert first["type"] == "snapshot" and first["seq"] == last
            assert sum(q["waiting"] for q in first["data"]["queues"]) == 120
            await d.close()
        d = await subscribe(proc.ws_url, ["office"], since=opened + 50)      # still in the buffer
        got = [m for m in await d.drain() if m["type"] == "event"]
        assert [m["seq"] for m in got] == list(range(opened + 51, last + 1))
        await d.close()
    finally:
        proc.stop()


async def test_the_phone_page_topic_follows_one_ticket(server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    desk = await clerk(client, a, "ws-clerk-3", counter="12")
    kiosk = bearer(server.kiosk)
    mine = (await client.post("/api/tickets", json={"queue": "mynumber"}, headers=kiosk)).json()
    phone = await subscribe(server.ws_url, [f"ticket:{mine['token']}"])
    first = await phone.next()
    assert first["type"] == "ticket_status" and first["ticket"]["state"] == "waiting"
    assert first["ticket"]["display"] == mine["display"]
    await client.post("/api/counters/12/call", json={"ticket": mine["ticket"]}, headers=desk)
    called = await phone.until(lambda m: m["type"] == "ticket_status" and m["ticket"]["state"] == "called")
    assert called["ticket"]["counter_number"] == 12
    await client.post("/api/counters/12/no-show", headers=desk)
    passed = await phone.until(lambda m: m["type"] == "ticket_status" and m["ticket"]["state"] == "passed")
    assert passed["ticket"]["display"] == mine["display"]
    assert "token" not in passed["ticket"]
    await phone.close()
    bad = await Display.open(server.ws_url)
    await bad.send({"type": "subscribe", "id": 5, "topics": ["ticket:AAAAAAAAAAAAAAAAAAAAAA"]})
    err = await bad.next()
    assert err["type"] == "error" and err["id"] == 5 and err["error"]["code"] == "not_found"
    await bad.close()


async def test_bad_messages_get_the_error_envelope_and_the_connection_stays(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    d = await Display.open(server.ws_url)
    cases: list[tuple[dict[str, Any] | str, str]] = [
        ("{not json", "malformed_json"),
        ("[1,2,3]", "invalid_request"),
        ({"type": "dance", "id": 2}, "invalid_request"),
        ({"type": "subscribe", "id": 3, "topics": ["office"], "extra": 1}, "invalid_request"),
        ({"type": "subscribe", "id": 4, "topics": "office"}, "invalid_request"),
        ({"type": "subscribe", "id": 5, "topics": ["queue:nope"]}, "unknown_topic"),
        ({"type": "subscribe", "id": 6, "topics": ["staff"]}, "forbidden"),
        ({"type": "auth", "id": 7, "token": "made-up"}, "unauthenticated"),
        ("x" * 20000, "message_too_large"),
    ]
    for msg, code in cases:
        await d.send(msg)
        reply = await d.next()
        assert reply["type"] == "error" and reply["error"]["code"] == code, (msg, reply)
        assert reply["error"]["message"]
        if isinstance(msg, dict):
            assert reply["id"] == msg["id"]
    await d.send({"type": "ping", "id": 9})
    assert (await d.next())["result"]["pong"] is True
    await d.close()


async def test_the_staff_topic_is_for_staff_and_paired_displays(
        server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    await staff(client, "1")
    display = await subscribe(server.ws_url, ["staff"], headers=bearer(server.display))
    snap = await display.next()
    assert snap["type"] == "snapshot" and "tickets" in snap["data"]["queues"][0]
    r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(server.kiosk))
    assert r.status_code == 201, r.text
    ev = await display.until(lambda m: m["type"] == "event")
    assert ev["event"]["type"] == "ticket.issued" and ev["event"]["ticket"] == r.json()["ticket"]
    assert "token" in ev["event"]           # the full event, for staff only
    await display.close()
    anon = await Display.open(server.ws_url)
    await anon.send({"type": "auth", "id": 1, "token": a["Authorization"].split()[1]})
    assert (await anon.next())["result"]["kind"] == "staff"
    await anon.send({"type": "subscribe", "id": 2, "topics": ["staff"]})
    assert (await anon.next())["type"] == "result"
    await anon.close()


async def test_heartbeats_arrive_on_an_idle_connection_and_carry_the_latest_sequence_number(tmp_path: Path) -> None:
    period = 0.2
    proc = ServerProcess(tmp_path, env={"MADOGUCHI_WS_HEARTBEAT_S": str(period)}).start()
    try:
        d = await subscribe(proc.ws_url, ["counter:3"])
        snap = await d.next()
        assert snap["type"] == "snapshot"
        started = time.monotonic()
        beats = [await d.next(timeout=3) for _ in range(3)]       # nothing but heartbeats on an idle socket
        elapsed = time.monotonic() - started
        assert beats == [{"type": "heartbeat", "seq": snap["seq"]}] * 3, beats
        assert elapsed > period * 2, elapsed                         # one a period, not a flood
        # An event on a topic this client did not subscribe to: it is not sent, but the
        # next heartbeat carries its number, so the client knows how far the server is.
        # Counter 1 (not 3) opens, so that shomei issues: also an event this client is not sent.
        async with httpx.AsyncClient(base_url=proc.url) as client:
            await staff(client, "1")
        watcher = await subscribe(proc.ws_url, ["queue:shomei"])
        await watcher.next()
        async with httpx.AsyncClient(base_url=proc.url) as client:
            r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(proc.kiosk))
            assert r.status_code == 201, r.text
        issued = await watcher.until(lambda m: m["type"] == "event" and m["event"]["type"] == "ticket.issued")
        assert issued["seq"] > snap["seq"]
        # The counter's opening came first (its own number), so an earlier heartbeat may carry
        # that one; what matters is that one soon carries the and none goes backwards.
        beat = await d.until(lambda m: m["type"] != "heartbeat" or m["seq"] >= issued["seq"], timeout=3)
        assert beat == {"type": "heartbeat", "seq": issued["seq"]}, d.messages
        seqs = [m["seq"] for m in d.messages if m["type"] == "heartbeat"]
        assert seqs == sorted(seqs), seqs
        await watcher.close()
        await d.close()
    finally:
        proc.stop()


async def test_a_client_never_waits_longer_than_the_heartbeat_period_for_a_message(tmp_path: Path) -> None:
    """A reply just after a heartbeat must not stretch the next silence: screens call 5 s of
    silence a lost connection, with heartbeats every 2 s."""
    period = 1.0
    proc = ServerProcess(tmp_path, env={"MADOGUCHI_WS_HEARTBEAT_S": str(period)}).start()
    try:
        d = await subscribe(proc.ws_url, ["counter:3"])
        await d.next()
        gaps = []
        for i in range(4):
            await d.until(lambda m: m["type"] == "heartbeat", timeout=3)
            await asyncio.sleep(0.2)
            await d.send({"type": "ping", "id": 10 + i})
            await d.until(answers(10 + i), timeout=3)
            replied = time.monotonic()
            await d.until(lambda m: m["type"] == "heartbeat", timeout=3)
            gaps.append(time.monotonic() - replied)
        assert max(gaps) < period * 1.3, gaps  # a fixed wake-up cycle gave 1.8 s here
        assert min(gaps) > period * 0.8, gaps  # and no heartbeat right after a message
        await d.close()
    finally:
        proc.stop()


async def test_unsubscribing_stops_the_messages(server: ServerProcess, client: httpx.AsyncClient) -> None:
    await staff(client, "1")
    kiosk = bearer(server.kiosk)
    r = await client.post("/api/tickets", json={"queue": "koseki"}, headers=kiosk)
    assert r.status_code == 201, r.text
    mine = r.json()
    d = await subscribe(server.ws_url, ["queue:koseki", f"ticket:{mine['token']}"])
    still = await subscribe(server.ws_url, ["queue:koseki", f"ticket:{mine['token']}"])   # stays subscribed
    await d.drain(0.2)
    await still.drain(0.2)
    await d.send({"type": "unsubscribe", "id": 2, "topics": ["queue:koseki", f"ticket:{mine['token']}"]})
    assert (await d.next())["result"]["topics"] == []
    r = await client.post("/api/tickets", json={"queue": "koseki"}, headers=kiosk)
    assert r.status_code == 201, r.text
    r = await client.post(f"/api/tickets/{mine['ticket']}/cancel", json={"reason": "visitor left"},
                          headers=await admin(client))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled"
    # The events happened (the client still subscribed has them) and the one that left got none.
    cancelled = await still.until(lambda m: m["type"] == "event" and m["event"]["type"] == "ticket.cancelled")
    assert cancelled["event"]["ticket"] == mine["ticket"]
    assert any(m["type"] == "event" and m["event"]["type"] == "ticket.issued" for m in still.messages)
    assert [m for m in await d.drain(0.3) if m["type"] != "heartbeat"] == []
    await still.close()
    await d.close()


async def test_public_events_leave_out_staff_written_reasons(server: ServerProcess, client: httpx.AsyncClient) -> None:
    a = await admin(client)
    await staff(client, "1")
    d = await subscribe(server.ws_url, ["office"])
    r = await client.post("/api/tickets", json={"queue": "koseki"}, headers=bearer(server.kiosk))
    assert r.status_code == 201, r.text
    t = r.json()
    r = await client.post(f"/api/tickets/{t['ticket']}/cancel", json={"reason": "田中様 お帰り"}, headers=a)
    assert r.status_code == 200 and r.json()["status"] == "cancelled", r.text
    ev = await d.until(lambda m: m["type"] == "event" and m["event"]["type"] == "ticket.cancelled")
    assert "reason" not in ev["event"] and "田中" not in str(d.messages)
    await d.close()
