"""The staff's door to the online applications: build procedures and forms
without code, publish with a supervisor's or admin's approval, process the
applications, enter paper ones, and export them (issue 14, points 2, 4, 5;
seeds 000 5.2, 002 2.1.2③, 002 2.3).

Every route is under ``/api/forms/`` for signed-in staff; who may edit or
process a procedure is :func:`online_forms.workflow.may_edit` (a section's staff,
their section's procedures); publishing is :func:`~online_forms.workflow.may_publish`.
Every change and every look at an application lands in its history, and
changes to procedures and forms in the audit log.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.responses import Response

from server.api.registry import Ctx, endpoint
from server.core.calendar import TOKYO, business_day
from server.errors import ApiError
from server.storage.database import write_audit
from server.views import iso

from . import engine, reference
from .display import rows
from .export import csv_table
from .form import FormError, parse_form
from .procedure import ProcedureDraft
from .schema import json_schema
from .sharing import read_document, write_shared
from .store import ApplicationRow, FormStore, ProcedureRow, StoreError, VersionRow, us
from .versions import changes
from .workflow import CHANNELS, STATUSES, Channel, may_edit, may_publish

TAG = "forms"
#: The largest form document or shared file, and the largest set of answers, sent in one request (bytes).
DOCUMENT_BYTES = 1024 * 1024
ANSWERS_BYTES = 256 * 1024


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProcedureIn(Body):
    """A new procedure: its fields and, optionally, its first form (else a one-page starter)."""

    procedure: ProcedureDraft
    form: dict[str, Any] | None = None


class FormIn(Body):
    """A form document (see :mod:`online_forms.form`)."""

    form: dict[str, Any]


class StateIn(Body):
    """Open (live) or close (archived) a procedure to new applications."""

    state: Literal["live", "archived"]


class CopyIn(Body):
    """A copy of a procedure and its newest form under a new short name."""

    slug: str = Field(pattern=r"^[a-z][a-z0-9-]{1,39}$")


class SharedIn(Body):
    """A shared form file's content (the JSON object of ``GET …/export``)."""

    file: dict[str, Any]


class StatusIn(Body):
    """A status change; ``message`` says what to correct when returning (差し戻し)."""

    status: Literal["received", "in_progress", "returned", "completed", "rejected"]
    message: str | None = Field(None, max_length=2000)


class BulkStatusIn(StatusIn):
    """The same status change for several applications."""

    ids: list[str] = Field(min_length=1, max_length=200)


class AssignIn(Body):
    """The staff member (id) who handles the application; ``null`` for nobody."""

    staff: str | None = Field(None, max_length=32)


class NoteIn(Body):
    """An internal note (never shown to the citizen)."""

    text: str = Field(min_length=1, max_length=4000)


class EntryIn(Body):
    """An application received on paper, by post or by phone, entered by staff."""

    channel: Literal["paper", "post", "phone"]
    answers: dict[str, Any] = Field(max_length=400)


class SectionsIn(Body):
    """The sections (係) a staff member belongs to."""

    sections: list[str] = Field(max_length=20)


class ListQuery(Body):
    """Filters for the application list (dates in Asia/Tokyo, inclusive)."""

    procedure: str | None = Field(None, max_length=40, description="procedure id or short name")
    status: Literal["received", "in_progress", "returned", "completed", "rejected", "withdrawn"] | None = None
    channel: Literal["online", "paper", "post", "phone", "counter"] | None = None
    assignee: str | None = Field(None, max_length=32)
    date_from: str | None = Field(None, alias="from", pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                                  json_schema_extra={"format": "date"}, description="first day, YYYY-MM-DD")
    date_to: str | None = Field(None, alias="to", pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                                json_schema_extra={"format": "date"}, description="last day, YYYY-MM-DD")

    @field_validator("date_from", "date_to")
    @classmethod
    def _real_day(cls, value: str | None) -> str | None:
        if value is not None:
            date.fromisoformat(value)  # ValueError (a 422) for a day that does not exist
        return value
    q: str | None = Field(None, max_length=100, description="reference, or any text in the answers")
    offset: int = Field(0, ge=0, le=1_000_000)


