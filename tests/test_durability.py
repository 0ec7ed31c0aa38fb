"""kill -9 in the middle of a busy morning: nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx

from .serverkit import ServerProcess, admin, bearer, clerk
from .test_clock import log_rows


async def test_after_kill_9_every_acknowledged_ticket_and_state_is_back(tmp_path: Path) -> None:
    proc = ServerProcess(tmp_path).start()
    acknowledged: dict[str, dict[str, Any]] = {}
    try:
        async with httpx.AsyncClient(base_url=proc.url, timeout=10) as client:
            a = await admin(client)
            desk = await clerk(client, a, "dur-clerk", counter="4")        # shomei and koseki
            await clerk(client, a, "dur-clerk-juki", counter="10")         # idou and inkan issue too
            kiosk = bearer(proc.kiosk)
            for _ in range(30):
                r = await client.post("/api/tickets", json={"queue": "shomei"}, headers=kiosk)
                assert r.status_code == 201, r.text
                acknowledged[r.json()["ticket"]] = r.json()
            r = await client.post("/api/counters/4/call-next", headers=desk)
            serving = r.json()["ticket"]["id"]
            await client.post("/api/counters/4/start", headers=desk)

            async def issue_forever(queue: str) -> None:
                while True:
                    try:
                        r = await client.post("/api/tickets", json={"queue": queue}, headers=kiosk)
                    except httpx.HTTPError:
                        return
                    if r.status_code == 201:
                        acknowledged[r.json()["ticket"]] = r.json()

            tasks = [asyncio.create_task(issue_forever(q)) for q in ("idou", "koseki", "inkan", "shomei")]
            await asyncio.sleep(1.0)
            proc.kill9()                                  # mid-stream, requests in flight
            await asyncio.gather(*tasks)
        assert len(acknowledged) > 60
        proc = ServerProcess(tmp_path).start()
        async with httpx.AsyncClient(base_url=proc.url, timeout=10) as client:
            desk = await admin(client)
            state = (await client.get("/api/staff/state", headers=desk)).json()
            waiting = {t["id"]: t for q in state["queues"] for t in q["tickets"]}
            for tid, issued in acknowledged.items():
                if tid == serving:
                    continue
                assert tid in waiting, f"acknowledged ticket {tid} lost"
                assert waiting[tid]["display"] == issued["display"]
            counter4 = next(c for c in state["counters"] if c["id"] == "4")
            assert (
                counter4["status"] == "open"
                and counter4["ticket_id"] == serving
                and counter4["ticket_status"] == "serving"
            )
            counter10 = next(c for c in state["counters"] if c["id"] == "10")
            assert counter10["status"] == "open" and counter10["ticket_id"] is None
            # Numbering carries on: no active number is handed out twice.
            before = {(q["id"], t["display"]) for q in state["queues"] for t in q["tickets"]}
            for queue in ("idou", "koseki", "inkan", "shomei"):
                r = await client.post("/api/tickets", json={"queue": queue}, headers=bearer(proc.kiosk))
                assert r.status_code == 201
                assert (queue, r.json()["display"]) not in before
                top = max(int(d) for q, d in before if q == queue)
                assert r.json()["number"] == top + 1
    finally:
        proc.stop()
    # The log after the crash: no ticket id twice, no moment going backwards (issue 13).
    rows = log_rows(tmp_path)
    ids = [r["ticket"] for r in rows if r["type"] == "ticket.issued"]
    assert len(ids) == len(set(ids)) and set(acknowledged) <= set(ids)
    assert [r["at_us"] for r in rows] == sorted(r["at_us"] for r in rows)
