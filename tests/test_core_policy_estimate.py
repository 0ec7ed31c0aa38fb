"""Who gets called next (fairness policies, priority) and how long people will wait."""

from __future__ import annotations

import math
from dataclasses import replace

from server.core import commands as c
from server.core.estimate import Estimate, estimates, naive_wait, outlook, ticket_estimate, wait_for
from server.core.layout import CallPolicy

from .floorkit import Day


def known(estimate: Estimate | None) -> Estimate:
    """The estimate of a waiting ticket (never ``None`` for one)."""
    assert estimate is not None
    return estimate


def _day(policy: CallPolicy, n: int = 3, boost: float = 600.0) -> Day:
    day = Day()
    day.floor.layout = replace(day.floor.layout, policy=policy, interleave_n=n, priority_boost_s=boost)
    return day


def _drain(day: Day, counter: str, count: int) -> list[str]:
    out = []
    for _ in range(count):
        tid = day.do(c.CallNext(counter)).ticket
        assert tid is not None
        out.append(day.ticket(tid).queue)
        day.do(c.Finish(counter, handover=False))
    return out


def _arrivals(day: Day) -> None:
    # Counter 4 serves shomei first, then koseki. Koseki visitors came first.
    for _ in range(3):
        day.issue("koseki")
        day.tick(60)
    for _ in range(6):
        day.issue("shomei")
        day.tick(60)


def test_strict_priority_empties_the_first_queue_first() -> None:
    day = _day(CallPolicy.STRICT)
    day.open("4")
    _arrivals(day)
    assert _drain(day, "4", 9) == ["shomei"] * 6 + ["koseki"] * 3


def test_oldest_first_serves_in_arrival_order_across_queues() -> None:
    day = _day(CallPolicy.OLDEST)
    day.open("4")
    _arrivals(day)
    assert _drain(day, "4", 9) == ["koseki"] * 3 + ["shomei"] * 6


def test_n_then_1_interleaving_never_starves_the_second_queue() -> None:
    day = _day(CallPolicy.INTERLEAVE, n=2)
    day.open("4")
    _arrivals(day)
    assert _drain(day, "4", 9) == ["shomei", "shomei", "koseki"] * 3


def test_a_priority_ticket_goes_ahead_of_recent_arrivals_but_not_of_long_waits() -> None:
    day = _day(CallPolicy.OLDEST, boost=600)
    day.open("4")
    early = day.issue("shomei")              # waited longer than the boost
    day.tick(900)
    recent = [day.issue("shomei") for _ in range(3)]
    day.tick(60)
    assisted = day.issue("shomei", priority=True)
    order = []
    for _ in range(5):
        order.append(day.do(c.CallNext("4")).ticket)
        day.do(c.Finish("4", handover=False))
    assert order == [early, assisted, *recent]


def test_priority_tickets_cannot_starve_others_forever() -> None:
    day = _day(CallPolicy.OLDEST, boost=600)
    day.open("4")
    plain = day.issue("shomei")
    served = []
    # A steady stream of priority tickets, one a minute, served one a minute.
    for _ in range(30):
        day.issue("shomei", priority=True)
        day.tick(60)
        served.append(day.do(c.CallNext("4")).ticket)
        day.do(c.Finish("4", handover=False))
        if plain in served:
            break
    assert plain in served
    assert len(served) <= 12     # within about boost / interval calls


def test_estimates_grow_with_people_ahead_and_shrink_with_open_counters() -> None:
    day = Day()
    day.open("4")
    tids = [day.issue("shomei") for _ in range(6)]
    # One counter busy with the first ticket: nobody idle.
    day.do(c.CallNext("4"))
    est = estimates(day.floor, "shomei", day.now)
    waits = [est[t].wait_s for t in tids[1:]]
    assert waits == sorted(waits) and waits[0] > 0
    assert [est[t].ahead for t in tids[1:]] == [0, 1, 2, 3, 4]
    for e in est.values():
        assert e.low_s <= e.wait_s <= e.high_s
    one_counter = est[tids[-1]].wait_s
    day.open("5", "6")
    more = known(ticket_estimate(day.floor, tids[-1], day.now))
    assert more.wait_s < one_counter


def test_an_idle_counter_means_no_wait_and_no_counter_means_unknown() -> None:
    day = Day()
    day.open("4")
    day.do(c.PauseCounter("4"))                 # staffed (tickets issue) but not calling
    tid = day.issue("shomei")
    assert math.isinf(known(ticket_estimate(day.floor, tid, day.now)).wait_s)
    day.do(c.ResumeCounter("4"))
    assert known(ticket_estimate(day.floor, tid, day.now)).wait_s == 0.0
    assert outlook(day.floor, "shomei", day.now).idle_counters == 1


def test_the_estimate_learns_the_days_real_service_time() -> None:
    day = Day()
    day.open("10")
    for _ in range(12):
        day.issue("idou")
    for _ in range(10):                      # each visit takes 100 s, not the configured 1,200 s
        day.do(c.CallNext("10"))
        day.tick(99)
        day.do(c.Finish("10"))
    view = outlook(day.floor, "idou", day.now)
    assert 95 < 1 / view.rate_per_s < 105
    assert day.floor.counters["10"].service_s == 100


def test_tickets_of_other_queues_the_pool_serves_count_as_ahead() -> None:
    day = Day()
    day.open("10")                          # serves idou, inkan, mynumber
    busy = day.issue("inkan")
    day.do(c.CallNext("10"))                # counter 10 busy
    older = [day.issue("inkan") for _ in range(3)]
    mine = day.issue("idou")
    est = known(ticket_estimate(day.floor, mine, day.now))
    assert est.ahead == 0                   # nobody ahead in its own queue …
    alone = Day()
    alone.open("10")
    alone.issue("inkan")
    alone.do(c.CallNext("10"))
    solo = known(ticket_estimate(alone.floor, alone.issue("idou"), alone.now))
    assert est.wait_s == 4 * solo.wait_s    # … but three older inkan tickets go first
    assert busy and older


def test_wait_for_and_naive() -> None:
    assert wait_for(0, 1, 0.01).wait_s == 0
    assert wait_for(4, 0, 0.01).wait_s == 500
    assert naive_wait(4, 300, 2) == 600
    assert math.isinf(naive_wait(4, 300, 0))
