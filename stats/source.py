"""Reading the event log and the names for the figures (connectorx into Polars).

The queries are plain SQL that SQLite and PostgreSQL both run; dates are
``datetime.date`` values written as ISO strings, never user text.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path

import polars as pl

from .figures import EVENT_SCHEMA, EVENT_TYPES, Dimensions, dimensions_of
from .layout import OfficeLayout


def connectorx_uri(db_url: str) -> str:
    """``sqlite+aiosqlite:////abs/path`` → ``sqlite:///abs/path``;
    ``postgresql+asyncpg://…`` → ``postgresql://…``. Raises ``ValueError`` for
    another database, or a SQLite file that does not exist."""
    scheme, sep, rest = db_url.partition("://")
    if not sep:
        raise ValueError(f"not a database URL: {db_url[:40]!r}")
    base = scheme.split("+", 1)[0]
    if base == "sqlite":
        path = rest[1:] if rest.startswith("/") else rest
        if not Path(path).is_file():
            raise ValueError(f"no database at {path}")
        return f"sqlite://{path}"
    if base in ("postgresql", "postgres"):
        return f"postgresql://{rest}"
    raise ValueError(f"statistics read SQLite or PostgreSQL, not {base}")


#: Event types the figures read, as the small codes the query returns.
TYPE_CODES = {t: i for i, t in enumerate(EVENT_TYPES, start=1)}


def events_query(first: date, last: date, only: Sequence[date] | None = None) -> str:
    """The SQL for :meth:`Reader.events` (also run by the server through its own engine):
    the events of business days ``first``..``last``, or only of the days ``only``.

    Plain SQL that SQLite and PostgreSQL both run. To keep the read lean:
    the type comes as a small code (:data:`TYPE_CODES`); recalls and holds,
    which no figure needs, are left out; the ticket id ``YYYYMMDD-NNNNN``
    (``server.core.floor``) comes as the integer ``YYYYMMDDNNNNN``; and what
    else the figures need is one text column ``detail``: the queue of an
    issue, ``"<counter> <staff>"`` of a call (ids never hold a space: counter
    ids are ``[a-z0-9_]``, staff ids hex), the JSON of a transfer or of a
    finish that sends the ticket on (written by orjson, so without spaces:
    ``"next_queue":"kofu"``), else an empty string. Strings cost the most to
    carry, and connectorx infers SQLite column types from the first values it
    meets, hence one column and no NULLs.
    """
    code = " ".join(f"WHEN '{t}' THEN {c}" for t, c in TYPE_CODES.items())
    return (
        f"SELECT seq, at_us, CASE type {code} END AS code, "
        "CAST(REPLACE(ticket, '-', '') AS BIGINT) AS ticket, "
        "CASE WHEN type = 'ticket.issued' THEN COALESCE(queue, '') "
        "WHEN type = 'ticket.called' THEN COALESCE(counter, '') || ' ' || COALESCE(staff, '') "
        "WHEN type = 'ticket.transferred' OR (type = 'ticket.finished' AND data LIKE '%\"next_queue\":\"%') "
        "THEN data ELSE '' END AS detail "
        f"FROM events WHERE {_days(first, last, only)} AND type IN ({', '.join(repr(t) for t in TYPE_CODES)})"
    )


def _days(first: date, last: date, only: Sequence[date] | None) -> str:
    if only is not None:
        return f"business_day IN ({', '.join(repr(d.isoformat()) for d in only) or 'NULL'})"
    return f"business_day >= '{first.isoformat()}' AND business_day <= '{last.isoformat()}'"


def marks_query(first: date, last: date) -> str:
    """The SQL for :meth:`Reader.marks`: per business day ``first``..``last``
    that has events, its first and last ``seq``. It steps from day to day on
    the ``(business_day, seq)`` index (a handful of lookups per day, never a
    scan of the log), in SQL that SQLite and PostgreSQL both run."""
    a, b = first.isoformat(), last.isoformat()
    return (
        "WITH RECURSIVE d(day) AS ("
        f"SELECT MIN(business_day) FROM events WHERE business_day >= '{a}' AND business_day <= '{b}' "
        "UNION ALL SELECT (SELECT MIN(business_day) FROM events "
        f"WHERE business_day > d.day AND business_day <= '{b}') FROM d WHERE d.day IS NOT NULL) "
        "SELECT day, (SELECT MIN(seq) FROM events WHERE business_day = d.day) AS lo, "
        "(SELECT MAX(seq) FROM events WHERE business_day = d.day) AS hi FROM d WHERE day IS NOT NULL"
    )


def event_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows of :func:`events_query` → the frame :func:`~stats.figures.stages` reads."""
    if frame.height == 0:
        return pl.DataFrame(schema=EVENT_SCHEMA)
    code, detail = pl.col("code").cast(pl.Int8), pl.col("detail").cast(pl.String)

    def on(type_: str, value: pl.Expr) -> pl.Expr:
        return pl.when(code == TYPE_CODES[type_]).then(value).replace("", None)

    call = detail.str.split_exact(" ", 1)
    return frame.select(
        pl.col("seq").cast(pl.Int64), pl.col("at_us").cast(pl.Int64),
        code.replace_strict({c: t for t, c in TYPE_CODES.items()}, return_dtype=EVENT_SCHEMA["type"]).alias("type"),
        pl.col("ticket").cast(pl.Int64),
        on("ticket.issued", detail).alias("queue"),
        on("ticket.called", call.struct.field("field_0")).alias("counter"),
        on("ticket.called", call.struct.field("field_1")).alias("staff"),
        on("ticket.transferred", detail).str.json_path_match("$.to_queue").alias("to_queue"),
        on("ticket.finished", detail).str.json_path_match("$.next_queue").alias("next_queue"),
    )