class CsvQuery(Body):
    """The CSV's encoding: UTF-8 with BOM (default) or Shift_JIS (cp932)."""

    encoding: Literal["utf-8", "shift_jis"] = "utf-8"


STARTER = {"format": 1, "title": {"ja": "申請書", "en": "Application"},
           "pages": [{"id": "applicant", "title": {"ja": "申請者", "en": "Applicant"},
                      "questions": [{"id": "name", "type": "name", "label": {"ja": "氏名", "en": "Name"}}]}]}


def forms(ctx: Ctx) -> FormStore:
    """The online applications' store of the running app."""
    store: FormStore = ctx.services.forms
    return store


def actor(ctx: Ctx) -> str:
    """Who acts: the staff member's id."""
    return ctx.staff or "?"


async def editable(ctx: Ctx, key: str) -> ProcedureRow:
    """Procedure ``key`` if the caller may edit it (403 ``forbidden`` otherwise)."""
    store = forms(ctx)
    procedure = await store.procedure(key)
    sections = await store.sections_of(actor(ctx))
    if not may_edit(ctx.principal.role or "", sections, procedure.fields.section):
        raise ApiError("forbidden", f"「{procedure.fields.section}」の手続は担当の職員だけが扱えます。 "
                                    "Only the owning section's staff may work on this procedure.")
    return procedure


def parsed(document: dict[str, Any]) -> Any:
    """The :class:`Form` of ``document``, or 422 ``form_invalid`` listing every problem."""
    try:
        return parse_form(document)
    except FormError as err:
        raise ApiError("form_invalid", "様式に問題があります。 The form has problems.",
                       [{"field": w or "(form)", "problem": m} for w, m in err.problems[:50]]) from None


async def audit(ctx: Ctx, action: str, detail: str) -> None:
    """One row in the audit log for a change to the catalogue."""
    async with ctx.services.engine.begin() as conn:
        await write_audit(conn, actor(ctx), action, detail, us(ctx.services.clock()))


def procedure_view(p: ProcedureRow, versions: list[VersionRow] | None = None) -> dict[str, Any]:
    """A procedure for staff: its fields, state and versions."""
    out: dict[str, Any] = {"id": p.id, "slug": p.slug, "state": p.state, "updated_at": iso(p.updated_at),
                           **p.fields.model_dump(mode="json")}
    if versions is not None:
        out["versions"] = [version_head(v) for v in versions]
        out["published"] = next((v.number for v in versions if v.state == "published"), None)
        out["draft"] = next((version_head(v) for v in versions if v.state in ("draft", "pending")), None)
    return out


def version_head(v: VersionRow) -> dict[str, Any]:
    """A version without its document."""
    return {"id": v.id, "number": v.number, "state": v.state, "created_by": v.created_by,
            "created_at": iso(v.created_at), "requested_by": v.requested_by, "published_by": v.published_by,
            "published_at": iso(v.published_at) if v.published_at else None}


# ------------------------------------------------------------------ procedures and forms
@endpoint("GET", "/api/forms/procedures", summary="The catalogue (手続一覧)", access="staff", tag=TAG)
async def list_procedures(ctx: Ctx, _: None) -> dict[str, Any]:
    """Every procedure with its state, published version and draft; ``editable``
    says whether the caller may edit it."""
    store = forms(ctx)
    sections = await store.sections_of(actor(ctx))
    out = []
    for p in await store.procedures():
        view = procedure_view(p, await store.versions(p.id))
        view["editable"] = may_edit(ctx.principal.role or "", sections, p.fields.section)
        out.append(view)
    return {"procedures": out, "may_publish": may_publish(ctx.principal.role or ""), "sections": sorted(sections)}


@endpoint("POST", "/api/forms/procedures", summary="Create a procedure", access="staff", tag=TAG, body=ProcedureIn,
          status=201, errors=("conflict", "form_invalid", "forbidden"), max_body=DOCUMENT_BYTES)
