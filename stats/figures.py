"""Waiting-time and service-time figures from the event log (seed 004 8(6)), with Polars.

Definitions (also in the README):

- A **stage** is one stay of a ticket in one queue (手続). It begins when the
  ticket is issued there (``ticket.issued``), transferred into it
  (``ticket.transferred``, ``to_queue``), or sent on to it after a finished
  procedure (``ticket.finished`` with ``next_queue``: the next procedure of the
  visit, or the hand-over queue). A transferred visit is thus counted in each
  queue it passed through.
- **Waiting time** (待ち時間) of a stage: its beginning → its first call
  (``ticket.called``). Recalls (再呼出) do not change it; a stage never called
  has none.
- **Service time** (対応時間): the first ``ticket.started`` of the stage → its
  ``ticket.finished``; only served stages have one. A hold in between counts.
- **Outcome** of a stage: the last of finished (``served``), no-show
  (``no_show``; a later reinstatement undoes it), ``cancelled``, transferred
  away (``transferred``) or left when the business day closed
  (``ticket.closed_at_day_end``: ``unserved``, 本日終了). No-shows,
  cancellations and unserved stages are counted on their own and never enter
  the means: the wait means and percentiles are over stages that were called,
  the service mean over stages served.
- The **hand-over** stage (証明の交付: queues of a hand-over flow) is reported
  on its own: section rows carry ``stage`` ``reception`` (受付) or
  ``handover`` (交付).
- A stage counts in the hour, day and month of its beginning, in Asia/Tokyo
  time. Periods with no stage (a day with no opening) are absent, not zero.
- A stage is credited to the counter (窓口) and clerk (職員) of its last call.
- ``within_target``: the share of served stages whose wait was at most the
  target wait (``[stats] target_wait_s``).
- Percentiles (median, 90th) interpolate linearly between the two nearest
  waits (as Excel's PERCENTILE.INC).

Frames are in seconds; the exports turn them into minutes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import polars as pl

from . import GRANULARITIES
from .layout import OfficeLayout

#: Columns of the event frame :func:`stages` reads (``at_us``: UTC epoch µs).
#: The event types the figures read (recalls and holds change no figure).
EVENT_TYPES = ("ticket.issued", "ticket.called", "ticket.started", "ticket.finished", "ticket.no_show",
               "ticket.cancelled", "ticket.transferred", "ticket.reinstated", "ticket.closed_at_day_end")
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "seq": pl.Int64(), "at_us": pl.Int64(), "type": pl.Enum(EVENT_TYPES), "ticket": pl.Int64(), "queue": pl.String(),
    "counter": pl.String(), "staff": pl.String(), "to_queue": pl.String(), "next_queue": pl.String(),
}

_TERMINAL = ("ticket.finished", "ticket.no_show", "ticket.cancelled", "ticket.transferred", "ticket.reinstated",
             "ticket.closed_at_day_end")
_OUTCOME = {"ticket.finished": "served", "ticket.no_show": "no_show", "ticket.cancelled": "cancelled",
            "ticket.transferred": "transferred", "ticket.closed_at_day_end": "unserved"}


@dataclass(frozen=True)
class Dimensions:
    """What the rows are named by: each queue's section, name and whether it
    is a hand-over queue; section names; clerks' display names by staff id."""

    queue_section: Mapping[str, str]
    queue_name: Mapping[str, str]
    handover_queues: frozenset[str]
    section_name: Mapping[str, str]
    staff_name: Mapping[str, str]
    counter_number: Mapping[str, int]

    def grouping(self) -> dict[str, list[str]]:
        """What :func:`measures` depends on besides the stages (queue → section,
        hand-over queues), as plain sorted data for a cache key."""
        return {"queue_section": sorted(f"{q}={s}" for q, s in self.queue_section.items()),
                "handover": sorted(self.handover_queues)}


def dimensions_of(layout: OfficeLayout, staff_names: Mapping[str, str]) -> Dimensions:
    """:class:`Dimensions` from an office layout and the clerks' display names by staff id."""
    return Dimensions(
        queue_section={q.id: q.section for q in layout.queues.values()},
        queue_name={q.id: q.name.ja for q in layout.queues.values()},
        handover_queues=frozenset(q.id for q in layout.queues.values() if layout.flows[q.flow].handover),
        section_name={s.id: s.name.ja for s in layout.sections.values()},
        staff_name=dict(staff_names),
        counter_number={c.id: c.number for c in layout.counters.values()},
    )


