"""Ticket printing (issue 4): print jobs, one worker per printer, printer health, reprint.

A kiosk's ticket becomes a print job on the printer assigned to that kiosk
(table ``device_printers``). Jobs are stored (table ``print_jobs``) before the
kiosk gets its answer, so none is lost to a restart. Each printer has one
worker task that prints its jobs in order:

- ``network`` printers (raw TCP 9100) are driven from here through
  :class:`hardware.printer.Link`, in a worker thread, with the printer's
  real-time status read before and after each job (``DLE EOT``);
- ``agent`` printers (USB on a kiosk PC) get the job over ``/ws`` topic
  ``printer:<id>`` and ``madoguchi printer-agent`` reports back over HTTP.

A failed attempt is retried with back-off (0.5 s doubling to
``[printing] retry_max_s``) until it prints or is ``expire_s`` old; then it is
given up (``print.failed``) and listed for staff to reprint. A change of a
printer's health is the event ``printer.status`` (``ok``, ``paper_near_end``,
``paper_end``, ``cover_open``, ``offline``, ``error``, ``unknown``), which the
staff display shows as an alert.

Those decisions are :class:`server.core.print_queue.PrintQueue`'s, one per
printer, with ``now`` passed in; this module is the adapter around it: it
stores jobs, talks to printers and agents, publishes events and wakes waiters
as the queue's steps say.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hardware.printer import Link, PrinterState, PrintFailed, job_bytes
from hardware.ticket import TicketFace, TicketFonts, render

from .config import PrinterModel, Printing
from .core import events as ev
from .core.calendar import business_day
from .core.events import Event
from .core.floor import Floor
from .core.print_queue import (
    AGENT_SILENT,
    NO_AGENT,
    Failed,
    JobState,
    Outcome,
    Printed,
    PrintJob,
    PrintQueue,
    Probe,
    Send,
    Sleep,
    Step,
    Timing,
    agent_health,
    agent_outcome,
    forgettable,
)
from .core.tickets import Ticket
from .errors import ApiError
from .hub import Hub, dumps
from .processor import Processor
from .storage import schema
from .storage.database import from_us, to_us, write_audit
from .views import iso, text, ticket_public, wait_minutes

log = logging.getLogger(__name__)


def face_of(ticket: Ticket, floor: Floor, now: datetime, public_url: str, *, reprint: bool = False) -> TicketFace:
    """What the ticket shows, from the floor at ``now`` (people ahead and
    expected wait as of now; seed 004 8(1)-3)."""
    public = ticket_public(ticket, floor, now)
    name = floor.layout.queues[ticket.queue].name
    return TicketFace(
        office=floor.layout.office_name.ja, procedure_ja=name.ja, procedure_en=name.en, number=ticket.display,
        ahead=public["ahead"], wait_min=public["wait_min"], issued_at=ticket.issued_at,
        url=f"{public_url}/t/{ticket.token}", reprint=reprint,
    )


def _face_json(face: TicketFace) -> str:
    return orjson.dumps({**asdict(face), "issued_at": face.issued_at.isoformat()}).decode()


def _face_load(raw: str) -> TicketFace:
    data = orjson.loads(raw)
    if "wait_s" in data:  # a job stored before issue 12 kept seconds; the views' rule makes them minutes
        data["wait_min"] = wait_minutes(data.pop("wait_s"))
    return TicketFace(**{**data, "issued_at": datetime.fromisoformat(data["issued_at"])})


@dataclass(eq=False, kw_only=True)
class Job(PrintJob):
    """One ticket to print: the queue's view (:class:`PrintJob`) plus what it
    prints and for whom. ``changed`` is set whenever its state or attempts
    change; ``data`` caches its ESC/POS bytes while it is queued."""

    ticket: str
    printer: str
    face: TicketFace
    device: str | None = None
    staff: str | None = None
    reprint: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    data: bytes | None = None

    def touch(self) -> None:
        """Wake whoever waits on this job."""
        self.changed.set()
        self.changed = asyncio.Event()


@dataclass(eq=False)
class Worker:
    """One printer: its settings, its :class:`PrintQueue` (health and jobs),
    the event that wakes its task, and the job awaiting its agent's answer."""

    spec: PrinterModel
    queue: PrintQueue[Job]
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    agent_reply: asyncio.Future[Outcome] | None = None
    agent_job: str | None = None