async def create_procedure(ctx: Ctx, body: ProcedureIn) -> dict[str, Any]:
    """A new procedure (state draft) whose version 1 is a draft of ``form`` (or a
    one-page starter). Clerks create only in their own sections."""
    store = forms(ctx)
    if not may_edit(ctx.principal.role or "", await store.sections_of(actor(ctx)), body.procedure.section):
        raise ApiError("forbidden", "自分の係の手続だけを作成できます。 "
                                    "You can create procedures of your own section only.")
    form = parsed(body.form or STARTER)
    p = await store.create_procedure(body.procedure, form, actor(ctx))
    await audit(ctx, "forms.procedure_created", p.slug)
    return procedure_view(p, await store.versions(p.id))


@endpoint("GET", "/api/forms/procedures/{pid}", summary="A procedure and its versions", access="staff", tag=TAG,
          errors=("not_found",))
async def get_procedure(ctx: Ctx, _: None) -> dict[str, Any]:
    """The procedure, every version's head, and the draft's changes since the published version."""
    store = forms(ctx)
    p = await store.procedure(ctx.path["pid"])
    versions = await store.versions(p.id)
    return procedure_view(p, versions)


@endpoint("PUT", "/api/forms/procedures/{pid}", summary="Change a procedure's details", access="staff", tag=TAG,
          body=ProcedureDraft, errors=("not_found", "conflict", "forbidden"))
async def update_procedure(ctx: Ctx, body: ProcedureDraft) -> dict[str, Any]:
    """Names, description, section, category, life events, keywords, reference
    pattern, retention, fee, identity level."""
    p = await editable(ctx, ctx.path["pid"])
    store = forms(ctx)
    if body.section != p.fields.section and not may_edit(ctx.principal.role or "", await store.sections_of(actor(ctx)),
                                                         body.section):
        raise ApiError("forbidden", "自分の係にだけ移せます。 You can move a procedure to your own section only.")
    updated = await store.update_procedure(p.id, body)
    await audit(ctx, "forms.procedure_changed", updated.slug)
    return procedure_view(updated, await store.versions(p.id))


@endpoint("PUT", "/api/forms/procedures/{pid}/state", summary="Open or close a procedure", access="supervisor",
          tag=TAG, body=StateIn, errors=("not_found", "not_published", "forbidden"))
async def set_state(ctx: Ctx, body: StateIn) -> dict[str, Any]:
    """``live`` takes applications (needs a published version); ``archived`` takes none."""
    p = await editable(ctx, ctx.path["pid"])
    updated = await forms(ctx).set_state(p.id, body.state)
    await audit(ctx, "forms.procedure_state", f"{p.slug}: {body.state}")
    return procedure_view(updated)


@endpoint("GET", "/api/forms/procedures/{pid}/versions/{number}", summary="One version of a form", access="staff",
          tag=TAG, errors=("not_found",))
async def get_version(ctx: Ctx, _: None) -> dict[str, Any]:
    """The version's form, its JSON Schema and its changes against the published version."""
    store = forms(ctx)
    p = await store.procedure(ctx.path["pid"])
    version = _numbered(await store.versions(p.id), ctx.path["number"])
    published = await store.published(p.id)
    base = published if published is not None and published.id != version.id else None
    return {**version_head(version), "form": version.form.model_dump(mode="json", exclude_defaults=True),
            "schema": json_schema(version.form),
            "changes": [{"kind": c.kind, "what": c.what, "id": c.id, "fields": list(c.fields), "detail": c.detail}
                        for c in changes(base.form if base else None, version.form)],
            "compared_with": base.number if base else None}


def _unencodable(header: list[str], row: list[str], encoding: str) -> tuple[str, str, str]:
    """Where a row cannot be written in ``encoding``: its reference, the column and the character."""
    for name, cell in zip(header, row, strict=False):
        for char in cell:
            try:
                char.encode(encoding)
            except UnicodeEncodeError:
                return row[0], name, char
    return row[0], "?", "?"