class Reader:
    """Reads the event log and the clerks' names with connectorx, for
    :func:`stats.report.export` (``madoguchi stats``, the nightly export, the bench).

    ``in_server`` says whether the caller runs inside the queue server; there
    this raises ``RuntimeError``: connectorx carries its own SQLite library,
    and two SQLite libraries in one process break each other's file locks
    (sqlite.org/howtocorrupt.html 2.2.1). The server runs exports in a child
    process and reads today's events through its own engine
    (:func:`events_query`, :func:`event_frame`). Raises ``ValueError`` as
    :func:`connectorx_uri`.
    """

    def __init__(self, db_url: str, *, in_server: bool) -> None:
        if in_server:
            raise RuntimeError("connectorx must not read the database inside the queue server; run a child process")
        self.uri = connectorx_uri(db_url)

    def events(self, first: date, last: date, only: Sequence[date] | None = None) -> pl.DataFrame:
        """Ticket events of business days ``first``..``last`` (inclusive), or
        of the days ``only``, as a frame with :data:`~stats.figures.EVENT_SCHEMA`."""
        return event_frame(pl.read_database_uri(events_query(first, last, only), self.uri))

    def marks(self, first: date, last: date) -> dict[date, tuple[int, int]]:
        """Business day → (first seq, last seq) of each day ``first``..``last``
        with events. The log is append-only and ``seq`` grows with every
        event, so a day whose marks are unchanged holds the same events."""
        rows = pl.read_database_uri(marks_query(first, last), self.uri)
        return {date.fromisoformat(d): (int(lo), int(hi))
                for d, lo, hi in rows.iter_rows() if d is not None and lo is not None and hi is not None}

    def span(self) -> tuple[date, date] | None:
        """The first and last business day in the log (``None``: the log is empty);
        see :mod:`stats.bounds`."""
        from .bounds import LOG_SPAN_QUERY, log_span

        rows = pl.read_database_uri(LOG_SPAN_QUERY, self.uri)
        return log_span(rows.row(0) if rows.height else None)

    def staff_names(self) -> dict[str, str]:
        """Clerks' display names by staff id (the ``staff`` table)."""
        staff = pl.read_database_uri("SELECT id, display_name FROM staff", self.uri)
        if not staff.height:
            return {}
        return dict(zip(staff["id"].to_list(), staff["display_name"].to_list(), strict=True))

    def dimensions(self, layout: OfficeLayout) -> Dimensions:
        """Names for the rows: sections and procedures from the office file,
        counters' numbers, clerks' display names from the ``staff`` table."""
        return dimensions_of(layout, self.staff_names())
