"""The back office's feed: which applications a back-office system has not taken
yet, what was delivered to it, what it acknowledged, and re-running a delivery
(issue 14, point 5; seeds 000 8.9, 002 2.1.2(エ)).

A back-office system is a device of kind ``backoffice`` (:mod:`server.auth`)
with a scope: the procedures whose applications it may read
(``backoffice_scopes``). Its feed lists, in one stable order, every application
in its scope whose latest submission it has not acknowledged:

- The order is the feed's **sequence**: the id of the application's latest
  ``submitted`` or ``resubmitted`` history row (an autoincrement, never a
  timestamp). A corrected and resent application (差し戻し → 再提出) gets a higher
  one and is offered again, even when its first answers were acknowledged.
- The **cursor** a page of the feed ends with is that sequence, opaque to the
  system (:func:`cursor_of`, :func:`read_cursor`); it only pages through one
  pull. A pull started without a cursor offers everything not acknowledged, so
  nothing is lost when the system crashes between two pages.
- **Delivered**: the system fetched the application (``backoffice_deliveries``
  keeps the sequence it got). **Acknowledged**: it said it has taken what was
  delivered (the delivered sequence is kept as acknowledged), so it is not offered
  again until it changes. **Redelivery** forgets acknowledgements, so a delivery
  can be re-run. Each of the three is written in the application's history
  (staff see them with every other change), with the system's name.

Storage only (SQLAlchemy Core, portable SQL); moments are UTC epoch microseconds.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Row, and_, case, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.errors import ApiError
from server.storage.turns import WriteTurns

from . import tables as t

#: History actions that put an application (back) on the feed.
FEED_ACTIONS = ("submitted", "resubmitted")
_CURSOR = re.compile(r"^feed:([1-9][0-9]{0,17})$")


def system_actor(device_id: str) -> str:
    """How a back-office system is named as the actor in an application's history."""
    return f"backoffice:{device_id}"


def cursor_of(seq: int) -> str:
    """The opaque cursor of feed sequence ``seq`` (URL-safe, no padding)."""
    return base64.urlsafe_b64encode(f"feed:{seq}".encode()).decode().rstrip("=")


def read_cursor(cursor: str | None) -> int:
    """The feed sequence of ``cursor`` (0 for none: from the start). Raises
    :class:`ApiError` ``bad_cursor`` (422) for anything :func:`cursor_of` did not make."""
    if cursor is None or cursor == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    found = _CURSOR.match(text)
    if found is None or cursor_of(int(found.group(1))) != cursor:   # only the spelling cursor_of makes
        raise ApiError("bad_cursor", "カーソルが正しくありません。前回の応答の cursor をそのまま送ってください。 "
                                     "This cursor is not valid: send the cursor of an earlier answer as it was.",
                       [{"field": "after", "problem": "bad_cursor"}])
    return int(found.group(1))


@dataclass(frozen=True)
class FeedEntry:
    """One application on a system's feed: ``seq`` its feed sequence, ``event``
    ``submitted`` or ``resubmitted``, ``delivered_seq`` what was last delivered
    to this system (``None``: never)."""

    seq: int
    event: str
    application_id: str
    reference: str
    procedure_id: str
    version_id: str
    status: str
    channel: str
    submitted_at_us: int
    updated_at_us: int
    delivered_seq: int | None

    @property
    def state(self) -> str:
        """``new`` (never delivered), ``delivered`` (this submission, not acknowledged)
        or ``changed`` (an earlier submission was delivered; it was resent since)."""
        if self.delivered_seq is None:
            return "new"
        return "delivered" if self.delivered_seq >= self.seq else "changed"


@dataclass(frozen=True)
class Delivery:
    """What one system got of one application: sequences and moments (µs)."""

    delivered_seq: int
    delivered_at_us: int
    acked_seq: int | None
    acked_at_us: int | None

    @property
    def state(self) -> str:
        """``acknowledged`` (what was delivered was acknowledged) or ``delivered``."""
        return "acknowledged" if self.acked_seq is not None and self.acked_seq >= self.delivered_seq else "delivered"


@dataclass(frozen=True)
class FileRow:
    """An attachment as the back office gets it (``sha256`` of its bytes)."""

    id: str
    name: str
    type: str
    size: int
    sha256: str