def _numbered(versions: list[VersionRow], number: str) -> VersionRow:
    found = next((v for v in versions if str(v.number) == number), None)
    if found is None:
        raise StoreError("not_found", "その版はありません。 No such form version.")
    return found


@endpoint("PUT", "/api/forms/procedures/{pid}/draft", summary="Save the form's draft", access="staff", tag=TAG,
          body=FormIn, errors=("not_found", "form_invalid", "forbidden"), max_body=DOCUMENT_BYTES)
async def save_draft(ctx: Ctx, body: FormIn) -> dict[str, Any]:
    """Keeps the form as the draft (a pending one goes back to draft). Published
    versions never change: editing after publication makes the next version."""
    p = await editable(ctx, ctx.path["pid"])
    version = await forms(ctx).save_draft(p.id, parsed(body.form), actor(ctx))
    return version_head(version)


@endpoint("POST", "/api/forms/procedures/{pid}/draft/request", summary="Ask for the draft to be published",
          access="staff", tag=TAG, errors=("not_found", "no_draft", "forbidden"))
async def request_publication(ctx: Ctx, _: None) -> dict[str, Any]:
    """Draft → pending: a supervisor or admin publishes it."""
    p = await editable(ctx, ctx.path["pid"])
    version = await forms(ctx).request_publication(p.id, actor(ctx))
    await audit(ctx, "forms.publication_requested", f"{p.slug} v{version.number}")
    return version_head(version)


class PublishIn(Body):
    """The version the approver looked at (its number)."""

    number: int = Field(ge=1, strict=True)


@endpoint("POST", "/api/forms/procedures/{pid}/draft/publish", summary="Publish the draft (approve)",
          access="supervisor", tag=TAG, body=PublishIn, errors=("not_found", "no_draft", "forbidden"))
async def publish(ctx: Ctx, body: PublishIn) -> dict[str, Any]:
    """Version ``number`` becomes the one citizens fill, if it was sent for
    approval and has not changed since (or is a draft the approver saved
    themselves); the one before is retired; applications keep pointing to the
    version they were made on."""
    p = await editable(ctx, ctx.path["pid"])
    version = await forms(ctx).publish(p.id, body.number, actor(ctx))
    await audit(ctx, "forms.published", f"{p.slug} v{version.number}")
    return version_head(version)


@endpoint("POST", "/api/forms/procedures/{pid}/versions/{number}/restore", summary="Restore a version as the draft",
          access="staff", tag=TAG, errors=("not_found", "forbidden"))
async def restore(ctx: Ctx, _: None) -> dict[str, Any]:
    """The old version's form becomes the draft (the next version when published)."""
    p = await editable(ctx, ctx.path["pid"])
    number = ctx.path["number"]
    if not number.isdigit():
        raise StoreError("not_found", "その版はありません。 No such form version.")
    version = await forms(ctx).restore(p.id, int(number), actor(ctx))
    await audit(ctx, "forms.restored", f"{p.slug} v{number} → draft v{version.number}")
    return version_head(version)


@endpoint("GET", "/api/forms/procedures/{pid}/export", summary="The procedure as one shared file", access="staff",
          tag=TAG, errors=("not_found",))
async def export_shared(ctx: Ctx, _: None) -> Response:
    """The procedure and its newest form as one JSON file another city can import."""
    store = forms(ctx)
    p = await store.procedure(ctx.path["pid"])
    newest = (await store.versions(p.id))[0]
    data = write_shared(p.fields, newest.form, {"version": newest.number, "at": iso(ctx.services.clock())})
    return Response(data, media_type="application/json",
                    headers={"Content-Disposition": f'attachment; filename="{p.slug}.json"'})


@endpoint("POST", "/api/forms/import", summary="Import a shared form file", access="staff", tag=TAG, body=SharedIn,
          status=201, errors=("form_invalid", "conflict", "forbidden"), max_body=DOCUMENT_BYTES)
