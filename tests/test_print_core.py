"""The print queue's decisions (server.core.print_queue) as plain functions: no event loop, no sockets, no clock.

Each test is a stretch of the floor's day on one printer, told in the order the
adapter (server.printing) would tell it: what the queue says to do, what the
printer answered, and what the queue then decides.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hardware.printer import PrinterState
from server.core.calendar import TOKYO
from server.core.print_queue import (
    AGENT_SILENT,
    NO_AGENT,
    Failed,
    HealthChange,
    JobState,
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

OK, NEAR_END, PAPER_END = PrinterState.OK, PrinterState.NEAR_END, PrinterState.PAPER_END
COVER_OPEN, OFFLINE, UNKNOWN = PrinterState.COVER_OPEN, PrinterState.OFFLINE, PrinterState.UNKNOWN
NINE = datetime(2025, 4, 1, 9, 0, tzinfo=TOKYO)
TIMING = Timing(expire_s=300, poll_s=30, retry_max_s=10)


def at(seconds: float) -> datetime:
    """``seconds`` after 09:00 on a weekday."""
    return NINE + timedelta(seconds=seconds)


def job(name: str, created: float) -> PrintJob:
    return PrintJob(name, at(created))


def idle_ok(timing: Timing = TIMING) -> PrintQueue[PrintJob]:
    """A printer that has just answered its first status read: ok, next read in poll_s."""
    queue: PrintQueue[PrintJob] = PrintQueue("kiosk1", timing)
    assert isinstance(queue.next(at(0)).action, Probe)
    step = queue.status(OK, at(0))
    assert step.health is not None and (step.health.previous, step.health.state) == (UNKNOWN, OK)
    return queue


def sends(step: Step[PrintJob]) -> PrintJob:
    """The job ``step`` says to send (fails the test otherwise)."""
    assert isinstance(step.action, Send), step.action
    return step.action.job


def sleeps_until(step: Step[PrintJob]) -> datetime:
    assert isinstance(step.action, Sleep), step.action
    return step.action.until


# ------------------------------------------------------------- a good day
def test_an_idle_printer_is_polled_and_a_new_ticket_is_sent_at_once_and_printed() -> None:
    queue = idle_ok()
    assert sleeps_until(queue.next(at(1))) == at(30)  # poll_s after the read
    assert isinstance(queue.next(at(30)).action, Probe)
    assert queue.status(OK, at(30)).health is None  # no change, no event

    ticket = job("t1", 40)
    step = queue.add(ticket, at(40))
    assert step.wake  # the worker was sleeping until 60; it must act now
    assert sends(queue.next(at(40))) is ticket
    done = queue.attempted(ticket, Printed(OK), at(41))
    assert done.saved == [ticket] and done.touched == [ticket] and done.health is None
    assert (ticket.state, ticket.attempts, ticket.done_at) == (JobState.DONE, 1, at(41))
    assert queue.settled(ticket) and not queue.jobs
    # The status read after the job is as good as a poll: the next is poll_s later.
    assert sleeps_until(queue.next(at(41))) == at(71)


def test_tickets_print_in_order_one_at_a_time_and_a_new_one_waits_its_turn() -> None:
    queue = idle_ok()
    first, second = job("a", 5), job("b", 5.2)
    assert queue.add(first, at(5)).wake
    assert sends(queue.next(at(5))) is first
    assert not queue.add(second, at(5.2)).wake  # the worker is at it
    with pytest.raises(RuntimeError):
        queue.next(at(5.1))  # one attempt at a time
    with pytest.raises(ValueError):
        queue.attempted(second, Printed(OK), at(5.3))
    queue.attempted(first, Printed(OK), at(5.5))
    assert sends(queue.next(at(5.5))) is second  # straight on, no pause


# ------------------------------------------------- paper runs out mid-morning
def test_paper_runs_out_mid_morning_the_kiosk_is_told_and_the_ticket_prints_once_paper_is_back() -> None:
    queue = idle_ok()
    # 10:30: the idle poll finds the paper end: one event, then reads every 2 s.
    change = queue.status(PAPER_END, at(5400)).health
    assert change is not None
    assert (change.previous, change.state, change.at, change.queued) == (OK, PAPER_END, at(5400), 0)
    assert queue.since == at(5400)
    assert sleeps_until(queue.next(at(5400))) == at(5402)

    ticket = job("t-paper", 5401)
    queue.add(ticket, at(5401))
    assert not queue.settled(ticket)  # the state may be stale: no attempt yet
    assert sends(queue.next(at(5401))) is ticket
    failed = queue.attempted(ticket, Failed(PAPER_END, "the printer reports paper_end"), at(5401.1))
    assert failed.health is None  # already known: no second event
    assert ticket.attempts == 1 and ticket.last_error == "the printer reports paper_end"
    assert failed.saved == [ticket] and failed.touched == [ticket]
    assert queue.settled(ticket)  # the kiosk shows the ticket on screen now
    assert list(queue.jobs) == [ticket]  # and the job waits for the paper

    # Retried at once, then paused 0.5 s, 1 s, 2 s ...
    assert sends(queue.next(at(5401.1))) is ticket
    queue.attempted(ticket, Failed(PAPER_END, "the printer reports paper_end"), at(5401.2))
    assert sleeps_until(queue.next(at(5401.2))) == at(5401.7)
    sends(queue.next(at(5401.7)))
    queue.attempted(ticket, Failed(PAPER_END, "the printer reports paper_end"), at(5401.7))
    assert sleeps_until(queue.next(at(5401.7))) == at(5402.7)

    # A clerk changes the roll; the next attempt prints and the alert clears.
    sends(queue.next(at(5402.7)))
    back = queue.attempted(ticket, Printed(OK), at(5403))
    assert back.health is not None and (back.health.previous, back.health.state) == (PAPER_END, OK)
    assert ticket.state is JobState.DONE and ticket.attempts == 4
    assert (queue.failures, queue.pause_s) == (0, 0.5)  # back-off starts afresh


def test_paper_near_end_is_a_warning_and_still_prints() -> None:
    queue = idle_ok()
    assert queue.status(NEAR_END, at(100)).health is not None
    assert sleeps_until(queue.next(at(100))) == at(130)  # polled as a healthy printer
    ticket = job("t", 110)
    queue.add(ticket, at(110))
    sends(queue.next(at(110)))
    assert queue.attempted(ticket, Printed(NEAR_END), at(111)).health is None
    assert ticket.state is JobState.DONE


# ----------------------------------------------------------- cover opened
def test_a_cover_opened_during_a_job_is_news_at_the_first_failure_and_every_waiting_kiosk_is_woken() -> None:
    queue = idle_ok()
    first, second = job("a", 1000), job("b", 1001)
    queue.add(first, at(1000))
    queue.add(second, at(1001))
    sends(queue.next(at(1001)))
    step = queue.attempted(first, Failed(COVER_OPEN, "the printer reported cover_open during the job"), at(1002))
    assert step.health is not None and (step.health.previous, step.health.state) == (OK, COVER_OPEN)
    assert step.health.queued == 2 and step.health.detail == "the printer reported cover_open during the job"
    assert [j.id for j in step.touched] == ["a", "b"]  # each once
    assert sends(queue.next(at(1002))) is first  # the first failure in a row is retried at once
    step = queue.attempted(first, Failed(COVER_OPEN, "the printer reports cover_open"), at(1002.1))
    assert step.health is None
    assert sleeps_until(queue.next(at(1002.1))) == at(1002.6)
    assert not queue.settled(second)  # never attempted: its kiosk waits on

    sends(queue.next(at(1002.6)))
    step = queue.attempted(first, Printed(OK), at(1003))
    assert step.health is not None and step.health.state is OK and step.health.queued == 1
    assert sends(queue.next(at(1003))) is second


# ------------------------------------- printer unplugged, the job expires
def test_a_printer_unplugged_all_day_backs_off_to_retry_max_and_gives_the_job_up_at_expire_s() -> None:
    queue = idle_ok(Timing(expire_s=60, poll_s=30, retry_max_s=10))
    ticket = job("lost", 10)
    queue.add(ticket, at(10))
    t = 10.0
    pauses: list[float] = []
    events: list[HealthChange] = []
    while True:
        step = queue.next(at(t))
        if step.expired:
            break
        if isinstance(step.action, Sleep):
            pauses.append(round((step.action.until - at(t)).total_seconds(), 3))
            t = (step.action.until - NINE).total_seconds()
            continue
        assert sends(step) is ticket
        result = queue.attempted(ticket, Failed(OFFLINE, "cannot reach the printer at tcp://192.0.2.21:9100"), at(t))
        events += [result.health] if result.health else []
    # One broken link is not news; the second failure in a row is.
    assert [(e.previous, e.state) for e in events] == [(OK, OFFLINE)]
    assert pauses == [0.5, 1, 2, 4, 8, 10, 10, 10, 10, 4.5]  # the last pause ends at the expiry time
    assert t == 70 and ticket.attempts == 11

    assert step.expired == [ticket] and step.saved == [ticket] and ticket in step.touched
    assert ticket.state is JobState.EXPIRED and queue.failed == [ticket] and not queue.jobs
    assert ticket.last_error == "cannot reach the printer at tcp://192.0.2.21:9100"  # the reason for print.failed
    assert queue.settled(ticket)
    assert isinstance(step.action, Probe)  # idle again: read its status

    probe = queue.status(OFFLINE, at(70))
    assert probe.health is None and sleeps_until(queue.next(at(70))) == at(72)  # unwell: every 2 s


def test_a_job_sent_before_its_time_ran_out_still_prints_and_the_next_one_expires() -> None:
    queue = idle_ok(Timing(expire_s=60, poll_s=30, retry_max_s=10))
    old, young = job("old", 0), job("young", 50)
    queue.add(old, at(0))
    queue.add(young, at(50))
    sends(queue.next(at(59)))
    queue.attempted(old, Printed(OK), at(61))  # it was sent in time: it printed
    assert old.state is JobState.DONE
    step = queue.next(at(111))
    assert step.expired == [young] and step.health is None and not queue.jobs


# -------------------------------------------------------------- recovery
def test_a_connection_dropped_mid_job_is_retried_at_once_without_an_alert() -> None:
    queue = idle_ok()
    ticket = job("t", 200)
    queue.add(ticket, at(200))
    sends(queue.next(at(200)))
    broke = queue.attempted(ticket, Failed(OFFLINE, "the connection to tcp://x:9100 broke during the job"), at(201))
    assert broke.health is None and queue.health is OK
    assert not queue.settled(ticket)  # the printer is fine: the kiosk keeps waiting
    assert sends(queue.next(at(201))) is ticket
    done = queue.attempted(ticket, Printed(OK), at(202))
    assert done.health is None and ticket.state is JobState.DONE and ticket.attempts == 2


def test_the_back_off_sequence_doubles_to_retry_max_and_a_printed_job_resets_it() -> None:
    queue = idle_ok(Timing(expire_s=3600, poll_s=30, retry_max_s=3))
    ticket = job("t", 0)
    queue.add(ticket, at(0))
    t, pauses = 0.0, []
    for _ in range(7):
        sends(queue.next(at(t)))
        queue.attempted(ticket, Failed(PAPER_END, "paper"), at(t))
        assert queue.due is not None
        pauses.append((queue.due - at(t)).total_seconds())
        t = (queue.due - NINE).total_seconds()
    assert pauses == [0.0, 0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    sends(queue.next(at(t)))
    queue.attempted(ticket, Printed(OK), at(t))
    later = job("u", t + 1)
    queue.add(later, at(t + 1))
    sends(queue.next(at(t + 1)))
    queue.attempted(later, Failed(PAPER_END, "paper"), at(t + 1))
    sends(queue.next(at(t + 1)))  # once more at once: a fresh sequence
    queue.attempted(later, Failed(PAPER_END, "paper"), at(t + 1))
    assert sleeps_until(queue.next(at(t + 1))) == at(t + 1.5)


def test_a_new_ticket_during_a_pause_is_tried_at_once_and_the_pause_keeps_growing() -> None:
    queue = idle_ok()
    first, second = job("a", 0), job("b", 3)
    queue.add(first, at(0))
    for t in (0, 0, 0.5):
        sends(queue.next(at(t)))
        queue.attempted(first, Failed(PAPER_END, "paper"), at(t))
    assert sleeps_until(queue.next(at(0.5))) == at(1.5)
    assert queue.add(second, at(1)).wake  # a visitor at the kiosk: try now
    assert sends(queue.next(at(1))) is first  # in order: the first job goes first
    queue.attempted(first, Failed(PAPER_END, "paper"), at(1))
    assert sleeps_until(queue.next(at(1))) == at(3)  # 2 s: the sequence goes on
    assert not queue.settled(second)  # not tried yet: its kiosk waits on


def test_an_unexpected_error_in_the_adapter_is_retried_after_two_seconds_without_counting() -> None:
    queue = idle_ok()
    ticket = job("t", 0)
    queue.add(ticket, at(0))
    sends(queue.next(at(0)))
    queue.crashed(at(0.1))  # e.g. the database was locked
    assert ticket.attempts == 0 and queue.sending is None
    assert sleeps_until(queue.next(at(0.1))) == at(2.1)
    assert sends(queue.next(at(2.1))) is ticket


def test_a_restart_restores_queued_jobs_to_send_at_once_and_given_up_ones_for_reprint() -> None:
    queue: PrintQueue[PrintJob] = PrintQueue("kiosk1", TIMING)
    waiting, given_up = job("w", 0), PrintJob("g", at(0), state=JobState.EXPIRED, attempts=3)
    queue.restore(waiting)
    queue.restore(given_up)
    with pytest.raises(ValueError):
        queue.restore(PrintJob("d", at(0), state=JobState.DONE))
    assert sends(queue.next(at(10))) is waiting and queue.failed == [given_up]


def test_given_up_jobs_are_listed_for_their_day_and_printed_ones_forgotten_after_an_hour() -> None:
    queue: PrintQueue[PrintJob] = PrintQueue("kiosk1", TIMING)
    yesterday = PrintJob("y", at(-86400), state=JobState.EXPIRED)
    today = PrintJob("t", at(0), state=JobState.EXPIRED)
    queue.restore(yesterday)
    queue.restore(today)
    queue.prune(NINE.date())
    assert queue.failed == [today]
    printed = PrintJob("p", at(0), state=JobState.DONE)
    assert not forgettable(printed, at(3600), NINE.date()) and forgettable(printed, at(3601), NINE.date())
    assert forgettable(yesterday, at(0), NINE.date()) and not forgettable(today, at(0), NINE.date())
    assert not forgettable(job("q", -86400), at(0), NINE.date())  # still queued: never


# ------------------------------------------------------------ agent printers
def test_an_agent_printer_is_offline_until_its_agent_connects_and_catches_up_at_once() -> None:
    queue: PrintQueue[PrintJob] = PrintQueue("usb1", TIMING)
    assert isinstance(queue.next(at(0)).action, Probe)
    step = queue.status(agent_health(False, queue.health), at(0))
    assert step.health is not None and step.health.state is OFFLINE
    early = job("early", 1)
    queue.add(early, at(1))
    for t in (1, 1, 1.5, 2.5, 4.5):  # no agent: at once, then 0.5, 1, 2 and 4 s later
        assert sends(queue.next(at(t))) is early
        queue.attempted(early, NO_AGENT, at(t))
    assert early.last_error == "no printer agent is connected" and queue.settled(early)
    assert sleeps_until(queue.next(at(4.5))) == at(8.5)

    # The agent connects and reports: the pause ends now.
    report = queue.report(OK, at(5.5))
    assert report.wake and report.health is not None and (report.health.previous, report.health.state) == (OFFLINE, OK)
    assert early in report.touched
    assert sends(queue.next(at(5.5))) is early
    queue.attempted(early, agent_outcome(True, OK, ""), at(6))
    assert early.state is JobState.DONE and early.attempts == 6

    # A poll with the agent there keeps what it reported; "offline" turns "unknown" until it reports.
    assert agent_health(True, OK) is OK and agent_health(True, OFFLINE) is UNKNOWN
    assert agent_health(False, OK) is OFFLINE


def test_an_agents_answers_become_outcomes() -> None:
    assert agent_outcome(True, NEAR_END, "") == Printed(NEAR_END)
    assert agent_outcome(False, PAPER_END, "") == Failed(PAPER_END, "the agent reports paper_end")
    assert agent_outcome(False, OFFLINE, "cannot open /dev/usb/lp0") == Failed(OFFLINE, "cannot open /dev/usb/lp0")
    assert AGENT_SILENT.state is OFFLINE and NO_AGENT.state is OFFLINE
    queue: PrintQueue[PrintJob] = PrintQueue("usb1", TIMING)
    assert not queue.report(OK, at(0)).wake  # idle: nothing to hurry
    assert queue.report(OK, at(1)).health is None
