"""Clock steps and midnight through a real server on loopback (issue 13, points 2-4).

The server's wall clock is the system clock plus the seconds in the file named
by ``MADOGUCHI_CLOCK_OFFSET_FILE`` (a rehearsal/test setting); its monotonic
clock is left alone, so rewriting the file is a clock step as the host would
make one. Every test reads the event log (the real SQLite file) at the end.
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson

from server.core.calendar import TOKYO

from .serverkit import ServerProcess, admin, bearer, clerk
from .wskit import Display


def set_clock(path: Path, local: datetime) -> None:
    """Make the server's clock read ``local`` (aware) from now on."""
    path.write_text(f"{(local - datetime.now(UTC)).total_seconds():.3f}")


def shift_clock(path: Path, seconds: float) -> None:
    """Step the server's clock by ``seconds``."""
    path.write_text(f"{float(path.read_text()) + seconds:.3f}")


def log_rows(data_dir: Path) -> list[dict[str, Any]]:
    """Every event of the log in sequence order."""
    db = sqlite3.connect(data_dir / "madoguchi.sqlite3")
    try:
        rows = db.execute("SELECT seq, business_day, at_us, type, data FROM events ORDER BY seq").fetchall()
    finally:
        db.close()
    return [{"seq": s, "day": d, "at_us": a, "type": t, **orjson.loads(x)} for s, d, a, t, x in rows]


def assert_log_sound(rows: list[dict[str, Any]]) -> None:
    """Ticket ids unique across the log, ``at_us`` never going backwards."""
    ids = [r["ticket"] for r in rows if r["type"] == "ticket.issued"]
    assert len(ids) == len(set(ids)), f"a ticket id issued twice: {ids}"
    moments = [r["at_us"] for r in rows]
    assert moments == sorted(moments), "at_us went backwards in the log"