async def import_shared(ctx: Ctx, body: SharedIn) -> dict[str, Any]:
    """A new procedure (draft) from another city's file; every problem in the file
    is listed at once and nothing is stored from a file with one. A running-number
    reference pattern that a procedure here already uses is replaced by random
    references (``{rand:4}-{rand:4}``) until staff choose another."""
    try:
        fields, form = read_document(body.file)
    except FormError as err:
        raise ApiError("form_invalid", "ファイルに問題があります。 The file has problems.",
                       [{"field": w or "(file)", "problem": m} for w, m in err.problems[:50]]) from None
    # A running-number pattern another procedure here uses already: random references until staff choose one.
    if "{seq" in fields.reference_pattern and any(
            p.fields.reference_pattern == fields.reference_pattern for p in await forms(ctx).procedures()):
        fields = fields.model_copy(update={"reference_pattern": reference.DEFAULT})
    created: dict[str, Any] = await create_procedure(ctx, ProcedureIn(
        procedure=fields, form=form.model_dump(mode="json", exclude_defaults=True)))
    return created


@endpoint("POST", "/api/forms/procedures/{pid}/copy", summary="Copy a procedure and its form", access="staff",
          tag=TAG, body=CopyIn, status=201, errors=("not_found", "conflict", "forbidden"))
async def copy(ctx: Ctx, body: CopyIn) -> dict[str, Any]:
    """A new draft procedure under ``slug`` with the newest form of this one."""
    store = forms(ctx)
    p = await store.procedure(ctx.path["pid"])
    newest = (await store.versions(p.id))[0]
    # A running number is the original's own: the copy draws random references until staff choose a pattern.
    pattern = p.fields.reference_pattern if "{seq" not in p.fields.reference_pattern else reference.DEFAULT
    fields = p.fields.model_copy(update={"slug": body.slug, "reference_pattern": pattern})
    created: dict[str, Any] = await create_procedure(ctx, ProcedureIn(
        procedure=fields, form=newest.form.model_dump(mode="json", exclude_defaults=True)))
    return created


@endpoint("PUT", "/api/forms/sections/{staff_id}", summary="Set a staff member's sections (係)", access="admin",
          tag=TAG, body=SectionsIn)
async def set_sections(ctx: Ctx, body: SectionsIn) -> dict[str, Any]:
    """Which sections' procedures the staff member edits and processes."""
    sections = await forms(ctx).set_sections(ctx.path["staff_id"], [s.strip() for s in body.sections if s.strip()])
    await audit(ctx, "forms.sections", f"{ctx.path['staff_id']}: {', '.join(sorted(sections))}")
    return {"staff": ctx.path["staff_id"], "sections": sorted(sections)}


# ------------------------------------------------------------------ applications
async def visible_procedures(ctx: Ctx) -> dict[str, ProcedureRow]:
    """The procedures whose applications the caller may see, by id."""
    store = forms(ctx)
    sections = await store.sections_of(actor(ctx))
    return {p.id: p for p in await store.procedures()
            if may_edit(ctx.principal.role or "", sections, p.fields.section)}


async def application_of(ctx: Ctx) -> tuple[ApplicationRow, ProcedureRow]:
    """The application in the path, if the caller may see it (else 404)."""
    app = await forms(ctx).application(ctx.path["aid"])
    procedure = (await visible_procedures(ctx)).get(app.procedure_id)
    if procedure is None:
        raise StoreError("not_found", "その申請はありません。 No such application.")
    return app, procedure


def application_head(app: ApplicationRow, p: ProcedureRow) -> dict[str, Any]:
    """One row of the list."""
    return {"id": app.id, "reference": app.reference, "procedure": {"id": p.id, "slug": p.slug,
                                                                     "name": p.fields.name.model_dump()},
            "status": app.status, "status_label": STATUSES[app.status], "channel": app.channel,
            "channel_label": CHANNELS[app.channel], "assignee": app.assignee, "submitted_at": iso(app.submitted_at),
            "updated_at": iso(app.updated_at)}


