"""Twenty counters calling at once over a thousand tickets: each ticket called exactly once."""

from __future__ import annotations

import asyncio
import collections

import httpx

from .serverkit import ServerProcess, admin, bearer, clerk


async def test_twenty_counters_call_next_concurrently_and_every_ticket_is_called_once(tmp_path):
    proc = ServerProcess(tmp_path).start()
    try:
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=proc.url, timeout=30, limits=limits) as client:
            a = await admin(client)
            kiosk = bearer(proc.kiosk)
            issued = []

            async def kiosk_issue(queue: str, n: int) -> None:
                for _ in range(n):
                    r = await client.post("/api/tickets", json={"queue": queue}, headers=kiosk)
                    assert r.status_code == 201, r.text
                    issued.append(r.json()["ticket"])

            await asyncio.gather(*(kiosk_issue(q, 125) for q in ("shomei", "shomei", "idou", "idou", "inkan", "koseki", "mynumber", "idou")))
            assert len(set(issued)) == 1000
            counters = [str(n) for n in range(1, 10)] + [str(n) for n in range(10, 21)]
            desks = await asyncio.gather(*(clerk(client, a, f"conc-{c}", counter=c) for c in counters))
            calls: list[tuple[str, str]] = []

            async def work(counter: str, headers: dict[str, str]) -> None:
                while True:
                    r = await client.post(f"/api/counters/{counter}/call-next", headers=headers)
                    if r.status_code == 409 and r.json()["error"]["code"] == "no_waiting":
                        return
                    assert r.status_code == 200, r.text
                    calls.append((r.json()["ticket"]["id"], counter))
                    r = await client.post(f"/api/counters/{counter}/finish", json={"handover": False}, headers=headers)
                    assert r.status_code == 200, r.text

            await asyncio.gather(*(work(c, h) for c, h in zip(counters, desks)))
            called = collections.Counter(t for t, _ in calls)
            assert set(called) == set(issued)
            assert max(called.values()) == 1
            assert len({c for _, c in calls}) == 20           # every counter took part
            state = (await client.get("/api/staff/state", headers=a)).json()
            assert sum(q["waiting"] for q in state["queues"]) == 0
    finally:
        proc.stop()
