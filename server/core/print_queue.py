"""One printer's queue of print jobs and its health: when to send, retry, give up and poll.

A :class:`PrintQueue` is told what happened: a job was added (:meth:`~PrintQueue.add`),
an attempt printed or failed (:meth:`~PrintQueue.attempted`), an idle printer's
status was read (:meth:`~PrintQueue.status`), an agent reported its printer's
health (:meth:`~PrintQueue.report`). :meth:`~PrintQueue.next` says what to do
now: send the first job, read the printer's status, or sleep until a time. Every
call returns a :class:`Step`: the jobs whose stored row changed, the jobs given
up, the change of health, whom to wake. No asyncio, no SQL, no sockets, no clock:
``now`` (an aware datetime) is an argument (STYLE.md 1); :mod:`server.printing`
does the I/O around it. The printer states are :class:`hardware.printer.PrinterState`
(the vocabulary of ``DLE EOT``); nothing else of that module is used here.

The rules (README "Ticket printing"; issue 4):

- Jobs print in order, one at a time; a job on an idle printer is sent at once.
- A failed attempt is retried at once the first time in a row, then after a
  pause of 0.5 s doubling up to ``retry_max_s``; a printed job resets both.
  A new job, or an agent's report that its printer can print, ends a pause.
- One broken link (``offline``, e.g. a connection dropped mid-job) is not news;
  a second failure in a row, or a condition the printer itself reported
  (``paper_end``, ``cover_open``, ``error``), changes the printer's health
  (the event ``printer.status``).
- A job not printed ``expire_s`` after it was created is given up (``expired``,
  the event ``print.failed``) and listed for reprint. A job being sent is not.
- An idle printer's status is read ``poll_s`` after the last read or job, or
  after at most 2 s while it cannot print.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Generic, TypeVar

from hardware.printer import PrinterState

from .calendar import business_day

#: First pause after a second failure in a row (seconds); it doubles up to ``retry_max_s``.
RETRY_MIN_S = 0.5
#: Longest pause between status reads of an idle printer that cannot print (seconds).
UNWELL_POLL_MAX_S = 2.0
#: Longest pause after an unexpected error in the adapter (seconds).
CRASH_PAUSE_MAX_S = 2.0
#: A printed job is forgotten (kept in the table only) this long after it was created (seconds).
DONE_KEPT_S = 3600.0
#: Longest stored failure text (the ``print_jobs.last_error`` column).
ERROR_MAX_CHARS = 200


class JobState(StrEnum):
    """Where a print job stands: waiting to print, printed, given up."""

    QUEUED = "queued"
    DONE = "done"
    EXPIRED = "expired"


@dataclass(eq=False)
class PrintJob:
    """What the queue knows of a job: ``created_at`` (aware), how many
    attempts were made, the last failure's text, when it printed."""

    id: str
    created_at: datetime
    state: JobState = JobState.QUEUED
    attempts: int = 0
    last_error: str | None = None
    done_at: datetime | None = None


J = TypeVar("J", bound=PrintJob)


@dataclass(frozen=True, slots=True)
class Timing:
    """The ``[printing]`` settings the queue decides with (seconds; declared in ``server.config``)."""

    expire_s: float
    poll_s: float
    retry_max_s: float


# ----------------------------------------------------------- observations
@dataclass(frozen=True, slots=True)
class Printed:
    """The job reached the printer whole; ``state`` is the status read after it."""

    state: PrinterState


@dataclass(frozen=True, slots=True)
class Failed:
    """The attempt failed: the printer could not print (``state`` as it
    reported), could not be reached, or the link broke (``offline``)."""

    state: PrinterState
    message: str


Outcome = Printed | Failed

#: An agent printer's attempt when no agent is connected.
NO_AGENT = Failed(PrinterState.OFFLINE, "no printer agent is connected")
#: An agent printer's attempt when its agent did not answer in time.
AGENT_SILENT = Failed(PrinterState.OFFLINE, "the printer agent did not answer")


def agent_outcome(ok: bool, state: PrinterState, message: str) -> Outcome:
    """An agent's answer for its job (``POST /api/print-jobs/{job}/result``) as an outcome."""
    if ok:
        return Printed(state)
    return Failed(state, message or f"the agent reports {state.value}")


