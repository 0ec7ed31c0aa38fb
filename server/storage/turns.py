"""Write turns: one write transaction at a time in this process, the floor's first.

SQLite takes one writer at a time. When two connections want to write, the second gets
``SQLITE_BUSY`` and SQLite's busy handler sleeps and tries again, its sleeps growing from 1 ms to
100 ms, in no order. Under a burst of citizens' applications (each a write transaction of several
statements, each statement a round trip through the event loop) the floor's event log append
waited so, up to a second (bench/forms_load.py: the append's INSERT alone took 30-1,240 ms while
200 citizens sent). Waiting here instead, in order, costs nothing SQLite would not have cost, and
an urgent turn (the floor's events) goes before every other waiting one, so a clerk's call waits
for at most the one transaction in progress (issue 14, point 6).

Only writers given the same :class:`WriteTurns` take turns (the event log and the online
applications' store); with PostgreSQL, which writes in parallel, turns cost a little parallelism.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import AsyncIterator


class WriteTurns:
    """A lock with two lines: ``urgent`` waiters are let in before any other, each line
    first come first served. Made on the event loop that uses it."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        """How many wait for a turn now."""
        return len(self._urgent) + len(self._normal)

    @contextlib.asynccontextmanager
    async def turn(self, *, urgent: bool = False) -> AsyncIterator[None]:
        """Hold the turn for the block (a write transaction)."""
        await self._acquire(urgent)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, urgent: bool) -> None:
        if not self._held and not self._urgent and (urgent or not self._normal):
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line = self._urgent if urgent else self._normal
        line.append(waiter)
        try:
            await waiter          # handed over by _release: the turn is ours
        except asyncio.CancelledError:
            if waiter in line:
                line.remove(waiter)
            elif waiter.done() and not waiter.cancelled():
                self._release()   # handed over as we were cancelled: pass it on
            raise

    def _release(self) -> None:
        for line in (self._urgent, self._normal):
            while line:
                waiter = line.popleft()
                if not waiter.done():
                    waiter.set_result(None)   # still held: handed straight over
                    return
        self._held = False