@endpoint("GET", "/api/forms/applications", summary="Applications (申請一覧)", access="staff", tag=TAG,
          query=ListQuery)
async def list_applications(ctx: Ctx, _: None) -> dict[str, Any]:
    """Newest first, 200 at a time (``offset``), filtered by procedure, status,
    channel, assignee, date (Asia/Tokyo) and text."""
    query: ListQuery = ctx.query
    visible = await visible_procedures(ctx)
    ids = list(visible)
    if query.procedure:
        ids = [pid for pid, p in visible.items() if query.procedure in (pid, p.slug)]
    since = datetime.combine(date.fromisoformat(query.date_from), time(), TOKYO) if query.date_from else None
    until = (datetime.combine(date.fromisoformat(query.date_to), time(), TOKYO) + timedelta(days=1)
             if query.date_to else None)
    found = await forms(ctx).applications(procedures=ids, status=query.status, channel=query.channel,
                                          assignee=query.assignee, since=since, until=until, text=query.q,
                                          offset=query.offset)
    return {"applications": [application_head(a, visible[a.procedure_id]) for a in found],
            "statuses": [{"id": k, "label": v} for k, v in STATUSES.items()],
            "channels": [{"id": k, "label": v} for k, v in CHANNELS.items()]}


@endpoint("GET", "/api/forms/applications/{aid}", summary="One application (recorded as viewed)", access="staff",
          tag=TAG, errors=("not_found",))
async def get_application(ctx: Ctx, _: None) -> dict[str, Any]:
    """Answers as shown, attachments, history (every change and every view), and
    the form version it was made on. The view itself is recorded."""
    app, procedure = await application_of(ctx)
    store = forms(ctx)
    await store.viewed(app.id, actor(ctx))
    version = await store.version(app.version_id)
    files = await store.files_of(app.id)
    history = await store.history(app.id)
    names = await staff_names(ctx, {h.actor for h in history} | ({app.assignee} if app.assignee else set()))
    return {**application_head(app, procedure), "version": version.number,
            "assignee_name": names.get(app.assignee or "", None),
            "rows": [{"page": r.page, "path": r.path, "label": r.label, "value": r.value}
                     for r in rows(version.form, app.answers)],
            "answers": app.answers,
            "files": [{"id": f.id, "name": f.name, "type": f.type, "size": f.size} for f in files.values()],
            "history": [{"at": iso(h.at), "actor": h.actor, "actor_name": names.get(h.actor, h.actor),
                         "action": h.action, "detail": h.detail} for h in history]}


async def staff_names(ctx: Ctx, ids: set[str]) -> dict[str, str]:
    """Display names of the staff ids among ``ids`` (others, e.g. ``citizen``, are left out)."""
    from sqlalchemy import select

    from server.storage import schema

    async with ctx.services.engine.connect() as conn:
        found = (await conn.execute(select(schema.staff.c.id, schema.staff.c.display_name)
                                    .where(schema.staff.c.id.in_(sorted(ids))))).all()
    return {r.id: r.display_name for r in found}


@endpoint("GET", "/api/forms/applications/{aid}/files/{fid}", summary="An attachment (recorded as viewed)",
          access="staff", tag=TAG, errors=("not_found",), media_type="application/octet-stream")
async def get_file(ctx: Ctx, _: None) -> Response:
    """The file's bytes, with its type; sent as a download, never shown inline."""
    app, _procedure = await application_of(ctx)
    store = forms(ctx)
    info = (await store.files_of(app.id)).get(ctx.path["fid"])
    if info is None:
        raise StoreError("not_found", "そのファイルはありません。 No such file.")
    await store.viewed(app.id, actor(ctx), f"file {info.name}")
    from urllib.parse import quote

    data = await store.offload(store.file_path(info.id).read_bytes)   # up to 20 MB: off the event loop
    return Response(data, media_type=info.type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.name)}",
        "X-Content-Type-Options": "nosniff"})


