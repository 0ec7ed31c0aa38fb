"""Storage of the catalogue, form versions, saved drafts, attachments and
applications (SQLAlchemy Core on the floor's engine; SQLite or PostgreSQL, no
dialect-specific SQL). The rules are elsewhere (:mod:`online_forms.engine`,
:mod:`online_forms.workflow`); this module keeps what they decided, each change
in one transaction with its history row.

Moments are UTC epoch microseconds in the database and aware datetimes here.
Attachments are files under ``<data dir>/attachments/<id[:2]>/<id>``: named by a
random id, never by what the citizen called them, and served only through an
authorised request.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import secrets
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import orjson
from sqlalchemy import Row, and_, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.core.errors import DomainError
from server.storage.turns import WriteTurns

from . import reference, workflow
from . import tables as t
from .answers import FileInfo
from .form import Form, parse_form
from .procedure import ProcedureDraft
from .sharing import read_shared

T = TypeVar("T")
#: Threads for the online applications' blocking work (two: the machine may have two cores,
#: and the event loop needs one).
THREADS = 2
DEMO_DIR = Path(__file__).resolve().parent / "demo"
#: Crockford base 32 for codes people type (no I, L, O, U).
CODE_ALPHABET = reference.ALPHABET


class StoreError(DomainError):
    """A request the stored state refuses; ``code`` for the API envelope
    (``not_found``, ``conflict``, …), ``message`` Japanese then English."""


#: How long after a submission the same resume code still answers with it (a reload, a lost answer).
REPLAY_WINDOW_S = 3600
_CHANGED = ("この様式は他の職員が同時に変更しました。読み込み直してください。 "
            "Someone changed this form at the same moment; reload it.")


def us(moment: datetime) -> int:
    """``moment`` (aware) as UTC epoch microseconds."""
    return int(moment.timestamp() * 1_000_000)


def from_us(value: int) -> datetime:
    """UTC epoch microseconds as an aware datetime (UTC)."""
    return datetime.fromtimestamp(value / 1_000_000, UTC)


def digest(secret: str) -> str:
    """SHA-256 hex of a secret (what the database keeps of codes and tokens)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_code() -> str:
    """A resume code: 16 Crockford base-32 characters (80 bits) as XXXX-XXXX-XXXX-XXXX."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def normal_code(code: str) -> str:
    """A resume code as typed (spaces, lower case, full width) in canonical form."""
    raw = reference.normalise(code).replace("-", "")
    return "-".join(raw[i:i + 4] for i in range(0, len(raw), 4))


@dataclass(frozen=True)
class ProcedureRow:
    """A stored procedure: ``fields`` its editable part."""

    id: str
    slug: str
    state: str
    fields: ProcedureDraft
    updated_at: datetime


@dataclass(frozen=True)
class VersionRow:
    """A stored form version."""

    id: str
    procedure_id: str
    number: int
    state: str
    form: Form
    created_by: str
    created_at: datetime
    requested_by: str | None
    published_by: str | None
    published_at: datetime | None


@dataclass(frozen=True)
class DraftRow:
    """Answers saved to resume later."""

    id: str
    version_id: str
    answers: dict[str, Any]
    page: str | None
    expires_at: datetime
    application_id: str | None = None


@dataclass(frozen=True)
class ApplicationRow:
    """A submitted application."""

    id: str
    procedure_id: str
    version_id: str
    reference: str
    status: str
    channel: str
    answers: dict[str, Any]
    assignee: str | None
    submitted_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class HistoryRow:
    """One entry of an application's history."""

    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]


class Catalogue:
    """Procedures and form versions as last read, kept in memory until this store
    changes either: every citizen's request reads its procedure and the published
    version, and the server is the catalogue's only writer (one server per data
    directory, as :class:`server.auth.Auth`'s token cache assumes). A read that
    overlaps a change is not kept (``generation``), so nothing stale stays."""

    def __init__(self) -> None:
        self.generation = 0
        self.entries: dict[tuple[str, str], Any] = {}

    def get(self, kind: str, key: str) -> Any:
        """What was kept for ``(kind, key)``, or ``None``."""
        return self.entries.get((kind, key))

    def keep(self, generation: int, kind: str, key: str, value: Any) -> None:
        """Keep ``value`` read while at ``generation`` (dropped when a change came since)."""
        if generation == self.generation:
            self.entries[(kind, key)] = value

    def clear(self) -> None:
        """Forget everything (after a change to procedures or versions)."""
        self.generation += 1
        self.entries.clear()


