"""The single write path: commands in, committed events out (STYLE.md 9).

Commands are queued and handled by one task in arrival order. Each batch of
queued commands is decided against the floor, its events are written in one
transaction (group commit), and only after the commit are the commands
acknowledged and the events published to screens. If the write fails the floor
is rebuilt from the log, so nothing unacknowledged survives in memory.

Time comes from :class:`~server.core.clock.BusinessClock` (issue 13): the moment
a batch is decided at never goes backwards, and neither does the business
day. A wall-clock step is logged (``clock.jumped``). When the day changes the
old day is closed explicitly (:class:`~server.core.commands.CloseDay`: its
tickets left unserved, its counters closed, in the log and published) before
the new day's floor takes over. A ticker submits an empty note every
:data:`TICK_S` seconds, so a day closes at midnight even on a quiet floor.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, overload

from .core import commands as c
from .core.calendar import OfficeCalendar, business_day
from .core.clock import BusinessClock
from .core.errors import DomainError
from .core.events import CLOCK_JUMPED, Event
from .core.floor import Floor, Outcome
from .core.layout import Layout
from .hub import Hub
from .storage.database import EventLog, StoredEvent

log = logging.getLogger(__name__)

#: Most commands committed in one transaction.
MAX_BATCH = 256

#: Seconds between the ticker's readings of the clock (day change, clock jumps).
TICK_S = 1.0


#: A function of (floor, outcome, now) run right after a command is applied, so a
#: response shows the floor as that command left it (e.g. people ahead at issue).
View = Callable[[Floor, Outcome, datetime], Any]
Receipt = tuple[Outcome, Any]
T = TypeVar("T")


class Note:
    """Events that are facts but not floor commands (printer health, print
    failures): stored and published in order with the floor's events."""

    __slots__ = ("events",)

    def __init__(self, events: list[Event]) -> None:
        self.events = events


class StorageUnavailable(Exception):
    """The event log could not be written; the command was not carried out."""


def utcnow() -> datetime:
    """The current moment, aware (UTC)."""
    return datetime.now(UTC)


def offset_clock(path: Path) -> Callable[[], datetime]:
    """A wall clock reading the system clock plus the seconds in the file at
    ``path`` (re-read when it changes; missing, empty or not a number: 0). For
    rehearsing clock steps (``MADOGUCHI_CLOCK_OFFSET_FILE``, tests); the
    monotonic clock is left alone, so a change is seen as a jump."""
    cache: dict[str, float] = {}

    def read() -> datetime:
        try:
            stamp = path.stat().st_mtime_ns
        except OSError:
            return utcnow()
        key = f"{stamp}:{path.stat().st_size}" if path.exists() else str(stamp)
        if key not in cache:
            try:
                cache.clear()
                cache[key] = float(path.read_text().strip() or 0)
            except (OSError, ValueError):
                cache[key] = 0.0
        return utcnow() + timedelta(seconds=cache[key])

    return read