@endpoint("PUT", "/api/forms/applications/{aid}/status", summary="Change an application's status", access="staff",
          tag=TAG, body=StatusIn, errors=("not_found", "application_closed", "status_not_allowed", "message_required"))
async def set_status(ctx: Ctx, body: StatusIn) -> dict[str, Any]:
    """受付 → 処理中 → 完了/却下, or 差し戻し with a message the citizen reads on
    their receipt page (they correct and resubmit)."""
    app, procedure = await application_of(ctx)
    updated = await forms(ctx).set_status(app.id, body.status, actor(ctx), body.message)
    return application_head(updated, procedure)


@endpoint("POST", "/api/forms/applications/status", summary="Change several applications' status", access="staff",
          tag=TAG, body=BulkStatusIn, errors=("not_found",))
async def bulk_status(ctx: Ctx, body: BulkStatusIn) -> dict[str, Any]:
    """Each application is changed on its own; ``failed`` lists those the rules
    refused, with why (the others are changed)."""
    visible = await visible_procedures(ctx)
    store = forms(ctx)
    done, failed = [], []
    for aid in dict.fromkeys(body.ids):
        try:
            app = await store.application(aid)
            if app.procedure_id not in visible:
                raise StoreError("not_found", "その申請はありません。 No such application.")
            done.append(application_head(await store.set_status(app.id, body.status, actor(ctx), body.message),
                                         visible[app.procedure_id]))
        except StoreError as err:
            failed.append({"id": aid, "code": err.code, "message": err.message})
        except Exception as err:
            code = getattr(err, "code", None)
            if code is None:
                raise
            failed.append({"id": aid, "code": code, "message": getattr(err, "message", str(err))})
    return {"changed": done, "failed": failed}


@endpoint("PUT", "/api/forms/applications/{aid}/assignee", summary="Assign an application", access="staff", tag=TAG,
          body=AssignIn, errors=("not_found",))
async def assign(ctx: Ctx, body: AssignIn) -> dict[str, Any]:
    """Who handles it (a staff id), or nobody."""
    app, procedure = await application_of(ctx)
    return application_head(await forms(ctx).assign(app.id, body.staff, actor(ctx)), procedure)


@endpoint("POST", "/api/forms/applications/{aid}/notes", summary="Add an internal note", access="staff", tag=TAG,
          body=NoteIn, status=201, errors=("not_found",))
async def add_note(ctx: Ctx, body: NoteIn) -> dict[str, Any]:
    """A note for colleagues, in the history; never shown to the citizen."""
    app, _procedure = await application_of(ctx)
    await forms(ctx).note(app.id, actor(ctx), body.text)
    return {"noted": True}


@endpoint("POST", "/api/forms/procedures/{pid}/applications", summary="Enter a paper, post or phone application",
          access="staff", tag=TAG, body=EntryIn, status=201,
          errors=("not_found", "answers_invalid", "procedure_not_open", "forbidden"), max_body=ANSWERS_BYTES)
async def enter(ctx: Ctx, body: EntryIn) -> dict[str, Any]:
    """The same form and the same checks as online; the channel is recorded, and
    the staff member who entered it is the actor in its history."""
    p = await editable(ctx, ctx.path["pid"])
    store = forms(ctx)
    version = await store.published(p.id)
    if version is None or p.state != "live":
        raise StoreError("procedure_not_open", "この手続は受付中ではありません。 This procedure is not open.")
    checked = engine.check(version.form, body.answers, today=business_day(ctx.services.clock()),
                           files=await store.files_of(actor(ctx)))
    if checked.errors or checked.exit:
        from .citizen_api import field_details

        raise ApiError("answers_invalid", "入力内容を確認してください。 Check the answers marked.",
                       field_details(checked.errors)
                       or [{"field": "", "problem": "exit_page", "message": checked.exit or ""}])
    channel: Channel = body.channel
    app, _token = await store.submit(version, checked.answers, channel=channel, submission_key=uuid.uuid4().hex,
                                     actor=actor(ctx), files_owner=actor(ctx))
    return application_head(app, p)