#: The Polars engine the plans of :func:`stages` and :func:`figures` run on
#: (each builds one lazy plan). Left to itself ("auto"), Polars ran
#: them on its streaming engine: twice the time for a month of a large ward
#: (bench/stats_year.py), and float sums in a varying order, so two runs of
#: one export could differ in the last digit.
ENGINE: Final = "in-memory"


def stages(events: pl.DataFrame) -> pl.DataFrame:
    """One row per stage from ticket events (any order; :data:`EVENT_SCHEMA`).

    Columns: ``ticket``, ``stage_no``, ``queue``, ``begin`` (``issued``,
    ``transfer``, ``next``), ``start_us``, ``wait_s``, ``service_s``,
    ``outcome`` (``served``, ``no_show``, ``cancelled``, ``transferred``,
    ``unserved`` or null while unresolved), ``counter``, ``staff``.
    """
    e = events.lazy().filter(pl.col("type").is_in(EVENT_TYPES)).sort("ticket", "seq")
    opens_next = (((pl.col("type") == "ticket.transferred") & pl.col("to_queue").is_not_null())
                  | ((pl.col("type") == "ticket.finished") & pl.col("next_queue").is_not_null()))
    # stage_no: 1 + the stages this ticket opened before this event. Rows are
    # sorted by ticket, so a running total minus its value where the ticket's
    # rows begin does it without grouping.
    e = e.with_columns(
        opens_next.alias("opens_next"), (pl.col("ticket") != pl.col("ticket").shift(1)).fill_null(True).alias("first")
    )
    opened_before = pl.col("opens_next").cast(pl.Int32).cum_sum() - pl.col("opens_next").cast(pl.Int32)
    e = e.with_columns(opened_before.alias("before")).with_columns(
        (pl.col("before") - pl.when(pl.col("first")).then(pl.col("before")).forward_fill() + 1).alias("stage_no")
    )
    keys = ["ticket", "stage_no"]
    begins = pl.concat(
        [
            e.filter(pl.col("type") == "ticket.issued").select(
                *keys, "queue", pl.lit("issued").alias("begin"), pl.col("at_us").alias("start_us")
            ),
            e.filter(pl.col("opens_next")).select(
                "ticket",
                (pl.col("stage_no") + 1).alias("stage_no"),
                pl.when(pl.col("type") == "ticket.transferred")
                .then(pl.col("to_queue"))
                .otherwise(pl.col("next_queue"))
                .alias("queue"),
                pl.when(pl.col("type") == "ticket.transferred")
                .then(pl.lit("transfer"))
                .otherwise(pl.lit("next"))
                .alias("begin"),
                pl.col("at_us").alias("start_us"),
            ),
        ]
    )
    # Within a group, rows keep the frame's order (by seq): first() and last() are in time order.
    calls = (
        e.filter(pl.col("type") == "ticket.called")
        .group_by(keys)
        .agg(pl.col("at_us").first().alias("first_call_us"), pl.col("counter").last(), pl.col("staff").last())
    )
    starts = (
        e.filter(pl.col("type") == "ticket.started").group_by(keys).agg(pl.col("at_us").first().alias("first_start_us"))
    )
    ends = (
        e.filter(pl.col("type").is_in(_TERMINAL))
        .group_by(keys)
        .agg(pl.col("type").last().alias("last_terminal"), pl.col("at_us").last().alias("end_us"))
    )
    out = begins.join(calls, on=keys, how="left").join(starts, on=keys, how="left").join(ends, on=keys, how="left")
    served = pl.col("last_terminal") == "ticket.finished"
    plan = out.select(
        "ticket",
        "stage_no",
        "queue",
        "begin",
        "start_us",
        ((pl.col("first_call_us") - pl.col("start_us")) / 1e6).alias("wait_s"),
        pl.when(served).then((pl.col("end_us") - pl.col("first_start_us")) / 1e6).alias("service_s"),
        pl.col("last_terminal").replace_strict(_OUTCOME, default=None, return_dtype=pl.String).alias("outcome"),
        "counter",
        "staff",
    )
    return plan.collect(engine=ENGINE)


