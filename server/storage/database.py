"""The database: engine set-up and the event log's reads and writes.

``open_database(url)`` brings the schema to this code's revision
(:mod:`server.storage.migrate`) and makes the async engine: for SQLite it
turns on WAL, a busy timeout and the chosen ``synchronous`` level on every
connection. The
event log is written only by :class:`server.processor.Processor` (one write
path, STYLE.md 9).
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import orjson
from sqlalchemy import event as sa_event
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..core.events import Event
from . import schema
from .migrate import prepare
from .turns import WriteTurns

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event with its global sequence number and business day."""

    seq: int
    day: date
    event: Event


def to_us(moment: datetime) -> int:
    """Aware datetime → UTC epoch microseconds."""
    return round(moment.timestamp() * 1_000_000)


def from_us(us: int) -> datetime:
    """UTC epoch microseconds → aware UTC datetime."""
    return datetime.fromtimestamp(us / 1_000_000, tz=UTC)


#: SQLite's messages (lower case) → the cause for people; the first that matches wins.
_SQLITE_CAUSES = (
    ("readonly", "the database is read-only (a read-only file system, or its permissions)"),
    ("read-only", "the database is read-only (a read-only file system, or its permissions)"),
    ("disk is full", "the disk is full"),
    ("disk i/o error", "disk I/O error (the disk may be full or failing)"),
    ("unable to open database file", "cannot open or create the database file (a read-only or full disk, "
                                     "permissions, or a file where the folder should be)"),
    ("file is not a database", "the file is not a SQLite database"),
    ("database is locked", "the database is locked by another process"),
    ("unique constraint failed: events.seq", "another process has written to the event log "
                                             "(two servers on one database?)"),
)


def storage_cause(exc: BaseException) -> str | None:
    """What keeps the database from being written, for people and without paths
    (read-only, full, locked, another writer), from ``exc`` or the DB-API error
    SQLAlchemy wraps; ``None`` when ``exc`` is none of these."""
    from .lock import STORAGE_ERRNOS, os_cause

    inner = getattr(exc, "orig", None) or exc
    if isinstance(inner, OSError):
        return os_cause(inner) if inner.errno in STORAGE_ERRNOS else None
    text = str(inner).lower()
    for needle, cause in _SQLITE_CAUSES:
        if needle in text:
            return cause
    return None


def probe_sqlite(path: str, synchronous: str = "FULL") -> None:
    """Open the SQLite file as the server will (WAL, ``synchronous``) and take
    the write lock once, so that a read-only or full disk is found before
    start-up rather than in the middle of it. Raises ``sqlite3.Error``
    (:func:`storage_cause` says what it means)."""
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={synchronous}")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def sqlite_path(url: str) -> str | None:
    """The file path of a SQLite URL, or ``None`` for another database."""
    if not url.startswith("sqlite"):
        return None
    return url.split(":///", 1)[1] if ":///" in url else None


async def open_database(url: str, *, synchronous: str = "FULL", upgrade: bool = False,
                        create: bool = True) -> AsyncEngine:
    """Make the schema ready and create the engine.

    ``url`` is a SQLAlchemy async URL (``sqlite+aiosqlite:///path`` or
    ``postgresql+asyncpg://…``). ``synchronous`` is SQLite's
    ``PRAGMA synchronous`` (``FULL`` survives power loss, ``NORMAL`` survives a
    crash of the process). An empty database is created at the newest schema
    revision (unless ``create`` is false); an older one is upgraded only when
    ``upgrade``. Raises :class:`~server.storage.migrate.SchemaOutOfDate` (the
    message names ``madoguchi db upgrade``) or
    :class:`~server.storage.migrate.SchemaError`, leaving the database as it
    was, and SQLAlchemy's errors when unreachable.
    """
    await prepare(url, upgrade=upgrade, create=create)
    return make_engine(url, synchronous=synchronous)


def make_engine(url: str, *, synchronous: str = "FULL", **pool: Any) -> AsyncEngine:
    """An async engine on a database :func:`open_database` made ready, with the same
    SQLite settings; ``pool``: SQLAlchemy's pool arguments (e.g. ``pool_size``)."""
    is_sqlite = url.startswith("sqlite")
    kwargs: dict[str, Any] = dict(pool)
    if is_sqlite:
        kwargs["connect_args"] = {"timeout": 30}
    engine = create_async_engine(url, **kwargs)
    if is_sqlite:
        @sa_event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()
    return engine


async def write_audit(conn: Any, actor: str, action: str, detail: str, at_us: int | None = None) -> None:
    """Append one row to the ``audit`` table inside the caller's transaction
    (``at_us``: UTC epoch microseconds, default now)."""
    if at_us is None:
        at_us = to_us(datetime.now(UTC))
    await conn.execute(insert(schema.audit), {"at_us": at_us, "actor": actor, "action": action, "detail": detail})


class EventLog:
    """Reads and appends the ``events`` table.

    ``failure`` is why the last append failed (a cause for people, e.g. "the
    disk is full"), ``None`` once an append succeeds again: ``/api/health``
    reports it (issue 13, points 9 and 12).
    """

    def __init__(self, engine: AsyncEngine, turns: WriteTurns | None = None) -> None:
        self.engine = engine
        self.failure: str | None = None
        #: Write turns shared with other writers of the database: appends go first (:mod:`.turns`).
        self.turns = turns or WriteTurns()

    async def last_seq(self) -> int:
        """The highest sequence number stored (0 when empty)."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(select(func.max(schema.events.c.seq)))
        return int(value or 0)

    async def newest(self) -> tuple[date, datetime] | None:
        """The business day of the newest event (highest ``seq``) and the latest
        moment stored for that day (aware UTC); ``None`` for an empty log. The
        processor never serves an earlier day nor decides at an earlier moment."""
        async with self.engine.connect() as conn:
            day = await conn.scalar(select(schema.events.c.business_day).order_by(schema.events.c.seq.desc()).limit(1))
            if day is None:
                return None
            at_us = await conn.scalar(
                select(func.max(schema.events.c.at_us)).where(schema.events.c.business_day == day)
            )
        return date.fromisoformat(day), from_us(int(at_us))

    async def append(self, records: list[StoredEvent]) -> None:
        """Store ``records`` in one transaction; returns once committed."""
        rows = [
            {
                "seq": r.seq, "business_day": r.day.isoformat(), "at_us": to_us(r.event.at),
                "type": r.event.type, "ticket": r.event.data.get("ticket"), "queue": r.event.data.get("queue"),
                "counter": r.event.data.get("counter"), "staff": r.event.data.get("staff"),
                "data": orjson.dumps(r.event.data).decode(),
            }
            for r in records
        ]
        try:
            async with self.turns.turn(urgent=True), self.engine.begin() as conn:
                await conn.execute(insert(schema.events), rows)
        except Exception as exc:
            self.failure = storage_cause(exc) or "the event log could not be written (see the server's log)"
            raise
        self.failure = None

    async def day(self, day: date) -> list[StoredEvent]:
        """Every event of business day ``day``, in order."""
        query = (
            select(schema.events.c.seq, schema.events.c.at_us, schema.events.c.type, schema.events.c.data)
            .where(schema.events.c.business_day == day.isoformat())
            .order_by(schema.events.c.seq)
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [StoredEvent(seq, day, Event(type_, from_us(at_us), orjson.loads(data)))
                for seq, at_us, type_, data in rows]