class Feed:
    """The feed's storage on ``engine`` (the online applications' engine), writing in
    ``turns`` (the store's: :attr:`online_forms.store.FormStore.turns`)."""

    def __init__(self, engine: AsyncEngine, turns: WriteTurns) -> None:
        self.engine = engine
        self.turns = turns

    @contextlib.asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        async with self.turns.turn(), self.engine.begin() as conn:
            yield conn

    # ------------------------------------------------------------------ scope
    async def scope(self, device_id: str) -> list[str]:
        """The procedure ids system ``device_id`` may read."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t.backoffice_scopes.c.procedure_id)
                                       .where(t.backoffice_scopes.c.device_id == device_id)
                                       .order_by(t.backoffice_scopes.c.procedure_id))).all()
        return [r.procedure_id for r in rows]

    async def scopes(self) -> dict[str, list[str]]:
        """Every system's procedure ids, by device id."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t.backoffice_scopes))).all()
        out: dict[str, list[str]] = {}
        for r in rows:
            out.setdefault(r.device_id, []).append(r.procedure_id)
        return out

    async def set_scope(self, device_id: str, procedure_ids: Iterable[str]) -> None:
        """Replace system ``device_id``'s scope (what it acknowledged stays recorded)."""
        async with self._write() as conn:
            await conn.execute(delete(t.backoffice_scopes).where(t.backoffice_scopes.c.device_id == device_id))
            for pid in sorted(set(procedure_ids)):
                await conn.execute(insert(t.backoffice_scopes).values(device_id=device_id, procedure_id=pid))

    async def counts(self) -> dict[str, dict[str, int]]:
        """Per system: applications delivered and acknowledged (their latest delivery)."""
        d = t.backoffice_deliveries
        acked = func.sum(case((d.c.acked_seq >= d.c.delivered_seq, 1), else_=0))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(d.c.device_id, func.count().label("delivered"), acked.label("acked"))
                                       .group_by(d.c.device_id))).all()
        return {r.device_id: {"delivered": int(r.delivered), "acknowledged": int(r.acked or 0)} for r in rows}

    # ------------------------------------------------------------------- feed
    async def entries(self, device_id: str, procedure_ids: list[str], after: int, limit: int) -> list[FeedEntry]:
        """Up to ``limit`` applications of ``procedure_ids`` whose latest submission
        has a sequence above ``after`` and was not acknowledged by this system, in
        sequence order."""
        if not procedure_ids:
            return []
        h, a, d = t.application_history, t.applications, t.backoffice_deliveries
        later = t.application_history.alias("later")
        newest = ~exists().where(and_(later.c.application_id == h.c.application_id,
                                      later.c.action.in_(FEED_ACTIONS), later.c.id > h.c.id))
        query = (select(h.c.id.label("seq"), h.c.action, a.c.id.label("application_id"), a.c.reference,
                        a.c.procedure_id, a.c.version_id, a.c.status, a.c.channel, a.c.submitted_at_us,
                        a.c.updated_at_us, d.c.delivered_seq)
                 .select_from(h.join(a, a.c.id == h.c.application_id)
                              .outerjoin(d, and_(d.c.device_id == device_id, d.c.application_id == a.c.id)))
                 .where(h.c.action.in_(FEED_ACTIONS), h.c.id > after, a.c.procedure_id.in_(procedure_ids), newest,
                        or_(d.c.acked_seq.is_(None), d.c.acked_seq < h.c.id))
                 .order_by(h.c.id).limit(limit))
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [FeedEntry(r.seq, r.action, r.application_id, r.reference, r.procedure_id, r.version_id, r.status,
                          r.channel, r.submitted_at_us, r.updated_at_us, r.delivered_seq) for r in rows]

    async def sequence(self, application_id: str) -> int:
        """The feed sequence of an application now (0 if it was never submitted)."""
        async with self.engine.connect() as conn:
            return await self._sequence(conn, application_id)

    async def _sequence(self, conn: AsyncConnection, application_id: str) -> int:
        value = await conn.scalar(select(func.max(t.application_history.c.id)).where(and_(
            t.application_history.c.application_id == application_id,
            t.application_history.c.action.in_(FEED_ACTIONS))))
        return int(value or 0)

    async def delivery(self, device_id: str, application_id: str) -> Delivery | None:
        """What system ``device_id`` got of the application, if anything."""
        d = t.backoffice_deliveries
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(d).where(and_(d.c.device_id == device_id,
                                                           d.c.application_id == application_id)))).first()
        return _delivery(row) if row is not None else None

    async def files(self, application_id: str) -> list[FileRow]:
        """The application's attachments, oldest first."""
        f = t.attachments
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(f).where(f.c.owner == application_id)
                                       .order_by(f.c.created_at_us, f.c.id))).all()
        return [FileRow(r.id, r.name, r.media_type, int(r.size), r.sha256) for r in rows]

    # ------------------------------------------------------------ the changes
    async def delivered(self, device_id: str, system: str, application_id: str, at_us: int, what: str) -> Delivery:
        """Record that the system fetched the application (``what``: ``application``
        or ``file <name>``) at its current sequence; in its history too."""
        d = t.backoffice_deliveries
        async with self._write() as conn:
            seq = await self._sequence(conn, application_id)
            done = await conn.execute(update(d).where(and_(d.c.device_id == device_id,
                                                           d.c.application_id == application_id))
                                      .values(delivered_seq=seq, delivered_at_us=at_us))
            if done.rowcount == 0:
                await conn.execute(insert(d).values(device_id=device_id, application_id=application_id,
                                                    delivered_seq=seq, delivered_at_us=at_us))
            await _history(conn, application_id, system_actor(device_id), at_us, "delivered",
                           {"system": system, "what": what})
            row = (await conn.execute(select(d).where(and_(d.c.device_id == device_id,
                                                           d.c.application_id == application_id)))).one()
        return _delivery(row)

    async def acknowledge(self, device_id: str, system: str, applications: dict[str, str], at_us: int) -> None:
        """The system has taken what was delivered of each application
        (``applications``: id → reference). Raises :class:`ApiError`
        ``not_delivered`` (409) naming the references never delivered to it;
        nothing is acknowledged then. Acknowledging again changes nothing."""
        d = t.backoffice_deliveries
        async with self._write() as conn:
            rows = {r.application_id: _delivery(r) for r in (await conn.execute(select(d).where(and_(
                d.c.device_id == device_id, d.c.application_id.in_(list(applications)))))).all()}
            missing = [ref for aid, ref in applications.items() if aid not in rows]
            if missing:
                raise ApiError("not_delivered", "まだ受け取っていない申請は受領確認できません。 "
                                                "An application must be fetched before it is acknowledged.",
                               [{"field": "references", "problem": "not_delivered", "message": ref}
                                for ref in missing[:100]])
            for aid in applications:
                got = rows[aid]
                if got.acked_seq == got.delivered_seq:
                    continue
                await conn.execute(update(d).where(and_(d.c.device_id == device_id, d.c.application_id == aid))
                                   .values(acked_seq=got.delivered_seq, acked_at_us=at_us))
                await _history(conn, aid, system_actor(device_id), at_us, "acknowledged",
                               {"system": system, "sequence": got.delivered_seq})

    async def redeliver(self, device_id: str, system: str, application_ids: list[str] | None, actor: str,
                        at_us: int) -> list[str]:
        """Forget the system's acknowledgements of ``application_ids`` (``None``: of
        every application), so they are offered again; returns the references
        re-offered (those it had acknowledged), in order. ``actor``: who asked
        (the system itself or an admin)."""
        d, a = t.backoffice_deliveries, t.applications
        where = and_(d.c.device_id == device_id, d.c.acked_seq.is_not(None))
        if application_ids is not None:
            where = and_(where, d.c.application_id.in_(application_ids))
        async with self._write() as conn:
            rows = (await conn.execute(select(d.c.application_id, a.c.reference)
                                       .select_from(d.join(a, a.c.id == d.c.application_id))
                                       .where(where).order_by(a.c.reference))).all()
            if rows:
                await conn.execute(update(d).where(where).values(acked_seq=None, acked_at_us=None))
            for r in rows:
                await _history(conn, r.application_id, actor, at_us, "redelivery", {"system": system})
        return [r.reference for r in rows]

    async def file_taken(self, device_id: str, system: str, application_id: str, at_us: int, name: str) -> None:
        """Record in the application's history that the system downloaded attachment ``name``."""
        async with self._write() as conn:
            await _history(conn, application_id, system_actor(device_id), at_us, "delivered",
                           {"system": system, "what": f"file {name}"})


async def _history(conn: AsyncConnection, application_id: str, actor: str, at_us: int, action: str,
                   detail: dict[str, Any]) -> None:
    # One row of the application's history (the shape FormStore writes).
    await conn.execute(insert(t.application_history).values(
        application_id=application_id, at_us=at_us, actor=actor[:64], action=action,
        detail=orjson.dumps(detail).decode()))


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(int(row.delivered_seq), int(row.delivered_at_us),
                    int(row.acked_seq) if row.acked_seq is not None else None,
                    int(row.acked_at_us) if row.acked_at_us is not None else None)