#: Per granularity: the local (Asia/Tokyo) time truncation and the label's format.
_PERIODS = {"hour": ("1h", "%Y-%m-%d %H:00"), "day": ("1d", "%Y-%m-%d"), "month": ("1mo", "%Y-%m")}


def _period(by: str) -> tuple[pl.Expr, str]:
    """The period of a stage's beginning as a naive local datetime (grouping
    on it is cheaper than on text), and the format of its label."""
    if by not in _PERIODS:
        raise ValueError(f"by must be one of {', '.join(GRANULARITIES)}, not {by!r}")
    every, label = _PERIODS[by]
    local = (
        pl.from_epoch(pl.col("start_us"), time_unit="us")
        .dt.replace_time_zone("UTC")
        .dt.convert_time_zone("Asia/Tokyo")
        .dt.replace_time_zone(None)
    )
    return local.dt.truncate(every).alias("period"), label


def _measures(target_s: float) -> list[pl.Expr]:
    served = pl.col("outcome") == "served"
    wait = pl.col("wait_s").drop_nulls()
    return [
        (pl.col("begin") == "issued").sum().alias("issued"),
        pl.len().alias("arrivals"),
        served.sum().alias("served"),
        (pl.col("outcome") == "no_show").sum().alias("no_show"),
        (pl.col("outcome") == "cancelled").sum().alias("cancelled"),
        (pl.col("outcome") == "transferred").sum().alias("transferred"),
        (pl.col("outcome") == "unserved").sum().alias("unserved"),
        wait.mean().alias("wait_mean_s"),
        wait.min().alias("wait_min_s"),
        wait.max().alias("wait_max_s"),
        wait.quantile(0.5, interpolation="linear").alias("wait_median_s"),
        wait.quantile(0.9, interpolation="linear").alias("wait_p90_s"),
        pl.col("service_s").drop_nulls().mean().alias("service_mean_s"),
        pl.when(served.sum() > 0)
        .then((served & (pl.col("wait_s") <= target_s)).sum() / served.sum())
        .alias("within_target"),
    ]


#: The row kinds, in the order the exports list them.
KINDS = ("section", "procedure", "counter", "clerk")


def figures(
    st: pl.DataFrame,
    dims: Dimensions,
    by: str,
    target_s: float,
    sections: Iterable[str] | None = None,
    kinds: Iterable[str] = KINDS,
) -> pl.DataFrame:
    """The figures per ``by`` period for every section (split into reception
    and hand-over), procedure, counter and clerk, from :func:`stages`' rows.

    Columns: ``period``, ``kind`` (:data:`KINDS`), ``key`` (id), ``name``,
    ``stage`` (``reception``/``handover``), then ``issued``, ``arrivals``
    (stages begun: issued, transferred in, sent on), ``served``, ``no_show``,
    ``cancelled``, ``transferred``, ``unserved`` (left at the day's close), ``wait_mean_s``, ``wait_min_s``,
    ``wait_max_s``, ``wait_median_s``, ``wait_p90_s``, ``service_mean_s``,
    ``within_target`` (0–1). ``issued`` is null on counter and clerk rows.
    ``sections`` keeps only stages in those sections' queues; ``kinds`` the
    row kinds to give. Raises ``ValueError`` for an unknown ``by``.
    Same as :func:`named` of :func:`measures`.
    """
    return named(measures(st, dims, by, target_s, sections, kinds), dims)


#: Columns of :func:`measures`, in order.
COUNTS = ("issued", "arrivals", "served", "no_show", "cancelled", "transferred", "unserved")
MEASURES = ("wait_mean_s", "wait_min_s", "wait_max_s", "wait_median_s", "wait_p90_s", "service_mean_s", "within_target")
MEASURE_COLUMNS = ("period", "kind", "key", "stage", *COUNTS, *MEASURES)


