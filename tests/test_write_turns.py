"""Write turns (server/storage/turns.py): one write transaction at a time, the floor's event log
first, each line in order; a waiter cancelled leaves the line, or passes on a turn it was handed.
With a real SQLite file, the floor's append waits only for the online applications' transaction in
progress, never behind those queued after it (issue 14, point 6)."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from pathlib import Path

from online_forms.store import FormStore
from server.core.events import Event
from server.storage.database import EventLog, StoredEvent, make_engine, open_database
from server.storage.turns import WriteTurns


async def test_urgent_first_then_in_order() -> None:
    turns = WriteTurns()
    order: list[str] = []
    first_in = asyncio.Event()
    let_go = asyncio.Event()

    async def writer(name: str, urgent: bool = False) -> None:
        async with turns.turn(urgent=urgent):
            order.append(name)
            if name == "a":
                first_in.set()
                await let_go.wait()
            await asyncio.sleep(0)

    tasks = [asyncio.create_task(writer("a"))]
    await first_in.wait()
    for name in ("b", "c"):
        tasks.append(asyncio.create_task(writer(name)))
        await asyncio.sleep(0)
    tasks.append(asyncio.create_task(writer("floor-1", urgent=True)))
    await asyncio.sleep(0)
    tasks.append(asyncio.create_task(writer("floor-2", urgent=True)))
    await asyncio.sleep(0)
    assert turns.waiting == 4 and order == ["a"]
    let_go.set()
    await asyncio.gather(*tasks)
    assert order == ["a", "floor-1", "floor-2", "b", "c"]
    assert turns.waiting == 0
    async with turns.turn():      # free again: taken at once
        pass


async def test_a_cancelled_waiter_leaves_or_passes_the_turn_on() -> None:
    turns = WriteTurns()
    order: list[str] = []
    hold = asyncio.Event()

    async def writer(name: str) -> None:
        async with turns.turn():
            order.append(name)
            if name == "a":
                await hold.wait()

    a = asyncio.create_task(writer("a"))
    await asyncio.sleep(0)
    b = asyncio.create_task(writer("b"))
    c = asyncio.create_task(writer("c"))
    await asyncio.sleep(0)
    b.cancel()                         # still waiting: it leaves the line
    await asyncio.sleep(0)
    hold.set()
    await asyncio.gather(a, c, b, return_exceptions=True)
    assert order == ["a", "c"] and b.cancelled()
    # Handed the turn in the same step as it is cancelled: the turn goes on to the next.
    async with turns.turn():
        d = asyncio.create_task(writer("d"))
        e = asyncio.create_task(writer("e"))
        await asyncio.sleep(0)
        assert turns.waiting == 2
    # The block's end handed the turn to d, which has not run yet.
    d.cancel()
    await asyncio.gather(d, e, return_exceptions=True)
    assert d.cancelled() and order[-1] == "e" and "d" not in order
    async with turns.turn():
        pass


async def test_the_floor_append_waits_only_for_the_transaction_in_progress(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'madoguchi.sqlite3'}"
    floor_engine = await open_database(url)
    forms_engine = make_engine(url)
    turns = WriteTurns()
    log = EventLog(floor_engine, turns)
    forms = FormStore(forms_engine, tmp_path, lambda: datetime.now(UTC), turns=turns)
    await forms.seed_demo()
    version = await forms.published((await forms.procedure("inu-toroku")).id)
    assert version is not None
    done: list[str] = []
    inside = asyncio.Event()
    release = asyncio.Event()

    async def long_forms_write() -> None:
        async with forms.write() as conn:   # a citizen's transaction in progress, holding SQLite's write lock
            from sqlalchemy import text

            await conn.execute(text("UPDATE procedures SET next_seq = next_seq WHERE slug = 'inu-toroku'"))
            inside.set()
            await release.wait()
        done.append("forms-in-progress")

    async def queued_forms_write(i: int) -> None:
        await forms.start_draft(version.id)
        done.append(f"forms-queued-{i}")

    async def append() -> None:
        at = datetime.now(UTC)
        await log.append([StoredEvent(await log.last_seq() + 1, date.today(),
                                      Event("office.opened", at, {"by": "test"}))])
        done.append("floor")

    first = asyncio.create_task(long_forms_write())
    await inside.wait()
    queued = [asyncio.create_task(queued_forms_write(i)) for i in range(3)]
    await asyncio.sleep(0.05)
    floor = asyncio.create_task(append())
    await asyncio.sleep(0.05)
    assert done == [] and turns.waiting == 4
    release.set()
    await asyncio.gather(first, floor, *queued)
    assert done == ["forms-in-progress", "floor", "forms-queued-0", "forms-queued-1", "forms-queued-2"]
    forms.close()
    await forms_engine.dispose()
    await floor_engine.dispose()