class EntryFileQuery(Body):
    """Which file question of the published form the scanned paper answers."""

    question: str = Field(min_length=1, max_length=81, description="question id (group.index.id inside a group)")


@endpoint("POST", "/api/forms/procedures/{pid}/files", summary="Attach a scanned paper to an entry", access="staff",
          tag=TAG, query=EntryFileQuery, status=201, headers=(("X-File-Name", "The file's name, percent-encoded."),),
          errors=("not_found", "procedure_not_open", "file_type", "file_too_large", "bad_file", "answers_invalid",
                  "forbidden"))
async def attach_for_entry(ctx: Ctx, _: None) -> dict[str, Any]:
    """The body is the file itself (``application/octet-stream``), checked like a
    citizen's (type read from the bytes, size); its ``id`` goes in the entry's
    answers as ``{"id": …}``. Files attached and not used by an entry are deleted
    after an hour."""
    from .citizen_api import file_question, receive_file

    p = await editable(ctx, ctx.path["pid"])
    store = forms(ctx)
    version = await store.published(p.id)
    if version is None or p.state != "live":
        raise StoreError("procedure_not_open", "この手続は受付中ではありません。 This procedure is not open.")
    query: EntryFileQuery = ctx.query
    name, media_type, data = await receive_file(ctx, file_question(version.form, query.question))
    info = await store.add_attachment(actor(ctx), name, media_type, data)
    return {"id": info.id, "name": info.name, "type": info.type, "size": info.size}


@endpoint("GET", "/api/forms/procedures/{pid}/applications.csv", summary="Applications as CSV", access="staff",
          tag=TAG, query=CsvQuery, errors=("not_found", "not_encodable"), media_type="text/csv")
async def export_csv(ctx: Ctx, _: None) -> Response:
    """One row per application, columns stable across form versions (each answer
    by its question id; names and addresses in their parts; groups numbered).
    UTF-8 with BOM, or Shift_JIS (cp932) on request, refused with 422
    ``not_encodable`` naming the application and column when a character (an
    MJ character, an IVS) cannot be written in it."""
    p = await editable(ctx, ctx.path["pid"])
    store = forms(ctx)
    query: CsvQuery = ctx.query
    every = await store.versions(p.id)
    versions = [v for v in every if v.state in ("published", "retired")]
    numbers = {v.id: v.number for v in every}
    apps = await store.applications(procedures=[p.id], limit=1_000_000)
    header, table = csv_table([(v.number, v.form) for v in versions], [
        (a, numbers[a.version_id], {"reference": a.reference, "status": a.status, "channel": a.channel,
                                    "submitted_at": iso(a.submitted_at), "version": numbers[a.version_id]})
        for a in reversed(apps)])
    encoding = "utf-8" if query.encoding == "utf-8" else "cp932"
    out = io.BytesIO()
    out.write(b"\xef\xbb\xbf" if encoding == "utf-8" else b"")  # Excel reads UTF-8 by its BOM
    for row in [header, *table]:
        line = io.StringIO()
        csv.writer(line, lineterminator="\r\n").writerow(row)
        try:
            out.write(line.getvalue().encode(encoding))
        except UnicodeEncodeError:
            where, column, bad = _unencodable(header, row, encoding)
            raise ApiError("not_encodable", f"Shift_JISで書けない文字「{bad}」があります（{where} の {column}）。"
                                            "UTF-8で出力してください。 "
                                            f"A character cannot be written in Shift_JIS ({where}, {column}); "
                                            "export as UTF-8.") from None
    data = out.getvalue()
    charset = "utf-8" if encoding == "utf-8" else "shift_jis"
    await audit(ctx, "forms.exported", f"{p.slug}: {len(table)} applications ({query.encoding})")
    return Response(data, media_type=f"text/csv; charset={charset}",
                    headers={"Content-Disposition": f'attachment; filename="{p.slug}.csv"'})