class Processor:
    """Owns the :class:`Floor` of the current business day.

    ``submit(command)`` returns the :class:`Outcome` once its events are
    committed and published; raises :class:`DomainError` for an illegal command
    and :class:`StorageUnavailable` when the log cannot be written. ``clock``
    is the wall clock (aware), ``monotonic`` a monotonic clock in seconds.
    """

    def __init__(self, layout: Layout, calendar: OfficeCalendar, log_: EventLog, hub: Hub,
                 clock: Callable[[], datetime] = utcnow, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.layout = layout
        self.calendar = calendar
        self.log = log_
        self.hub = hub
        self.clock = clock
        self.monotonic = monotonic
        self.business = BusinessClock()
        self.floor = Floor(layout, calendar, business_day(clock()))
        self.seq = 0
        self._queue: asyncio.Queue[tuple[c.Command | Note, View | None, asyncio.Future[Receipt]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._ticker: asyncio.Task[None] | None = None
        #: Run (as tasks, never holding up the writer) once a business day's close is
        #: committed, with the closed day: e.g. releasing the clerks' counter bindings.
        self.on_day_closed: list[Callable[[date], Awaitable[object]]] = []
        self._after: set[asyncio.Task[object]] = set()

    async def start(self) -> None:
        """Rebuild the current business day's floor from the log, close it if the
        day has changed since, and start the writer and the ticker.

        The current business day is never earlier than the newest one in the log,
        whatever the wall clock reads (issue 13). Raises what the log raises.
        """
        self.seq = await self.log.last_seq()
        newest = await self.log.newest()
        # The newest day in the log first: if the clock has since moved to a later
        # day, that day is closed explicitly below, never dropped.
        self.business = BusinessClock(newest[1] if newest else None)
        self.floor = await self._rebuild(newest[0] if newest else business_day(self.clock()))
        await self._roll(self.business.tick(self.clock(), self.monotonic()).now)
        self._task = asyncio.create_task(self._run(), name="madoguchi-writer")
        self._ticker = asyncio.create_task(self._tick(), name="madoguchi-clock")

    def now(self) -> datetime:
        """The floor's moment now: the wall clock, but never earlier than the
        newest event decided (for views: waits are never negative)."""
        return self.business.peek(self.clock())

    async def stop(self) -> None:
        """Stop the writer task (pending commands fail with StorageUnavailable)."""
        for task in (self._ticker, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        while not self._queue.empty():
            _, _, fut = self._queue.get_nowait()
            if not fut.done():
                fut.set_exception(StorageUnavailable("server stopping"))

    async def _rebuild(self, day: date) -> Floor:
        floor = Floor(self.layout, self.calendar, day)
        stored = await self.log.day(day)
        for record in stored:
            floor.apply(record.event)
        self.hub.ring.clear()
        for record in stored[-self.hub.ring.maxlen:] if self.hub.ring.maxlen else []:
            self.hub.ring.append(self.hub.published(record))
        self.hub.seq = self.seq
        return floor

    def current_floor(self) -> Floor:
        """The current business day's floor. The day changes only in the writer
        (:meth:`_roll`), after the old day's close is in the log."""
        return self.floor

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            try:
                await self.record([])
            except StorageUnavailable:
                pass  # logged by the writer; the next tick tries again

    async def _commit(self, floor: Floor, events: list[Event], now: datetime) -> bool:
        """Store ``events`` of ``floor`` and publish them; on a failed write rebuild
        the floor from the log and return False."""
        if not events:
            return True
        records = []
        for event in events:
            self.seq += 1
            records.append(StoredEvent(self.seq, floor.day, event))
        try:
            await self.log.append(records)
        except Exception:
            log.exception("event log write failed; rebuilding the floor from the log")
            self.seq = records[0].seq - 1
            self.floor = await self._rebuild(floor.day)
            return False
        self.hub.publish(records, floor, now)
        return True

    async def _roll(self, now: datetime) -> bool:
        """Close the floor's day and move to the day of ``now`` when that is later.
        Returns False when the close could not be stored (the old day stays)."""
        day = business_day(now)
        if day <= self.floor.day:
            return True
        old = self.floor
        if not await self._commit(old, old.execute(c.CloseDay(), now).events, now):
            return False
        log.info("business day %s closed; now serving %s", old.day, day)
        self.floor = old.next_day(day)
        for hook in self.on_day_closed:
            task: asyncio.Task[object] = asyncio.ensure_future(self._quietly(hook, old.day))
            self._after.add(task)
            task.add_done_callback(self._after.discard)
        return True

    @staticmethod
    async def _quietly(hook: Callable[[date], Awaitable[object]], day: date) -> object:
        try:
            return await hook(day)
        except Exception:
            log.exception("after closing business day %s", day)
            return None

    @overload
    async def submit(self, command: c.Command | Note, view: None = None) -> tuple[Outcome, None]: ...

    @overload
    async def submit(
        self, command: c.Command | Note, view: Callable[[Floor, Outcome, datetime], T]
    ) -> tuple[Outcome, T]: ...

    async def submit(self, command: c.Command | Note, view: View | None = None) -> Receipt:
        """Queue ``command`` and wait until it is committed (see class doc).

        Returns ``(outcome, view(floor, outcome, now))`` with ``view`` run
        right after the command was applied (``None`` without a view).
        """
        fut: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        await self._queue.put((command, view, fut))
        return await fut

    async def record(self, events: list[Event]) -> None:
        """Store and publish ``events`` that do not touch the floor (see
        :class:`Note`). Raises :class:`StorageUnavailable`."""
        await self.submit(Note(events))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._handle(batch)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("writer failed on a batch of %d commands", len(batch))
                for _, _, fut in batch:
                    if not fut.done():
                        fut.set_exception(StorageUnavailable("the command could not be stored"))

    async def _handle(self, batch: list[tuple[c.Command | Note, View | None, asyncio.Future[Receipt]]]) -> None:
        tick = self.business.tick(self.clock(), self.monotonic())
        now = tick.now
        ok = True
        if tick.jump is not None:
            jump = tick.jump
            log.warning("the wall clock stepped %+.1f s (%s -> %s)", jump.step_s, jump.wall_from, jump.wall_to)
            event = Event(CLOCK_JUMPED, now, {"wall_from": jump.wall_from.isoformat(),
                                              "wall_to": jump.wall_to.isoformat(), "step_s": round(jump.step_s, 3)})
            floor = self.floor
            floor.apply(event)
            ok = await self._commit(floor, [event], now)
        ok = ok and await self._roll(now)
        if not ok:
            for _, _, fut in batch:
                if not fut.done():
                    fut.set_exception(StorageUnavailable("the command could not be stored"))
            return
        floor = self.current_floor()
        done: list[tuple[asyncio.Future[Receipt], Receipt]] = []
        records: list[StoredEvent] = []
        for command, view, fut in batch:
            try:
                if isinstance(command, Note):  # stamped now, so at_us never goes backwards in the log
                    outcome = Outcome([replace(e, at=now) for e in command.events])
                else:
                    outcome = floor.execute(command, now)
            except DomainError as err:
                if not fut.done():
                    fut.set_exception(err)
                continue
            for event in outcome.events:
                self.seq += 1
                records.append(StoredEvent(self.seq, floor.day, event))
            done.append((fut, (outcome, view(floor, outcome, now) if view else None)))
        if records:
            try:
                await self.log.append(records)
            except Exception:
                log.exception("event log write failed; rebuilding the floor from the log")
                self.seq = records[0].seq - 1
                self.floor = await self._rebuild(floor.day)
                for fut, _ in done:
                    if not fut.done():
                        fut.set_exception(StorageUnavailable("the command could not be stored"))
                return
            self.hub.publish(records, floor, now)
        for fut, receipt in done:
            if not fut.done():
                fut.set_result(receipt)