def agent_health(connected: bool, current: PrinterState) -> PrinterState:
    """An agent printer's health as a poll sees it: ``offline`` without a
    connected agent; with one, what it last reported (``unknown`` instead of
    ``offline`` until it reports)."""
    if not connected:
        return PrinterState.OFFLINE
    return PrinterState.UNKNOWN if current is PrinterState.OFFLINE else current


# -------------------------------------------------------------- decisions
@dataclass(frozen=True, slots=True)
class Send(Generic[J]):
    """Send ``job`` now, then tell :meth:`PrintQueue.attempted` how it went."""

    job: J


@dataclass(frozen=True, slots=True)
class Probe:
    """Read the printer's status now, then tell :meth:`PrintQueue.status`."""


@dataclass(frozen=True, slots=True)
class Sleep:
    """Nothing to do before ``until`` (aware), unless woken by a :class:`Step` with ``wake``."""

    until: datetime


Action = Send[J] | Probe | Sleep


@dataclass(frozen=True, slots=True)
class HealthChange:
    """The printer's health changed (the event ``printer.status``): at ``at``,
    from ``previous`` to ``state``, with ``queued`` jobs waiting; ``detail`` is
    the failure that showed it, if any."""

    printer: str
    state: PrinterState
    previous: PrinterState
    at: datetime
    queued: int
    detail: str | None = None


@dataclass(eq=False)
class Step(Generic[J]):
    """What to do after a call: store ``saved`` (state, attempts, error, done
    time changed), publish ``health`` and one ``print.failed`` per ``expired``,
    wake whoever waits on ``touched``, wake the printer's worker when ``wake``
    (its plan changed), and, from :meth:`PrintQueue.next`, do ``action``."""

    saved: list[J] = field(default_factory=list)
    expired: list[J] = field(default_factory=list)
    touched: list[J] = field(default_factory=list)
    health: HealthChange | None = None
    wake: bool = False
    action: Action[J] | None = None

    def touch(self, job: J) -> None:
        """Add ``job`` to ``touched`` once."""
        if all(j is not job for j in self.touched):
            self.touched.append(job)