class PrintService:
    """Print jobs and printer health for one office (see module doc)."""

    def __init__(self, engine: AsyncEngine, printing: Printing, processor: Processor, hub: Hub,
                 public_url: str, clock: Callable[[], datetime], *, fonts: TicketFonts | None = None) -> None:
        self.engine = engine
        self.fonts = fonts or TicketFonts()
        self.settings = printing.settings
        self.processor = processor
        self.hub = hub
        self.public_url = public_url
        self.clock = clock
        timing = Timing(self.settings.expire_s, self.settings.poll_s, self.settings.retry_max_s)
        self.workers = {pid: Worker(spec, PrintQueue(pid, timing)) for pid, spec in printing.printers.items()}
        self.assigned: dict[str, str] = {}
        self.jobs: dict[str, Job] = {}
        #: The (first, not reprint) job of each ticket, so a repeated issue finds it.
        self.by_ticket: dict[str, Job] = {}

    # ---------------------------------------------------------------- life
    async def start(self) -> None:
        """Load assignments and today's unprinted jobs, then start one worker per printer."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(schema.device_printers))).all()
            self.assigned = {r.device: r.printer for r in rows}
            day = business_day(self.clock()).isoformat()
            jobs = (await conn.execute(
                select(schema.print_jobs).where(schema.print_jobs.c.business_day == day)
                .where(schema.print_jobs.c.state.in_((JobState.QUEUED.value, JobState.EXPIRED.value)))
                .order_by(schema.print_jobs.c.created_at_us)
            )).all()
        for device, printer in self.assigned.items():
            if printer not in self.workers:
                log.warning("device %s is assigned to printer %r, which is not in the office file", device, printer)
        for r in jobs:
            worker = self.workers.get(r.printer)
            if worker is None:
                continue
            job = Job(id=r.id, created_at=from_us(r.created_at_us), state=JobState(r.state), attempts=r.attempts,
                      last_error=r.last_error, ticket=r.ticket, printer=r.printer, face=_face_load(r.face),
                      device=r.device, staff=r.staff, reprint=bool(r.reprint))
            self.jobs[job.id] = job
            if not job.reprint:
                self.by_ticket[job.ticket] = job
            worker.queue.restore(job)
        await self._recover()
        for pid, worker in self.workers.items():
            worker.task = asyncio.create_task(self._run(worker), name=f"printer-{pid}")

    async def _recover(self) -> None:
        """Tickets from kiosks with a printer that have no job (the server
        stopped between storing the ticket and its job) get one now, while
        still younger than ``expire_s``."""
        floor = self.processor.current_floor()
        now = self.clock()
        async with self.engine.connect() as conn:
            have = set((await conn.execute(
                select(schema.print_jobs.c.ticket).where(schema.print_jobs.c.business_day == floor.day.isoformat())
            )).scalars())
        for ticket in floor.tickets.values():
            printer = self.assigned.get(ticket.device or "")
            if (printer is None or ticket.id in have or printer not in self.workers
                    or (now - ticket.issued_at).total_seconds() > self.settings.expire_s):
                continue
            await self._enqueue(ticket, floor, printer, device=ticket.device)

    async def stop(self) -> None:
        """Stop the workers; queued jobs stay stored for the next start."""
        for worker in self.workers.values():
            if worker.task is not None:
                worker.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker.task

    # --------------------------------------------------------- assignment
    def printer_of(self, device: str) -> str | None:
        """The printer assigned to ``device`` (kiosk or agent), if any."""
        return self.assigned.get(device)

    def check_printer(self, printer: str) -> PrinterModel:
        """The printer ``printer``; raises ``ApiError("unknown_printer")``."""
        worker = self.workers.get(printer)
        if worker is None:
            known = ", ".join(self.workers) or "none are configured"
            raise ApiError("unknown_printer", f"no printer {printer[:40]!r} in the office file ([[printers]]: {known})")
        return worker.spec

    async def assign(self, device: str, printer: str | None, actor: str) -> None:
        """Set (or with ``None`` clear) the printer of ``device``; audited.
        Raises ``ApiError("unknown_printer")``."""
        if printer is not None:
            self.check_printer(printer)
        async with self.engine.begin() as conn:
            await conn.execute(delete(schema.device_printers).where(schema.device_printers.c.device == device))
            if printer is not None:
                await conn.execute(insert(schema.device_printers),
                                   {"device": device, "printer": printer, "updated_at_us": to_us(self.clock())})
            await write_audit(conn, actor, "device.printer", f"{device} -> {printer}", to_us(self.clock()))
        if printer is None:
            self.assigned.pop(device, None)
        else:
            self.assigned[device] = printer

    # --------------------------------------------------------------- jobs
    async def print_issued(self, device: str | None, ticket_id: str) -> dict[str, Any]:
        """Print a ticket just issued by ``device``; returns the kiosk's
        ``print`` field: ``{"state": "no_printer"}``, ``{"state":
        "unknown_printer", "printer", "message"}`` or the job's status (see
        :meth:`job_status`). A repeated issue (same idempotency key) gets the
        first job, never a second one."""
        printer = self.assigned.get(device or "")
        if printer is None:
            return {"state": "no_printer"}
        if printer not in self.workers:
            return {"state": "unknown_printer", "printer": printer,
                    "message": f"printer {printer!r} is not in the office file"}
        if ticket_id in self.by_ticket:
            return self.job_status(self.by_ticket[ticket_id])
        floor = self.processor.current_floor()
        job = await self._enqueue(floor.tickets[ticket_id], floor, printer, device=device)
        return self.job_status(job)

    async def reprint(self, ticket_id: str, printer: str | None, staff: str, actor: str) -> dict[str, Any]:
        """Print ``ticket_id`` again (再発行), on ``printer`` or else the printer
        of the kiosk that issued it; audited. Raises ``ApiError``:
        ``unknown_ticket``, ``unknown_printer``, ``no_printer``."""
        floor = self.processor.current_floor()
        ticket = floor.tickets.get(ticket_id)
        if ticket is None:
            raise ApiError("unknown_ticket", "no such ticket today")
        if printer is None:
            printer = self.assigned.get(ticket.device or "")
            if printer is None:
                raise ApiError("no_printer", "this ticket was not issued at a kiosk with a printer; name a printer")
        self.check_printer(printer)
        job = await self._enqueue(ticket, floor, printer, staff=staff, reprint=True)
        async with self.engine.begin() as conn:
            detail = f"{ticket.display} ({ticket.id}) on {printer}, job {job.id}"
            await write_audit(conn, actor, "ticket.reprinted", detail, to_us(self.clock()))
        return self.job_status(job)

    async def _enqueue(self, ticket: Ticket, floor: Floor, printer: str, *, device: str | None = None,
                       staff: str | None = None, reprint: bool = False) -> Job:
        now = self.clock()
        face = face_of(ticket, floor, now, self.public_url, reprint=reprint)
        job = Job(id=uuid.uuid4().hex, created_at=now, ticket=ticket.id, printer=printer, face=face, device=device,
                  staff=staff, reprint=reprint)
        async with self.engine.begin() as conn:
            await conn.execute(insert(schema.print_jobs), {
                "id": job.id, "business_day": floor.day.isoformat(), "ticket": ticket.id, "printer": printer,
                "device": device, "staff": staff, "reprint": reprint, "face": _face_json(face),
                "state": job.state.value, "attempts": 0, "last_error": None, "created_at_us": to_us(now),
                "done_at_us": None,
            })
        self._prune(floor.day)
        self.jobs[job.id] = job
        if not reprint:
            self.by_ticket[ticket.id] = job
        worker = self.workers[printer]
        await self._apply(worker, worker.queue.add(job, now), now)
        return job

    def _prune(self, today: date) -> None:
        """Forget jobs :func:`forgettable` says may go (they stay in the
        table), so memory does not grow with the days."""
        now = self.clock()
        for job in list(self.jobs.values()):
            if forgettable(job, now, today):
                del self.jobs[job.id]
                if self.by_ticket.get(job.ticket) is job:
                    del self.by_ticket[job.ticket]
        for worker in self.workers.values():
            worker.queue.prune(today)

    def job_status(self, job: Job) -> dict[str, Any]:
        """``{"job", "printer", "state": queued|done|expired, "attempts",
        "printer_state", "error"}``; ``error`` is the last failure's text."""
        return {"job": job.id, "printer": job.printer, "state": job.state.value, "attempts": job.attempts,
                "printer_state": self.workers[job.printer].queue.health.value, "error": job.last_error}

    def job(self, job_id: str) -> Job:
        """Today's job ``job_id``; raises ``ApiError("unknown_job")``."""
        job = self.jobs.get(job_id)
        if job is None:
            raise ApiError("unknown_job", "no such print job")
        return job

    async def wait(self, job_id: str, timeout: float) -> dict[str, Any]:
        """The job's status once it is printed or given up, or once an attempt
        failed with the printer needing a person (paper end, cover open,
        offline), or after ``timeout`` seconds, whichever comes first."""
        job = self.job(job_id)
        queue = self.workers[job.printer].queue
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not queue.settled(job):
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(job.changed.wait(), remaining)
        return self.job_status(job)

    async def job_data(self, job_id: str) -> bytes:
        """The ESC/POS bytes of a job (for its agent)."""
        job = self.job(job_id)
        return await self._bytes(job, self.workers[job.printer])

    # ------------------------------------------------------------- health
    def overview(self) -> list[dict[str, Any]]:
        """Every printer for the staff display: ``{"printer", "name", "state",
        "since", "queued", "failed": [{"job", "ticket", "display"}]}``."""
        return [{
            "printer": pid, "name": text(w.spec.name.text()), "state": w.queue.health.value,
            "since": iso(w.queue.since), "queued": len(w.queue.jobs), "connection": w.spec.connection,
            "failed": [{"job": j.id, "ticket": j.ticket, "display": j.face.number} for j in w.queue.failed],
        } for pid, w in self.workers.items()]

    def topic_snapshot(self, printer: str) -> dict[str, Any]:
        """Topic ``printer:<id>``: its health and the ids of its queued jobs
        and the job waiting for the agent's answer (``awaiting``), so a
        reconnecting agent picks up what it missed."""
        w = self.workers[printer]
        return {"printer": printer, "state": w.queue.health.value, "paper_mm": w.spec.paper_mm,
                "jobs": [j.id for j in w.queue.jobs], "awaiting": w.agent_job}

    # ------------------------------------------------------------- worker
    async def _run(self, worker: Worker) -> None:
        """The printer's task: do what its queue decides, tell it what happened, repeat."""
        queue = worker.queue
        while True:
            worker.wake.clear()
            try:
                now = self.clock()
                step = queue.next(now)
                await self._apply(worker, step, now)
                action = step.action
                if isinstance(action, Send):
                    outcome = await self._attempt(worker, action.job)
                    now = self.clock()
                    await self._apply(worker, queue.attempted(action.job, outcome, now), now)
                elif isinstance(action, Probe):
                    state = await self._probe(worker)
                    now = self.clock()
                    await self._apply(worker, queue.status(state, now), now)
                elif isinstance(action, Sleep):
                    await self._sleep(worker, (action.until - now).total_seconds())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("printer %s worker failed; retrying", worker.spec.id)
                queue.crashed(self.clock())

    async def _apply(self, worker: Worker, step: Step[Job], now: datetime) -> None:
        """Carry out a step of the queue: store, publish, wake."""
        for job in step.saved:
            if job.state is not JobState.QUEUED:
                job.data = None
            await self._save(job)
        change = step.health
        if change is not None:
            if change.state.can_print:
                log.info("printer %s: %s", change.printer, change.state.value)
            else:
                log.warning("printer %s: %s (%s)", change.printer, change.state.value, change.detail or "")
            with contextlib.suppress(Exception):
                await self.processor.record([Event(ev.PRINTER_STATUS, change.at, {
                    "printer": change.printer, "state": change.state.value, "previous": change.previous.value,
                    "queued": change.queued,
                })])
        for job in step.expired:
            with contextlib.suppress(Exception):
                await self.processor.record([Event(ev.PRINT_FAILED, now, {
                    "printer": job.printer, "job": job.id, "ticket": job.ticket, "display": job.face.number,
                    "attempts": job.attempts, "reason": job.last_error,
                })])
        for job in step.touched:
            job.touch()
        if step.wake:
            worker.wake.set()

    async def _sleep(self, worker: Worker, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(worker.wake.wait(), max(0.0, seconds))

    async def _bytes(self, job: Job, worker: Worker) -> bytes:
        if job.data is None:
            paper = worker.spec.paper_mm
            job.data = await asyncio.to_thread(lambda: job_bytes(render(job.face, paper, self.fonts), paper))
        return job.data

    def _link(self, spec: PrinterModel) -> Link:
        return Link("tcp", host=spec.host or "", port=spec.port, timeout=self.settings.timeout_s,
                    status_timeout=min(1.0, self.settings.timeout_s))

    async def _probe(self, worker: Worker) -> PrinterState:
        """An idle printer's health: ``DLE EOT`` for a network printer, whether its agent is there for the others."""
        if worker.spec.connection == "network":
            return await asyncio.to_thread(self._link(worker.spec).status)
        return agent_health(self.hub.has_subscriber(f"printer:{worker.spec.id}"), worker.queue.health)

    async def _attempt(self, worker: Worker, job: Job) -> Outcome:
        """Send ``job`` once: over TCP (status, bytes, status), or through its agent."""
        data = await self._bytes(job, worker)
        if worker.spec.connection == "network":
            try:
                return Printed(await asyncio.to_thread(self._link(worker.spec).send, data))
            except PrintFailed as err:
                return Failed(err.state, str(err))
        topic = f"printer:{worker.spec.id}"
        if not self.hub.has_subscriber(topic):
            return NO_AGENT
        reply: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        worker.agent_reply, worker.agent_job = reply, job.id
        self.hub.notify(topic, dumps({"type": "print_job", "printer": worker.spec.id, "job": job.id}))
        try:
            return await asyncio.wait_for(reply, self.settings.timeout_s * 4)
        except TimeoutError:
            return AGENT_SILENT
        finally:
            worker.agent_reply, worker.agent_job = None, None

    async def agent_result(self, printer: str, job_id: str, ok: bool, state: PrinterState, message: str) -> None:
        """An agent's answer for the job it was sent. Raises ``ApiError``
        (``unknown_job`` for a job that is not the one awaited)."""
        worker = self.workers[printer]
        if worker.agent_job != job_id or worker.agent_reply is None or worker.agent_reply.done():
            raise ApiError("unknown_job", "this job is not waiting for an answer")
        worker.agent_reply.set_result(agent_outcome(ok, state, message))

    async def agent_status(self, printer: str, state: PrinterState) -> None:
        """An agent's report of its printer's health."""
        worker = self.workers[printer]
        now = self.clock()
        await self._apply(worker, worker.queue.report(state, now), now)

    async def _save(self, job: Job) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(schema.print_jobs).where(schema.print_jobs.c.id == job.id).values(
                state=job.state.value, attempts=job.attempts, last_error=job.last_error,
                done_at_us=to_us(job.done_at) if job.done_at else None,
            ))