async def wait_for(check: Any, timeout: float = 10.0) -> Any:
    """Poll the coroutine function ``check`` until it returns something true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result or asyncio.get_running_loop().time() > deadline:
            return result
        await asyncio.sleep(0.2)


async def test_a_restart_on_the_wrong_day_keeps_the_queue_and_never_reuses_a_number(tmp_path: Path) -> None:
    """5 tickets at 10:00; a restart while the clock reads the day before; the clock put right."""
    offset = tmp_path / "clock-offset"
    env = {"MADOGUCHI_CLOCK_OFFSET_FILE": str(offset)}
    today = datetime.now(TOKYO).date()
    set_clock(offset, datetime.combine(today, time(10, 0), TOKYO))
    proc = ServerProcess(tmp_path / "data", env=env).start()
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=10) as client:
            a = await admin(client)
            await clerk(client, a, "clock-clerk", counter="4")
            first = []
            for _ in range(5):
                r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=bearer(proc.kiosk))
                assert r.status_code == 201, r.text
                first.append(r.json())
        proc.stop()
        set_clock(offset, datetime.combine(today - timedelta(days=1), time(10, 1), TOKYO))  # reads yesterday
        proc = ServerProcess(tmp_path / "data", env=env).start()
        async with httpx.AsyncClient(base_url=proc.url, timeout=10) as client:
            state = (await client.get("/api/state")).json()
            assert state["day"] == today.isoformat()
            assert next(q for q in state["queues"] if q["id"] == "shomei")["waiting"] == 5
            for t in first:
                r = await client.get(f"/api/public/tickets/{t['token']}")
                assert r.status_code == 200 and r.json()["state"] == "waiting", r.text
            kiosk = bearer(proc.kiosk)
            numbers = []
            for _ in range(2):
                r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
                assert r.status_code == 201, r.text
                numbers.append(r.json()["number"])
            assert numbers == [first[-1]["number"] + 1, first[-1]["number"] + 2]
            set_clock(offset, datetime.combine(today, time(10, 2), TOKYO))  # the clock is put right
            a = await admin(client)

            async def jumps() -> list[dict[str, Any]]:
                state = (await client.get("/api/staff/state", headers=a)).json()
                return list(state["clock_jumps"])

            seen = await wait_for(jumps)
            assert seen and 86_000 < seen[-1]["step_s"] < 86_500, seen
            public = (await client.get("/api/state")).json()
            assert "clock_jumps" not in public
            r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
            assert r.status_code == 201 and r.json()["number"] == numbers[-1] + 1
            state = (await client.get("/api/staff/state", headers=a)).json()
            assert state["day"] == today.isoformat()
            assert next(q for q in state["queues"] if q["id"] == "shomei")["waiting"] == 8
    finally:
        proc.stop()
    rows = log_rows(tmp_path / "data")
    assert_log_sound(rows)
    jumped = [r for r in rows if r["type"] == "clock.jumped"]
    assert len(jumped) == 1 and jumped[0]["wall_from"] < jumped[0]["wall_to"]


async def test_a_backward_step_within_the_day_keeps_first_come_first_called(tmp_path: Path) -> None:
    offset = tmp_path / "clock-offset"
    today = datetime.now(TOKYO).date()
    set_clock(offset, datetime.combine(today, time(10, 0), TOKYO))
    proc = ServerProcess(tmp_path / "data", env={"MADOGUCHI_CLOCK_OFFSET_FILE": str(offset)}).start()
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=10) as client:
            a = await admin(client)
            desk = await clerk(client, a, "fifo-clerk", counter="4")
            kiosk = bearer(proc.kiosk)
            issued = []
            for _ in range(4):
                r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
                issued.append(r.json()["ticket"])
            shift_clock(offset, -600)  # ten minutes back
            r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
            issued.append(r.json()["ticket"])
            state = (await client.get("/api/staff/state", headers=a)).json()
            line = next(q for q in state["queues"] if q["id"] == "shomei")["tickets"]
            assert [t["id"] for t in line] == issued
            assert all(t["waited_s"] >= 0 for t in line), line
            called = []
            for _ in range(5):
                r = await client.post("/api/counters/4/call-next", headers=desk)
                assert r.status_code == 200, r.text
                called.append(r.json()["ticket"]["id"])
                r = await client.post("/api/counters/4/finish", headers=desk)
                assert r.status_code == 200, r.text
            assert called == issued
    finally:
        proc.stop()
    rows = log_rows(tmp_path / "data")
    assert_log_sound(rows)
    assert all(r["waited_s"] >= 0 for r in rows if r["type"] == "ticket.called")
    assert any(r["type"] == "clock.jumped" and r["step_s"] < -590 for r in rows)


async def test_midnight_closes_the_day_in_the_log_and_tells_each_phone(tmp_path: Path) -> None:
    """Tickets left at 23:59 become unserved (logged, pushed to their phone pages), counters
    close with a reason; then a one-minute step back across midnight and forward again
    keeps the new day and its numbering."""
    offset = tmp_path / "clock-offset"
    day = datetime.now(TOKYO).date()
    set_clock(offset, datetime.combine(day, time(23, 0), TOKYO))
    proc = ServerProcess(tmp_path / "data", env={"MADOGUCHI_CLOCK_OFFSET_FILE": str(offset)}).start()
    phone: Display | None = None
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=10) as client:
            a = await admin(client)
            desk = await clerk(client, a, "night-clerk", counter="4")
            kiosk = bearer(proc.kiosk)
            tickets = []
            for _ in range(3):
                r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
                assert r.status_code == 201, r.text
                tickets.append(r.json())
            r = await client.post("/api/counters/4/call-next", headers=desk)
            assert r.status_code == 200 and r.json()["ticket"]["id"] == tickets[0]["ticket"]
            phone = await Display.open(proc.ws_url)
            await phone.send({"type": "subscribe", "id": 1, "topics": [f"ticket:{tickets[2]['token']}"]})
            await phone.until(lambda m: m.get("type") == "ticket_status")
            set_clock(offset, datetime.combine(day, time(23, 59, 59), TOKYO))
            closed = await phone.until(
                lambda m: m.get("type") == "ticket_status" and m["ticket"]["state"] == "unserved", timeout=15
            )
            assert closed["ticket"]["display"] == tickets[2]["display"]
            for t in tickets:
                r = await client.get(f"/api/public/tickets/{t['token']}")
                assert r.status_code == 200 and r.json()["state"] == "unserved", r.text
            nxt = day + timedelta(days=1)
            state = (await client.get("/api/staff/state", headers=a)).json()
            assert state["day"] == nxt.isoformat()
            assert all(c["status"] == "closed" for c in state["counters"])
            # The clerk is signed out of the closed counter at once, not at their next command.
            for _ in range(50):
                if (await client.get("/api/auth/me", headers=desk)).json()["counter"] is None:
                    break
                await asyncio.sleep(0.1)
            assert (await client.get("/api/auth/me", headers=desk)).json()["counter"] is None
            # A minute back across midnight: the new day stays.
            shift_clock(offset, -60)
            await asyncio.sleep(1.5)
            r = await client.post("/api/counters/4/sign-in", headers=desk)
            assert r.status_code == 200, r.text
            r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
            assert r.status_code == 201, r.text
            after = [r.json()]
            assert after[0]["ticket"].startswith(f"{nxt:%Y%m%d}-")
            shift_clock(offset, 60)
            await asyncio.sleep(1.5)
            r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
            after.append(r.json())
            assert [t["number"] for t in after] == [1, 2]
            state = (await client.get("/api/staff/state", headers=a)).json()
            assert state["day"] == nxt.isoformat()
    finally:
        if phone is not None:
            await phone.close()
        proc.stop()
    rows = log_rows(tmp_path / "data")
    assert_log_sound(rows)
    db = sqlite3.connect(tmp_path / "data" / "madoguchi.sqlite3")
    try:
        released = db.execute("SELECT actor, detail FROM audit WHERE action = 'staff.counter_released'").fetchall()
    finally:
        db.close()
    assert released == [("night-clerk", f"counter 4: business day {day.isoformat()} closed")], released
    ends = {r["ticket"]: r for r in rows if r["type"] == "ticket.closed_at_day_end"}
    assert set(ends) == {t["ticket"] for t in tickets}
    assert ends[tickets[0]["ticket"]]["was"] == "called"
    assert all(r["day"] == day.isoformat() for r in ends.values())
    closes = [r for r in rows if r["type"] == "counter.closed" and r.get("reason") == "day_end"]
    assert [(r["counter"], r["day"]) for r in closes] == [("4", day.isoformat())]
    assert [r["unserved"] for r in rows if r["type"] == "day.closed"] == [3]
    steps = [round(r["step_s"]) for r in rows if r["type"] == "clock.jumped"]
    assert len(steps) == 3 and steps[0] > 3000 and -62 <= steps[1] <= -58 and 58 <= steps[2] <= 62, steps