# ------------------------------------------------------------------ queue
class PrintQueue(Generic[J]):
    """One printer (see module doc). ``health`` since ``since`` (``None``
    before its first change); ``jobs`` in print order; ``failed`` the jobs
    given up, for reprint; ``failures`` failed attempts in a row; ``pause_s``
    the pause before the next retry after a failure that is not the first in a
    row; ``due`` when the next send or status read is due (``None``: at once);
    ``sending`` the job being sent."""

    def __init__(self, printer: str, timing: Timing) -> None:
        self.printer = printer
        self.timing = timing
        self.health = PrinterState.UNKNOWN
        self.since: datetime | None = None
        self.jobs: deque[J] = deque()
        self.failed: list[J] = []
        self.failures = 0
        self.pause_s = RETRY_MIN_S
        self.due: datetime | None = None
        self.sending: J | None = None

    # ------------------------------------------------------- observations
    def restore(self, job: J) -> None:
        """A stored job at start: a queued one joins the queue, a given-up one
        the failed list. Raises ``ValueError`` for a printed job."""
        if job.state is JobState.QUEUED:
            self.jobs.append(job)
        elif job.state is JobState.EXPIRED:
            self.failed.append(job)
        else:
            raise ValueError(f"job {job.id} is already printed")

    def add(self, job: J, now: datetime) -> Step[J]:
        """A new job at the end of the queue. The printer is tried at once
        (``wake``), even during a back-off pause: someone stands at the kiosk,
        and a pause only spares a printer nobody is waiting at. While a job is
        being sent, the new one waits its turn."""
        self.jobs.append(job)
        if self.sending is not None or (self.due is not None and self.due <= now):
            return Step()  # already at it, or about to be
        self.due = now
        return Step(wake=True)

    def attempted(self, job: J, outcome: Outcome, now: datetime) -> Step[J]:
        """How sending ``job`` (the one :meth:`next` gave) went. Raises
        ``ValueError`` for any other job."""
        if job is not self.sending:
            raise ValueError(f"job {job.id} is not being sent")
        self.sending = None
        job.attempts += 1
        step: Step[J] = Step(saved=[job], touched=[job])
        if isinstance(outcome, Printed):
            self.jobs.remove(job)
            job.state, job.done_at = JobState.DONE, now
            self.failures, self.pause_s = 0, RETRY_MIN_S
            self._set_health(step, outcome.state, now)
            # The status read after the job is as fresh as a poll.
            self.due = now if self.jobs else now + timedelta(seconds=self._poll_s())
            return step
        self.failures += 1
        job.last_error = outcome.message[:ERROR_MAX_CHARS]
        if self.failures > 1 or outcome.state is not PrinterState.OFFLINE:
            self._set_health(step, outcome.state, now, outcome.message)
        if self.failures > 1:
            self.due = now + timedelta(seconds=self.pause_s)
            self.pause_s = min(self.timing.retry_max_s, self.pause_s * 2)
        else:
            self.due = now
        return step

    def status(self, state: PrinterState, now: datetime) -> Step[J]:
        """The status read that :class:`Probe` asked for. The next read is
        ``poll_s`` later (at most 2 s while the printer cannot print), unless a
        job came meanwhile."""
        step: Step[J] = Step()
        self._set_health(step, state, now)
        if not self.jobs:
            self.due = now + timedelta(seconds=self._poll_s())
        return step

    def report(self, state: PrinterState, now: datetime) -> Step[J]:
        """An agent's report of its printer's health; one that can print ends
        a back-off pause (``wake``)."""
        step: Step[J] = Step()
        self._set_health(step, state, now)
        if state.can_print and self.jobs and self.sending is None and (self.due is None or self.due > now):
            self.due = now
            step.wake = True
        return step

    def crashed(self, now: datetime) -> None:
        """The adapter failed unexpectedly (logged there): forget the attempt
        in flight, if any, without counting it, and act again after
        ``min(retry_max_s, 2 s)``."""
        self.sending = None
        self.due = now + timedelta(seconds=min(self.timing.retry_max_s, CRASH_PAUSE_MAX_S))

    # ---------------------------------------------------------- decisions
    def next(self, now: datetime) -> Step[J]:
        """Give up the jobs at the head that are ``expire_s`` old, then decide:
        :class:`Send` the first job, :class:`Probe` an idle printer (at once
        when the last job was just given up), or :class:`Sleep` until the next
        send, read or expiry. Raises
        ``RuntimeError`` while a job is being sent."""
        if self.sending is not None:
            raise RuntimeError(f"job {self.sending.id} is being sent")
        step: Step[J] = Step()
        expire = timedelta(seconds=self.timing.expire_s)
        while self.jobs and now - self.jobs[0].created_at >= expire:
            job = self.jobs.popleft()
            job.state = JobState.EXPIRED
            self.failed.append(job)
            step.saved.append(job)
            step.expired.append(job)
            step.touch(job)
        if step.expired and not self.jobs:
            self.due = None  # the pause was for retrying; an idle printer's status is read now
        due = now if self.due is None else self.due
        if not self.jobs:
            step.action = Probe() if due <= now else Sleep(due)
        elif due <= now:
            self.sending = self.jobs[0]
            step.action = Send(self.sending)
        else:
            step.action = Sleep(min(due, self.jobs[0].created_at + expire))
        return step

    def settled(self, job: J) -> bool:
        """Whether a kiosk waiting on ``job`` has its answer: printed or given
        up, or an attempt failed and the printer needs a person."""
        return job.state is not JobState.QUEUED or (job.attempts > 0 and not self.health.can_print)

    def prune(self, today: date) -> None:
        """Drop given-up jobs of past business days from the failed list."""
        self.failed = [j for j in self.failed if business_day(j.created_at) == today]

    def _poll_s(self) -> float:
        return self.timing.poll_s if self.health.can_print else min(UNWELL_POLL_MAX_S, self.timing.poll_s)

    def _set_health(self, step: Step[J], state: PrinterState, now: datetime, detail: str | None = None) -> None:
        if state is self.health:
            return
        previous, self.health, self.since = self.health, state, now
        step.health = HealthChange(self.printer, state, previous, now, len(self.jobs), detail)
        for job in self.jobs:
            step.touch(job)


def forgettable(job: PrintJob, now: datetime, today: date) -> bool:
    """Whether the service may drop ``job`` from memory (it stays in the
    table): printed more than an hour after its creation, or given up on a
    business day before ``today``."""
    if job.state is JobState.DONE:
        return (now - job.created_at).total_seconds() > DONE_KEPT_S
    return job.state is JobState.EXPIRED and business_day(job.created_at) != today
