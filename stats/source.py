"""Reading the event log and the names for the figures (connectorx into Polars).

The queries are plain SQL that SQLite and PostgreSQL both run; dates are
``datetime.date`` values written as ISO strings, never user text.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import polars as pl

from server.core.layout import Layout

from .figures import EVENT_SCHEMA, EVENT_TYPES, Dimensions, dimensions_of


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


def events_query(first: date, last: date) -> str:
    """The SQL for :func:`load_events` (also run by the server through its own engine).

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
        f"FROM events WHERE business_day >= '{first.isoformat()}' AND business_day <= '{last.isoformat()}' "
        f"AND type IN ({', '.join(repr(t) for t in TYPE_CODES)})"
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


def load_events(db_url: str, first: date, last: date) -> pl.DataFrame:
    """Ticket events of business days ``first``..``last`` (inclusive) as a
    frame with :data:`~stats.figures.EVENT_SCHEMA`, read with connectorx.

    Never call this inside the queue server: connectorx carries its own SQLite
    library, and two SQLite libraries in one process break each other's file
    locks (sqlite.org/howtocorrupt.html 2.2.1). The server runs exports in a
    child process and reads today's events through its own engine.
    """
    _not_in_server()
    return event_frame(pl.read_database_uri(events_query(first, last), connectorx_uri(db_url)))


def _not_in_server() -> None:
    app = sys.modules.get("server.app")
    if app is not None and getattr(app, "SERVING", False):
        raise RuntimeError("connectorx must not read the database inside the queue server; run a child process")


def dimensions(layout: Layout, db_url: str) -> Dimensions:
    """Names for the rows: sections and procedures from the office file,
    counters' numbers, clerks' display names from the ``staff`` table."""
    _not_in_server()
    staff = pl.read_database_uri("SELECT id, display_name FROM staff", connectorx_uri(db_url))
    names = dict(zip(staff["id"].to_list(), staff["display_name"].to_list())) if staff.height else {}
    return dimensions_of(layout, names)