def measures(
    st: pl.DataFrame,
    dims: Dimensions,
    by: str,
    target_s: float,
    sections: Iterable[str] | None = None,
    kinds: Iterable[str] = KINDS,
) -> pl.DataFrame:
    """The rows of :func:`figures` without names and in no set order
    (:data:`MEASURE_COLUMNS`). Of ``dims`` only :meth:`Dimensions.grouping`
    counts here, so rows of separate days or months can be kept and named
    later. Raises ``ValueError`` for an unknown ``by``."""
    period, label = _period(by)
    qs = pl.LazyFrame(
        {
            "queue": list(dims.queue_section),
            "section": [dims.queue_section[q] for q in dims.queue_section],
            "stage": ["handover" if q in dims.handover_queues else "reception" for q in dims.queue_section],
        }
    )
    lazy = st.lazy().join(qs, on="queue", how="left").with_columns(period)
    if sections is not None:
        lazy = lazy.filter(pl.col("section").is_in(list(sections)))
    m = _measures(target_s)
    wanted = set(kinds)
    no_stage = (pl.lit(None, pl.String).alias("stage"), pl.lit(None, pl.UInt32).alias("issued"))
    groupings = {
        "section": lambda: (
            lazy.group_by("period", "section", "stage")
            .agg(m)
            .with_columns(pl.lit("section").alias("kind"), pl.col("section").alias("key"))
        ),
        "procedure": lambda: (
            lazy.group_by("period", "queue", "stage")
            .agg(m)
            .with_columns(pl.lit("procedure").alias("kind"), pl.col("queue").alias("key"))
        ),
        "counter": lambda: (
            lazy.filter(pl.col("counter").is_not_null())
            .group_by("period", "counter")
            .agg(m)
            .with_columns(pl.lit("counter").alias("kind"), pl.col("counter").alias("key"), *no_stage)
        ),
        "clerk": lambda: (
            lazy.filter(pl.col("staff").is_not_null())
            .group_by("period", "staff")
            .agg(m)
            .with_columns(pl.lit("clerk").alias("kind"), pl.col("staff").alias("key"), *no_stage)
        ),
    }
    parts = [groupings[k]() for k in KINDS if k in wanted]
    plan = pl.concat(
        [
            p.select(
                pl.col("period").dt.strftime(label),
                *(pl.col(c).cast(pl.String) for c in ("kind", "key", "stage")),
                *(pl.col(c).cast(pl.Int64) for c in COUNTS),
                *(pl.col(c).cast(pl.Float64) for c in MEASURES),
            )
            for p in parts
        ]
    )
    return plan.collect(engine=ENGINE)


def named(rows: pl.DataFrame, dims: Dimensions) -> pl.DataFrame:
    """:func:`measures`' rows (of any periods, in any order) with names, in
    the order the exports list them: by period, kind (:data:`KINDS`), then
    sections and procedures as in the office file, counters by number,
    clerks by name."""
    named_rows = (
        [("section", k, v) for k, v in dims.section_name.items()]
        + [("procedure", k, v) for k, v in dims.queue_name.items()]
        + [("counter", k, f"{n}番窓口") for k, n in sorted(dims.counter_number.items(), key=lambda kv: kv[1])]
        + [("clerk", k, v) for k, v in sorted(dims.staff_name.items(), key=lambda kv: (kv[1], kv[0]))]
    )
    lookup = pl.LazyFrame(
        {
            "kind": [n[0] for n in named_rows],
            "key": [n[1] for n in named_rows],
            "name": [n[2] for n in named_rows],
            "order": list(range(len(named_rows))),
        },
        schema={"kind": pl.String, "key": pl.String, "name": pl.String, "order": pl.Int64},
    )
    out = (
        rows.lazy().join(lookup, on=["kind", "key"], how="left").with_columns(pl.coalesce("name", "key").alias("name"))
    )
    kind_order = pl.col("kind").replace_strict({k: i for i, k in enumerate(KINDS)}, return_dtype=pl.Int8)
    plan = out.sort("period", kind_order, "order", "key", "stage", nulls_last=True).select(
        "period", "kind", "key", "name", "stage", *COUNTS, *MEASURES
    )
    return plan.collect(engine=ENGINE)