class FormStore:
    """The online applications' storage on ``engine``; files under ``data_dir``;
    ``clock`` gives the moment (aware); saved drafts live ``draft_ttl_s`` seconds.
    Procedures and versions read are kept in memory (:class:`Catalogue`).

    The server gives it an engine of its own (its own connections), and its
    blocking work (files, images, PDFs) runs on threads of its own
    (:meth:`offload`), so that citizens' traffic never holds the floor's
    connections or threads (issue 14, point 6: the floor's latency must not
    suffer from citizens' traffic)."""

    def __init__(self, engine: AsyncEngine, data_dir: Path, clock: Callable[[], datetime],
                 draft_ttl_s: int = 30 * 86400, turns: WriteTurns | None = None) -> None:
        self.engine = engine
        #: Write turns shared with the floor's event log, whose appends go first (server/storage/turns.py).
        self.turns = turns or WriteTurns()
        self.files_dir = data_dir / "attachments"
        self.clock = clock
        self.draft_ttl_s = draft_ttl_s
        self.catalogue = Catalogue()
        self._threads: ThreadPoolExecutor | None = None

    async def offload(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on the online applications' own threads (:data:`THREADS` of
        them), not the event loop's shared default executor."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(THREADS, thread_name_prefix="forms")
        return await asyncio.get_running_loop().run_in_executor(self._threads, functools.partial(fn, *args))

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A write transaction, in its turn (:attr:`turns`): committed when the block ends,
        rolled back on an exception."""
        async with self.turns.turn(), self.engine.begin() as conn:
            yield conn

    @contextlib.asynccontextmanager
    async def _changing(self) -> AsyncIterator[AsyncConnection]:
        # A transaction that writes procedures or versions: the catalogue kept in memory is
        # forgotten as soon as it ends (committed or not), before anything reads it again.
        try:
            async with self.write() as conn:
                yield conn
        finally:
            self.catalogue.clear()

    def close(self) -> None:
        """Let the threads go (at shutdown; work already queued is finished)."""
        if self._threads is not None:
            self._threads.shutdown(wait=False)
            self._threads = None

    # ------------------------------------------------------------ catalogue
    async def seed_demo(self) -> int:
        """Load the demo procedures (``online_forms/demo/*.json``), each published as
        version 1, when the catalogue is empty; returns how many were loaded."""
        async with self.engine.connect() as conn:
            if await conn.scalar(select(func.count()).select_from(t.procedures)):
                return 0
        loaded = 0
        for path in sorted(DEMO_DIR.glob("*.json")):
            fields, form = read_shared(path.read_bytes())
            row = await self.create_procedure(fields, form, "system")
            await self.publish(row.id, 1, "system")
            loaded += 1
        return loaded

    async def create_procedure(self, fields: ProcedureDraft, form: Form, actor: str) -> ProcedureRow:
        """A new procedure (state ``draft``) with ``form`` as its version 1 draft.
        Raises :class:`StoreError` ``conflict`` when the slug is taken."""
        now = us(self.clock())
        pid = uuid.uuid4().hex
        await self._numbering_free(fields, pid)
        try:
            async with self._changing() as conn:
                await conn.execute(insert(t.procedures).values(
                    id=pid, slug=fields.slug, state="draft", section=fields.section,
                    data=fields.model_dump_json(), next_seq=1, created_at_us=now, updated_at_us=now))
                await self._new_version(conn, pid, 1, form, actor, now)
        except IntegrityError:
            raise StoreError("conflict", f"「{fields.slug}」は既に使われています。 "
                                         f"The short name {fields.slug!r} is taken.") from None
        return await self.procedure(pid)

    async def update_procedure(self, pid: str, fields: ProcedureDraft) -> ProcedureRow:
        """Replace a procedure's editable fields (its slug stays unless free).
        Raises :class:`StoreError`."""
        await self.procedure(pid)
        await self._numbering_free(fields, pid)
        try:
            async with self._changing() as conn:
                await conn.execute(update(t.procedures).where(t.procedures.c.id == pid).values(
                    slug=fields.slug, section=fields.section, data=fields.model_dump_json(),
                    updated_at_us=us(self.clock())))
        except IntegrityError:
            raise StoreError("conflict", f"「{fields.slug}」は既に使われています。 "
                                         f"The short name {fields.slug!r} is taken.") from None
        return await self.procedure(pid)

    async def _numbering_free(self, fields: ProcedureDraft, pid: str) -> None:
        """Raise ``conflict`` when another procedure numbers with the same ``{seq}``
        pattern: the two would give the same references."""
        if "{seq" not in fields.reference_pattern:
            return
        for other in await self.procedures():
            if other.id != pid and other.fields.reference_pattern == fields.reference_pattern:
                raise StoreError("conflict", f"受付番号の形式「{fields.reference_pattern}」は"
                                             f"手続「{other.fields.name.ja}」が使っています。別の形式にしてください。 "
                                             "Another procedure numbers with this pattern; choose another.")

    async def set_state(self, pid: str, state: str) -> ProcedureRow:
        """Archive a procedure (no new applications) or bring it back live (only
        with a published version). Raises :class:`StoreError`."""
        if state == "live" and await self.published(pid) is None:
            raise StoreError("not_published", "公開された版がないため受付を始められません。 "
                                              "Publish a version before opening the procedure.")
        async with self._changing() as conn:
            await conn.execute(update(t.procedures).where(t.procedures.c.id == pid)
                               .values(state=state, updated_at_us=us(self.clock())))
        return await self.procedure(pid)

    async def procedures(self, *, states: Iterable[str] = ("draft", "live", "archived")) -> list[ProcedureRow]:
        """Every procedure in ``states``, by slug."""
        found: list[ProcedureRow] | None = self.catalogue.get("all", "")
        if found is None:
            generation = self.catalogue.generation
            async with self.engine.connect() as conn:
                rows = (await conn.execute(select(t.procedures).order_by(t.procedures.c.slug))).all()
            found = [_procedure(r) for r in rows]
            self.catalogue.keep(generation, "all", "", found)
        wanted = set(states)
        return [p for p in found if p.state in wanted]

    async def procedure(self, key: str) -> ProcedureRow:
        """The procedure with id or slug ``key``. Raises :class:`StoreError` ``not_found``."""
        found: ProcedureRow | None = self.catalogue.get("procedure", key)
        if found is not None:
            return found
        generation = self.catalogue.generation
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.procedures).where(
                or_(t.procedures.c.id == key, t.procedures.c.slug == key)))).first()
        if row is None:
            raise StoreError("not_found", "その手続はありません。 No such procedure.")
        found = _procedure(row)
        self.catalogue.keep(generation, "procedure", key, found)
        return found

    # ------------------------------------------------------------- versions
    async def versions(self, pid: str) -> list[VersionRow]:
        """Every version of procedure ``pid``, newest first."""
        found: tuple[VersionRow, ...] | None = self.catalogue.get("versions", pid)
        if found is None:
            generation = self.catalogue.generation
            async with self.engine.connect() as conn:
                rows = (await conn.execute(select(t.form_versions).where(t.form_versions.c.procedure_id == pid)
                                           .order_by(t.form_versions.c.number.desc()))).all()
            found = tuple(_version(r) for r in rows)
            self.catalogue.keep(generation, "versions", pid, found)
            for v in found:
                self.catalogue.keep(generation, "version", v.id, v)
        return list(found)

    async def version(self, vid: str) -> VersionRow:
        """Version ``vid``. Raises :class:`StoreError` ``not_found``."""
        found: VersionRow | None = self.catalogue.get("version", vid)
        if found is not None:
            return found
        generation = self.catalogue.generation
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.form_versions).where(t.form_versions.c.id == vid))).first()
        if row is None:
            raise StoreError("not_found", "その版はありません。 No such form version.")
        found = _version(row)
        self.catalogue.keep(generation, "version", vid, found)
        return found

    async def published(self, pid: str) -> VersionRow | None:
        """The published version of ``pid`` (what citizens fill), if any."""
        return next((v for v in await self.versions(pid) if v.state == "published"), None)

    async def editable(self, pid: str) -> VersionRow | None:
        """The draft or pending version of ``pid``, if any (at most one)."""
        return next((v for v in await self.versions(pid) if v.state in ("draft", "pending")), None)

    async def save_draft(self, pid: str, form: Form, actor: str) -> VersionRow:
        """Keep ``form`` as ``pid``'s draft version: the current draft is replaced (a
        pending one goes back to draft: it must be asked for again), or a new draft
        follows the newest version. A published version never changes."""
        now = us(self.clock())
        try:
            async with self._changing() as conn:
                current = await self._editable(conn, pid)
                if current is not None:
                    # Only while it is still editable: a version published meanwhile never changes.
                    done = await conn.execute(update(t.form_versions).where(and_(
                        t.form_versions.c.id == current.id, t.form_versions.c.state.in_(["draft", "pending"])))
                        .values(document=form.model_dump_json(exclude_defaults=True), state="draft",
                                requested_by=None, created_by=actor, created_at_us=now))
                    if done.rowcount != 1:
                        raise StoreError("conflict", _CHANGED)
                    vid = current.id
                else:
                    newest = await conn.scalar(select(func.max(t.form_versions.c.number))
                                               .where(t.form_versions.c.procedure_id == pid))
                    if newest is None:
                        raise StoreError("not_found", "その手続はありません。 No such procedure.")
                    vid = await self._new_version(conn, pid, int(newest) + 1, form, actor, now)
        except IntegrityError:  # another draft made at the same moment
            raise StoreError("conflict", _CHANGED) from None
        return await self.version(vid)

    async def request_publication(self, pid: str, actor: str) -> VersionRow:
        """Ask for the draft to be published (draft → pending). Raises :class:`StoreError`."""
        async with self._changing() as conn:
            current = await self._editable(conn, pid)
            if current is None or current.state != "draft":
                raise StoreError("no_draft", "公開を依頼できる下書きがありません。 "
                                             "There is no draft to send for approval.")
            done = await conn.execute(update(t.form_versions).where(and_(
                t.form_versions.c.id == current.id, t.form_versions.c.state == "draft"))
                .values(state="pending", requested_by=actor))
            if done.rowcount != 1:
                raise StoreError("conflict", _CHANGED)
        return await self.version(current.id)

    async def publish(self, pid: str, number: int, actor: str) -> VersionRow:
        """Publish version ``number`` (the one the approver looked at; the caller
        checked the actor may): only while it is pending, or a draft the actor
        saved themselves, so a draft changed after the request is never published
        unseen. It is frozen, the previously published one retired, the procedure
        live unless archived. Raises :class:`StoreError` ``no_draft``."""
        now = us(self.clock())
        async with self._changing() as conn:
            vid = await conn.scalar(select(t.form_versions.c.id).where(and_(
                t.form_versions.c.procedure_id == pid, t.form_versions.c.number == number)))
            done = await conn.execute(update(t.form_versions).where(and_(
                t.form_versions.c.id == vid,
                or_(t.form_versions.c.state == "pending",
                    and_(t.form_versions.c.state == "draft", t.form_versions.c.created_by == actor))))
                .values(state="published", published_by=actor, published_at_us=now))
            if vid is None or done.rowcount != 1:
                raise StoreError("no_draft", f"第{number}版は公開できません"
                                             "（承認を依頼された版ではないか、依頼の後に変更されました）。 "
                                             f"Version {number} cannot be published: it was not sent for approval, "
                                             "or it changed after the request.")
            await conn.execute(update(t.form_versions).where(and_(
                t.form_versions.c.procedure_id == pid, t.form_versions.c.state == "published",
                t.form_versions.c.id != vid)).values(state="retired"))
            current = await self.version_in(conn, vid)
            await conn.execute(update(t.procedures).where(and_(t.procedures.c.id == pid,
                                                               t.procedures.c.state == "draft"))
                               .values(state="live", updated_at_us=now))
        return await self.version(current.id)

    async def restore(self, pid: str, number: int, actor: str) -> VersionRow:
        """Make version ``number``'s form the draft again (replacing the current
        draft). Raises :class:`StoreError` ``not_found``."""
        old = next((v for v in await self.versions(pid) if v.number == number), None)
        if old is None:
            raise StoreError("not_found", f"第{number}版はありません。 There is no version {number}.")
        return await self.save_draft(pid, old.form, actor)

    async def version_in(self, conn: AsyncConnection, vid: str) -> VersionRow:
        """Version ``vid`` read on ``conn`` (inside a transaction)."""
        row = (await conn.execute(select(t.form_versions).where(t.form_versions.c.id == vid))).first()
        if row is None:
            raise StoreError("not_found", "その版はありません。 No such form version.")
        return _version(row)

    async def _editable(self, conn: AsyncConnection, pid: str) -> VersionRow | None:
        row = (await conn.execute(select(t.form_versions).where(and_(
            t.form_versions.c.procedure_id == pid, t.form_versions.c.state.in_(["draft", "pending"]))))).first()
        return _version(row) if row is not None else None

    async def _new_version(self, conn: AsyncConnection, pid: str, number: int, form: Form, actor: str,
                           now: int) -> str:
        vid = uuid.uuid4().hex
        await conn.execute(insert(t.form_versions).values(
            id=vid, procedure_id=pid, number=number, state="draft",
            document=form.model_dump_json(exclude_defaults=True), created_by=actor, created_at_us=now))
        return vid

    # ------------------------------------------------------------- sections
    async def sections_of(self, staff_id: str) -> frozenset[str]:
        """The sections (係) staff member ``staff_id`` belongs to."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t.section_staff.c.section)
                                       .where(t.section_staff.c.staff_id == staff_id))).all()
        return frozenset(r.section for r in rows)

    async def set_sections(self, staff_id: str, sections: Iterable[str]) -> frozenset[str]:
        """Replace the sections ``staff_id`` belongs to."""
        wanted = frozenset(sections)
        async with self.write() as conn:
            await conn.execute(delete(t.section_staff).where(t.section_staff.c.staff_id == staff_id))
            for section in sorted(wanted):
                await conn.execute(insert(t.section_staff).values(staff_id=staff_id, section=section))
        return wanted

    # --------------------------------------------------------------- drafts
    async def start_draft(self, version_id: str, answers: dict[str, Any] | None = None,
                          page: str | None = None, application_id: str | None = None) -> tuple[DraftRow, str]:
        """A new saved draft on version ``version_id`` (correcting application
        ``application_id`` when given); returns it and its resume code (shown
        once; only its hash is kept)."""
        code = new_code()
        now = us(self.clock())
        did = uuid.uuid4().hex
        stored = orjson.dumps(answers or {})
        expires = now + self.draft_ttl_s * 1_000_000
        async with self.write() as conn:
            await conn.execute(insert(t.form_drafts).values(
                id=did, version_id=version_id, resume_hash=digest(code), answers=stored.decode(),
                page=page, application_id=application_id, created_at_us=now, updated_at_us=now,
                expires_at_us=expires))
        return DraftRow(did, version_id, orjson.loads(stored), page, from_us(expires), application_id), code

    async def draft(self, code: str) -> DraftRow:
        """The unexpired draft of resume ``code``. Raises :class:`StoreError`
        ``draft_not_found`` (unknown, expired or already submitted: one message)."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.form_drafts).where(and_(
                t.form_drafts.c.resume_hash == digest(normal_code(code)),
                t.form_drafts.c.expires_at_us > us(self.clock()))))).first()
        if row is None:
            raise StoreError("draft_not_found",
                             "保存した入力が見つかりません（期限切れか、送信済みか、番号の誤りです）。 "
                             "No saved application was found: it expired, was sent, or the code is wrong.")
        return _draft(row)

    async def save_answers(self, draft_id: str, answers: dict[str, Any], page: str | None) -> DraftRow:
        """Keep ``answers`` (as given) and the page reached (``None``: a save as the
        citizen types, which keeps the page reached before); the expiry moves on.
        Raises :class:`StoreError` ``draft_not_found`` when the draft is gone."""
        now = us(self.clock())
        values: dict[str, Any] = {"answers": orjson.dumps(answers).decode(), "updated_at_us": now,
                                  "expires_at_us": now + self.draft_ttl_s * 1_000_000}
        if page is not None:
            values["page"] = page
        async with self.write() as conn:
            row = (await conn.execute(update(t.form_drafts).where(t.form_drafts.c.id == draft_id).values(**values)
                                      .returning(*t.form_drafts.c))).first()
        if row is None:
            raise StoreError("draft_not_found", "保存した入力が見つかりません。 No saved application was found.")
        return _draft(row)

    async def move_draft(self, draft_id: str, version_id: str) -> DraftRow:
        """Point a draft at another (newer) version, keeping its answers."""
        async with self.write() as conn:
            await conn.execute(update(t.form_drafts).where(t.form_drafts.c.id == draft_id)
                               .values(version_id=version_id))
        return await self._draft_by_id(draft_id)

    async def discard_draft(self, draft_id: str) -> None:
        """Delete a draft and the attachments it still owns (rows, then exactly
        those rows' files: one adopted by an application meanwhile is left alone)."""
        async with self.write() as conn:
            gone = (await conn.execute(delete(t.attachments).where(t.attachments.c.owner == draft_id)
                                       .returning(t.attachments.c.id))).all()
            await conn.execute(delete(t.form_drafts).where(t.form_drafts.c.id == draft_id))
        for row in gone:
            self.file_path(row.id).unlink(missing_ok=True)

    async def purge_expired(self) -> int:
        """Delete drafts past their expiry with their attachments (files too), and
        attachments left by drafts already gone; returns how many drafts went.
        Run hourly by the server, so abandoned drafts never fill the disk."""
        now = us(self.clock())
        async with self.engine.connect() as conn:
            expired = [r.id for r in (await conn.execute(
                select(t.form_drafts.c.id).where(t.form_drafts.c.expires_at_us <= now))).all()]
        for did in expired:
            await self.discard_draft(did)
        # Files no draft or application owns (a staff member's scan never used, a draft deleted), an hour on;
        # the owner test is in the DELETE itself, so a file adopted meanwhile is kept.
        async with self.write() as conn:
            orphans = (await conn.execute(delete(t.attachments).where(and_(
                t.attachments.c.owner.not_in(select(t.form_drafts.c.id)),
                t.attachments.c.owner.not_in(select(t.applications.c.id)),
                t.attachments.c.created_at_us < now - 3600 * 1_000_000)).returning(t.attachments.c.id))).all()
        for row in orphans:
            self.file_path(row.id).unlink(missing_ok=True)
        return len(expired)

    async def _draft_by_id(self, did: str) -> DraftRow:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.form_drafts).where(t.form_drafts.c.id == did))).first()
        if row is None:
            raise StoreError("draft_not_found", "保存した入力が見つかりません。 No saved application was found.")
        return _draft(row)

    # ----------------------------------------------------------- attachments
    async def add_attachment(self, owner: str, name: str, media_type: str, data: bytes) -> FileInfo:
        """Keep ``data`` (already checked by the caller) as an attachment of
        ``owner`` (a draft or an application id). The file is written and synced
        before its row is committed, so a row never names a missing file."""
        fid = uuid.uuid4().hex
        path = self.file_path(fid)
        # Hashing a few MB and writing them take milliseconds: off the event loop, together.
        sha256 = await self.offload(_write_synced, path, data)
        clean_name = "".join(c for c in name if c.isprintable() and c not in "/\\")[-150:] or "file"
        try:
            async with self.write() as conn:
                await conn.execute(insert(t.attachments).values(
                    id=fid, owner=owner, name=clean_name, media_type=media_type, size=len(data),
                    sha256=sha256, created_at_us=us(self.clock())))
        except Exception:
            path.unlink(missing_ok=True)
            raise
        return FileInfo(fid, clean_name, media_type, len(data))

    async def files_of(self, owner: str) -> dict[str, FileInfo]:
        """The attachments of ``owner``, by id."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t.attachments).where(t.attachments.c.owner == owner))).all()
        return {r.id: FileInfo(r.id, r.name, r.media_type, int(r.size)) for r in rows}

    def file_path(self, fid: str) -> Path:
        """Where attachment ``fid``'s bytes are kept."""
        if not fid.isalnum():
            raise StoreError("not_found", "そのファイルはありません。 No such file.")
        return self.files_dir / fid[:2] / fid

    # ---------------------------------------------------------- applications
    async def submit(self, version: VersionRow, answers: dict[str, Any], *, channel: str, submission_key: str,
                     actor: str, files_owner: str | None) -> tuple[ApplicationRow, str | None]:
        """Store an application of ``answers`` (checked by the engine) on
        ``version``; the attachments its answers name move from ``files_owner`` (a
        draft) to it, the draft is deleted. Returns the application and its
        receipt token (``None`` when ``submission_key`` was used before: the first
        application is returned, nothing new is stored)."""
        existing = await self._by_key(submission_key)
        if existing is not None:
            return existing, None
        procedure = await self.procedure(version.procedure_id)
        token = secrets.token_urlsafe(24)
        now = self.clock()
        for _ in range(8):
            aid = uuid.uuid4().hex
            try:
                async with self.write() as conn:
                    seq = await conn.scalar(update(t.procedures).where(t.procedures.c.id == procedure.id)
                                            .values(next_seq=t.procedures.c.next_seq + 1)
                                            .returning(t.procedures.c.next_seq))
                    ref = reference.make(procedure.fields.reference_pattern, now, int(seq or 1) - 1)
                    stored = orjson.dumps(answers)
                    await conn.execute(insert(t.applications).values(
                        id=aid, procedure_id=procedure.id, version_id=version.id, reference=ref, status="received",
                        channel=channel, answers=stored.decode(), assignee=None,
                        receipt_hash=digest(token), submission_key=submission_key,
                        submitted_at_us=us(now), updated_at_us=us(now)))
                    await self._history(conn, aid, actor, "submitted", {"channel": channel, "version": version.number})
                    if files_owner is not None:
                        await self._adopt_files(conn, files_owner, aid, answers)
                        await conn.execute(delete(t.form_drafts).where(t.form_drafts.c.id == files_owner))
                at = from_us(us(now))
                return ApplicationRow(aid, procedure.id, version.id, ref, "received", channel, orjson.loads(stored),
                                      None, at, at), token
            except IntegrityError:
                existing = await self._by_key(submission_key)
                if existing is not None:
                    return existing, None
                # A reference already given (drawn twice, or another procedure's numbering reached it): move the
                # count on outside the failed transaction, and draw again.
                async with self._changing() as conn:
                    await conn.execute(update(t.procedures).where(t.procedures.c.id == procedure.id)
                                       .values(next_seq=t.procedures.c.next_seq + 1))
        raise StoreError("conflict", "受付番号を決められませんでした。もう一度送信してください。 "
                                     "No reference number could be made; send again.")

    async def resubmit(self, app: ApplicationRow, version: VersionRow, answers: dict[str, Any], files_owner: str,
                       actor: str) -> ApplicationRow:
        """Replace a returned application's answers with the corrected ones (the
        old ones stay in its history) and receive it again."""
        workflow.citizen_can_correct(app.status)
        now = us(self.clock())
        async with self.write() as conn:
            done = await conn.execute(update(t.applications).where(and_(
                t.applications.c.id == app.id, t.applications.c.status == "returned")).values(
                answers=orjson.dumps(answers).decode(), version_id=version.id, status="received", updated_at_us=now))
            if done.rowcount != 1:
                raise StoreError("not_returned", "この申請は差し戻されていないため、修正できません。 "
                                                 "The application was not returned for correction.")
            await self._history(conn, app.id, actor, "resubmitted", {"previous_answers": app.answers,
                                                                      "version": version.number})
            await self._adopt_files(conn, files_owner, app.id, answers)
            await conn.execute(delete(t.form_drafts).where(t.form_drafts.c.id == files_owner))
        return await self.application(app.id)

    async def replay(self, submission_key: str) -> tuple[ApplicationRow, str] | None:
        """The application first submitted with ``submission_key`` within the last
        hour, with a new receipt token (the earlier one stops working), or ``None``:
        a resume code written down to finish later is no key to the application
        afterwards."""
        app = await self._by_key(submission_key)
        if app is None or (self.clock() - app.submitted_at).total_seconds() > REPLAY_WINDOW_S:
            return None
        token = secrets.token_urlsafe(24)
        async with self.write() as conn:
            await conn.execute(update(t.applications).where(t.applications.c.id == app.id)
                               .values(receipt_hash=digest(token)))
            await self._history(conn, app.id, "citizen", "replayed", {})
        return app, token

    async def _adopt_files(self, conn: AsyncConnection, owner: str, aid: str, answers: dict[str, Any]) -> None:
        named = set(_file_ids(answers))
        await conn.execute(update(t.attachments).where(and_(t.attachments.c.owner == owner,
                                                            t.attachments.c.id.in_(named))).values(owner=aid))

    async def _by_key(self, key: str) -> ApplicationRow | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.applications).where(t.applications.c.submission_key == key))).first()
        return _application(row) if row is not None else None

    async def application(self, key: str) -> ApplicationRow:
        """The application with id or reference ``key``. Raises :class:`StoreError` ``not_found``."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.applications).where(
                or_(t.applications.c.id == key, t.applications.c.reference == reference.normalise(key))))).first()
        if row is None:
            raise StoreError("not_found", "その申請はありません。 No such application.")
        return _application(row)

    async def by_receipt(self, token: str) -> ApplicationRow:
        """The application of receipt ``token``. Raises :class:`StoreError` ``not_found``."""
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(t.applications)
                                      .where(t.applications.c.receipt_hash == digest(token)))).first()
        if row is None:
            raise StoreError("not_found", "申請が見つかりません。 No application was found for this link.")
        return _application(row)

    async def applications(self, *, procedures: Iterable[str] | None = None, status: str | None = None,
                           channel: str | None = None, assignee: str | None = None,
                           since: datetime | None = None, until: datetime | None = None,
                           text: str | None = None, limit: int = 200, offset: int = 0) -> list[ApplicationRow]:
        """Applications newest first, filtered; ``text`` matches the reference or
        anything in the answers (case-insensitive)."""
        q = select(t.applications)
        if procedures is not None:
            q = q.where(t.applications.c.procedure_id.in_(list(procedures)))
        if status:
            q = q.where(t.applications.c.status == status)
        if channel:
            q = q.where(t.applications.c.channel == channel)
        if assignee:
            q = q.where(t.applications.c.assignee == assignee)
        if since is not None:
            q = q.where(t.applications.c.submitted_at_us >= us(since))
        if until is not None:
            q = q.where(t.applications.c.submitted_at_us < us(until))
        if text:
            like = f"%{text.replace('%', '').replace('_', '')}%"
            q = q.where(or_(t.applications.c.reference.ilike(like), t.applications.c.answers.ilike(like)))
        q = q.order_by(t.applications.c.submitted_at_us.desc(), t.applications.c.id).limit(limit).offset(offset)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(q)).all()
        return [_application(r) for r in rows]

    async def set_status(self, aid: str, target: str, actor: str, message: str | None) -> ApplicationRow:
        """Move an application to ``target`` by staff ``actor`` (rules:
        :func:`workflow.staff_move`), with ``message`` (to the citizen when returned)."""
        app = await self.application(aid)
        workflow.staff_move(app.status, target, message)
        await self._update(app.id, actor, "status", {"from": app.status, "to": target, "message": message or ""},
                           expected=app.status,
                           status=target)
        return await self.application(aid)

    async def withdraw(self, app: ApplicationRow) -> ApplicationRow:
        """The citizen withdraws their application (取下げ)."""
        workflow.citizen_can_withdraw(app.status)
        await self._update(app.id, "citizen", "status", {"from": app.status, "to": "withdrawn", "message": ""},
                           expected=app.status,
                           status="withdrawn")
        return await self.application(app.id)

    async def assign(self, aid: str, assignee: str | None, actor: str) -> ApplicationRow:
        """Assign the application to staff ``assignee`` (``None``: nobody)."""
        app = await self.application(aid)
        await self._update(app.id, actor, "assigned", {"from": app.assignee, "to": assignee}, assignee=assignee)
        return await self.application(aid)

    async def note(self, aid: str, actor: str, text: str) -> None:
        """Add an internal note (staff only; never shown to the citizen)."""
        app = await self.application(aid)
        await self._update(app.id, actor, "note", {"text": text})

    async def viewed(self, aid: str, actor: str, what: str = "detail") -> None:
        """Record that staff ``actor`` looked at the application (issue 14, point 4)."""
        async with self.write() as conn:
            await self._history(conn, aid, actor, "viewed", {"what": what})

    async def history(self, aid: str) -> list[HistoryRow]:
        """The application's history, oldest first."""
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(t.application_history)
                                       .where(t.application_history.c.application_id == aid)
                                       .order_by(t.application_history.c.id))).all()
        return [HistoryRow(from_us(r.at_us), r.actor, r.action, orjson.loads(r.detail)) for r in rows]

    async def _update(self, aid: str, actor: str, action: str, detail: dict[str, Any], *,
                      expected: str | None = None, **values: Any) -> None:
        # With ``expected``, only while the status is still the one the rules were checked against: a change
        # made meanwhile (a citizen's withdrawal, another clerk's decision) is never overwritten.
        async with self.write() as conn:
            if values:
                where = t.applications.c.id == aid
                if expected is not None:
                    where = and_(where, t.applications.c.status == expected)
                done = await conn.execute(update(t.applications).where(where)
                                          .values(**values, updated_at_us=us(self.clock())))
                if done.rowcount != 1:
                    raise StoreError("conflict", "この申請は同時に変更されました。読み込み直してください。 "
                                                 "The application changed at the same moment; reload it.")
            await self._history(conn, aid, actor, action, detail)

    async def _history(self, conn: AsyncConnection, aid: str, actor: str, action: str, detail: dict[str, Any]) -> None:
        await conn.execute(insert(t.application_history).values(
            application_id=aid, at_us=us(self.clock()), actor=actor, action=action,
            detail=orjson.dumps(detail).decode()))


def _write_synced(path: Path, data: bytes) -> str:
    # Write ``data`` to ``path`` (synced, then renamed into place); its SHA-256 hex.
    sha256 = hashlib.sha256(data).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)
    return sha256


@functools.lru_cache(maxsize=512)
def _form_of(document: str) -> Form:
    # A version's document parsed once (published ones never change; a draft's new text is a new key).
    return parse_form(orjson.loads(document))


def _file_ids(value: Any) -> Iterable[str]:
    if isinstance(value, dict):
        if set(value) == {"id", "name", "type", "size"} and isinstance(value["id"], str):
            yield value["id"]
        else:
            for v in value.values():
                yield from _file_ids(v)
    elif isinstance(value, list):
        for v in value:
            yield from _file_ids(v)


def _procedure(row: Row[Any]) -> ProcedureRow:
    return ProcedureRow(row.id, row.slug, row.state, ProcedureDraft.model_validate_json(row.data),
                        from_us(row.updated_at_us))


def _version(row: Row[Any]) -> VersionRow:
    return VersionRow(row.id, row.procedure_id, row.number, row.state, _form_of(row.document),
                      row.created_by, from_us(row.created_at_us), row.requested_by, row.published_by,
                      from_us(row.published_at_us) if row.published_at_us is not None else None)


def _draft(row: Row[Any]) -> DraftRow:
    return DraftRow(row.id, row.version_id, orjson.loads(row.answers), row.page, from_us(row.expires_at_us),
                    row.application_id)


def _application(row: Row[Any]) -> ApplicationRow:
    return ApplicationRow(row.id, row.procedure_id, row.version_id, row.reference, row.status, row.channel,
                          orjson.loads(row.answers), row.assignee, from_us(row.submitted_at_us),
                          from_us(row.updated_at_us))
