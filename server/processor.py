"""The single write path: commands in, committed events out (STYLE.md 9).

Commands are queued and handled by one task in arrival order. Each batch of
queued commands is decided against the floor, its events are written in one
transaction (group commit), and only after the commit are the commands
acknowledged and the events published to screens. If the write fails the floor
is rebuilt from the log, so nothing unacknowledged survives in memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any, TypeVar, overload

from .core import commands as c
from .core.calendar import OfficeCalendar, business_day
from .core.errors import DomainError
from .core.events import Event
from .core.floor import Floor, Outcome
from .core.layout import Layout
from .hub import Hub
from .storage.database import EventLog, StoredEvent

log = logging.getLogger(__name__)

#: Most commands committed in one transaction.
MAX_BATCH = 256


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


class Processor:
    """Owns the :class:`Floor` of the current business day.

    ``submit(command)`` returns the :class:`Outcome` once its events are
    committed and published; raises :class:`DomainError` for an illegal command
    and :class:`StorageUnavailable` when the log cannot be written.
    """

    def __init__(self, layout: Layout, calendar: OfficeCalendar, log_: EventLog, hub: Hub,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.layout = layout
        self.calendar = calendar
        self.log = log_
        self.hub = hub
        self.clock = clock
        self.floor = Floor(layout, calendar, business_day(clock()))
        self.seq = 0
        self._queue: asyncio.Queue[tuple[c.Command | Note, View | None, asyncio.Future[Receipt]]] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Rebuild today's floor from the log and start the writer task."""
        self.seq = await self.log.last_seq()
        self.floor = await self._rebuild(business_day(self.clock()))
        self._task = asyncio.create_task(self._run(), name="madoguchi-writer")

    async def stop(self) -> None:
        """Stop the writer task (pending commands fail with StorageUnavailable)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
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
        """Today's floor; on a new business day a fresh, empty one."""
        today = business_day(self.clock())
        if self.floor.day != today:
            self.floor = Floor(self.layout, self.calendar, today)
        return self.floor

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
        now = self.clock()
        floor = self.current_floor()
        done: list[tuple[asyncio.Future[Receipt], Receipt]] = []
        records: list[StoredEvent] = []
        for command, view, fut in batch:
            try:
                outcome = Outcome(command.events) if isinstance(command, Note) else floor.execute(command, now)
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
