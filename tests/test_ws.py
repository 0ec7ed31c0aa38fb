"""Real-time push over /ws: snapshots, numbered events, reconnects, bad messages."""

from __future__ import annotations

import asyncio

from .serverkit import admin, bearer, clerk
from .wskit import Display

PRIVATE = ("token", "staff", "device", "idempotency_key")


async def subscribe(url: str, topics, since=None, headers=None) -> Display:
    d = await Display.open(url, headers)
    msg = {"type": "subscribe", "id": 1, "topics": topics}
    if since is not None:
        msg["since"] = since
    await d.send(msg)
    result = await d.next()
    assert result["type"] == "result" and result["id"] == 1, result
    return d


async def test_a_display_gets_a_snapshot_then_every_call_as_numbered_events(server, client):
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


async def test_reconnecting_with_the_last_number_gets_exactly_what_was_missed(server, client):
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


async def test_a_number_too_old_or_from_the_future_gets_a_fresh_snapshot(tmp_path):
    import httpx

    from .serverkit import ServerProcess
    proc = ServerProcess(tmp_path, env={"MADOGUCHI_WS_HISTORY": "100"}).start()
    try:
        async with httpx.AsyncClient(base_url=proc.url) as client:
            for _ in range(120):
                await client.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(proc.kiosk))
        for since in (1, 10**9):
            d = await subscribe(proc.ws_url, ["office"], since=since)
            first = await d.next()
            assert first["type"] == "snapshot" and first["seq"] == 120
            assert sum(q["waiting"] for q in first["data"]["queues"]) == 120
            await d.close()
        d = await subscribe(proc.ws_url, ["office"], since=50)      # still in the buffer
        got = [m for m in await d.drain() if m["type"] == "event"]
        assert [m["seq"] for m in got] == list(range(51, 121))
        await d.close()
    finally:
        proc.stop()


async def test_the_phone_page_topic_follows_one_ticket(server, client):
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


async def test_bad_messages_get_the_error_envelope_and_the_connection_stays(server, client):
    d = await Display.open(server.ws_url)
    cases = [
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


async def test_the_staff_topic_is_for_staff_and_paired_displays(server, client):
    a = await admin(client)
    display = await subscribe(server.ws_url, ["staff"], headers=bearer(server.display))
    snap = await display.next()
    assert snap["type"] == "snapshot" and "tickets" in snap["data"]["queues"][0]
    await client.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(server.kiosk))
    ev = await display.until(lambda m: m["type"] == "event")
    assert "token" in ev["event"]           # the full event, for staff only
    await display.close()
    anon = await Display.open(server.ws_url)
    await anon.send({"type": "auth", "id": 1, "token": a["Authorization"].split()[1]})
    assert (await anon.next())["result"]["kind"] == "staff"
    await anon.send({"type": "subscribe", "id": 2, "topics": ["staff"]})
    assert (await anon.next())["type"] == "result"
    await anon.close()


async def test_heartbeats_arrive_on_an_idle_connection(tmp_path):
    from .serverkit import ServerProcess
    proc = ServerProcess(tmp_path, env={"MADOGUCHI_WS_HEARTBEAT_S": "0.2"}).start()
    try:
        d = await subscribe(proc.ws_url, ["counter:3"])
        await d.next()
        beat = await d.until(lambda m: m["type"] == "heartbeat", timeout=3)
        assert "seq" in beat
        await d.close()
    finally:
        proc.stop()


async def test_a_client_never_waits_longer_than_the_heartbeat_period_for_a_message(tmp_path):
    """A reply just after a heartbeat must not stretch the next silence: screens call 5 s of
    silence a lost connection, with heartbeats every 2 s."""
    import time

    from .serverkit import ServerProcess
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
            await d.until(lambda m: m.get("id") == 10 + i, timeout=3)
            replied = time.monotonic()
            await d.until(lambda m: m["type"] == "heartbeat", timeout=3)
            gaps.append(time.monotonic() - replied)
        assert max(gaps) < period * 1.3, gaps  # a fixed wake-up cycle gave 1.8 s here
        assert min(gaps) > period * 0.8, gaps  # and no heartbeat right after a message
        await d.close()
    finally:
        proc.stop()


async def test_unsubscribing_stops_the_messages(server, client):
    kiosk = bearer(server.kiosk)
    mine = (await client.post("/api/tickets", json={"queue": "koseki"}, headers=kiosk)).json()
    d = await subscribe(server.ws_url, ["queue:koseki", f"ticket:{mine['token']}"])
    await d.drain(0.2)
    await d.send({"type": "unsubscribe", "id": 2, "topics": ["queue:koseki", f"ticket:{mine['token']}"]})
    assert (await d.next())["result"]["topics"] == []
    await client.post("/api/tickets", json={"queue": "koseki"}, headers=kiosk)
    await client.post(f"/api/tickets/{mine['ticket']}/cancel", json={"reason": "visitor left"}, headers=await admin(client))
    assert await d.drain(0.3) == []
    await d.close()


async def test_public_events_leave_out_staff_written_reasons(server, client):
    a = await admin(client)
    d = await subscribe(server.ws_url, ["office"])
    t = (await client.post("/api/tickets", json={"queue": "koseki"}, headers=bearer(server.kiosk))).json()
    await client.post(f"/api/tickets/{t['ticket']}/cancel", json={"reason": "田中様 お帰り"}, headers=a)
    ev = await d.until(lambda m: m["type"] == "event" and m["event"]["type"] == "ticket.cancelled")
    assert "reason" not in ev["event"] and "田中" not in str(d.messages)
    await d.close()
