"""The citizens' door: find a procedure, fill its form page by page, save and
resume, check the answers, submit exactly once, and follow the application
through its receipt (issue 14, point 3; seeds 000 8.1, 001 6(2), 002 2.1.2).

Every route is under ``/apply/api/`` and public: a draft is reached with its
resume code (header ``X-Draft-Code``), an application with its receipt token
(header ``X-Receipt-Token``); neither travels in a URL, so neither lands in an
access log. Nothing here reads or changes staff data, and no staff route is
reachable through the citizens' app (:func:`online_forms.app.citizen_app`).

The engine decides (:mod:`online_forms.engine`); the browser only previews.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from server.api.registry import Ctx, JSONResponse, endpoint
from server.core.calendar import business_day
from server.errors import ApiError
from server.views import iso

from . import engine, postal
from .answers import FileInfo, check_file
from .display import rows
from .files import sniff
from .form import Form
from .procedure import CATEGORIES, LIFE_EVENTS, matches
from .schema import json_schema, validate
from .store import ApplicationRow, DraftRow, FormStore, ProcedureRow, StoreError, VersionRow, digest, normal_code
from .workflow import FINAL, STATUSES

log = logging.getLogger(__name__)
TAG = "apply"
#: The largest set of answers saved in one request (bytes).
ANSWERS_BYTES = 256 * 1024
#: The largest attachment accepted at all (a question may allow less).
MAX_UPLOAD = 20 * 1024 * 1024
#: What one draft may hold in attachments, so no one fills the disk without signing in (issue 14, point 7).
MAX_DRAFT_FILES = 20
MAX_DRAFT_BYTES = 60 * 1024 * 1024


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CatalogueQuery(Body):
    """Catalogue search: every word of ``q`` (kana- and width-insensitive), and/or a category or life event."""

    q: str | None = Field(None, max_length=100, description="words to find, e.g. じゅうみんひょう")
    category: str | None = Field(None, max_length=40, description=f"one of {', '.join(CATEGORIES)}")
    life_event: str | None = Field(None, max_length=40, description=f"one of {', '.join(LIFE_EVENTS)}")


class StartIn(Body):
    """Start filling a procedure's form."""

    procedure: str = Field(min_length=1, max_length=40, description="the procedure's short name (slug)")


class AnswersIn(Body):
    """Answers so far (question id → answer) and the page just filled (checked; ``null``: only save)."""

    answers: dict[str, Any] = Field(max_length=400)
    page: str | None = Field(None, max_length=40)


class SubmitIn(Body):
    """The form version the citizen checked their answers on."""

    version_id: str = Field(min_length=1, max_length=32)


class UploadQuery(Body):
    """Which file question the attachment answers."""

    question: str = Field(min_length=1, max_length=81, description="question id (group.index.id inside a group)")


def forms(ctx: Ctx) -> FormStore:
    """The online applications' store of the running app."""
    return ctx.services.forms


def today(ctx: Ctx) -> date:
    """The Asia/Tokyo date now."""
    return business_day(ctx.services.clock())


def procedure_summary(p: ProcedureRow, lang: str = "ja") -> dict[str, Any]:
    """What the catalogue shows of a procedure (no staff fields)."""
    f = p.fields
    return {
        "slug": p.slug, "name": f.name.model_dump(), "description": f.description.model_dump(),
        "section": f.section, "category": f.category, "category_label": CATEGORIES[f.category],
        "life_events": [{"id": e, "label": LIFE_EVENTS[e]} for e in f.life_events],
        "fee_yen": f.fee_yen, "identity": f.identity, "open": p.state == "live",
    }


def version_view(v: VersionRow) -> dict[str, Any]:
    """A version as the runner needs it: id, number and the form document."""
    return {"id": v.id, "number": v.number, "form": v.form.model_dump(mode="json", exclude_defaults=True)}


async def live_version(store: FormStore, slug: str) -> tuple[ProcedureRow, VersionRow]:
    """The live procedure ``slug`` and its published version. Raises StoreError
    ``not_found`` or ``procedure_not_open``."""
    procedure = await store.procedure(slug)
    version = await store.published(procedure.id)
    if procedure.state != "live" or version is None:
        raise StoreError("procedure_not_open", "この手続は現在オンラインで受け付けていません。 "
                                               "This procedure is not open for online applications now.")
    return procedure, version


@endpoint("GET", "/apply/api/procedures", summary="Find procedures (手続を探す)", access="public", tag=TAG,
          query=CatalogueQuery)
async def catalogue(ctx: Ctx, _: None) -> dict[str, Any]:
    """Live procedures matching every word of ``q`` (kana, width and case do not
    matter; readings count), in a category or for a life event; with the lists of
    categories and life events to browse by."""
    query: CatalogueQuery = ctx.query
    found = [p for p in await forms(ctx).procedures(states=("live",))
             if (not query.q or matches(p.fields, query.q))
             and (not query.category or p.fields.category == query.category)
             and (not query.life_event or query.life_event in p.fields.life_events)]
    return {
        "procedures": [procedure_summary(p) for p in found],
        "categories": [{"id": k, "label": v} for k, v in CATEGORIES.items()],
        "life_events": [{"id": k, "label": v} for k, v in LIFE_EVENTS.items()],
    }


@endpoint("GET", "/apply/api/procedures/{slug}", summary="A procedure and its form", access="public", tag=TAG,
          errors=("not_found", "procedure_not_open"))
async def procedure_form(ctx: Ctx, _: None) -> dict[str, Any]:
    """The procedure and the form version citizens fill now."""
    procedure, version = await live_version(forms(ctx), ctx.path["slug"])
    return {"procedure": procedure_summary(procedure), "version": version_view(version)}


@endpoint("POST", "/apply/api/drafts", summary="Start an application (入力を始める)", access="public", tag=TAG,
          body=StartIn, status=201, errors=("not_found", "procedure_not_open"))
async def start_draft(ctx: Ctx, body: StartIn) -> dict[str, Any]:
    """A saved draft on the published form. The answer's ``code`` is the draft's
    resume code: the page keeps it for this visit and shows it when the citizen
    saves to resume later."""
    store = forms(ctx)
    address = ctx.request.client.host if ctx.request.client else "?"
    if not ctx.services.limits.hit_apply_start(address):
        raise ApiError("rate_limited", "この端末からの申請の開始が多すぎます。しばらくしてからお試しください。"
                                       " Too many applications started from here; try again later.",
                       retry_after_s=3600)
    procedure, version = await live_version(store, body.procedure)
    draft, code = await store.start_draft(version.id)
    return {"code": code, **await draft_view(store, draft, procedure, version)}


async def draft_view(store: FormStore, draft: DraftRow, procedure: ProcedureRow, version: VersionRow,
                     updated: bool = False) -> dict[str, Any]:
    """A draft as the runner resumes it."""
    files = await files_for(store, draft)
    return {
        "procedure": procedure_summary(procedure), "version": version_view(version), "answers": draft.answers,
        "page": draft.page, "expires_at": iso(draft.expires_at), "form_updated": updated,
        "correcting": draft.application_id is not None,
        "files": {f.id: {"name": f.name, "type": f.type, "size": f.size} for f in files.values()},
    }


async def current_draft(ctx: Ctx) -> tuple[FormStore, DraftRow]:
    """The draft of the request's ``X-Draft-Code``. Raises StoreError ``draft_not_found``."""
    code = ctx.request.headers.get("x-draft-code", "")
    if not code or len(code) > 40:
        raise StoreError("draft_not_found", "保存した入力が見つかりません。 No saved application was found.")
    store = forms(ctx)
    return store, await store.draft(code)


async def fresh(store: FormStore, draft: DraftRow) -> tuple[DraftRow, ProcedureRow, VersionRow, bool]:
    """The draft on the form citizens fill now: when a newer version was published
    since it was started, it moves to it (answers kept; the engine drops what no
    longer fits) and ``True`` says so."""
    version = await store.version(draft.version_id)
    procedure, published = await live_version(store, version.procedure_id)
    if published.id != version.id:
        return await store.move_draft(draft.id, published.id), procedure, published, True
    return draft, procedure, version, False


@endpoint("GET", "/apply/api/draft", summary="Resume a saved application (再開)", access="public", tag=TAG,
          credential="draftCode", errors=("draft_not_found", "procedure_not_open"))
async def resume_draft(ctx: Ctx, _: None) -> dict[str, Any]:
    """The saved answers, the page reached and the form (the newest published
    version: ``form_updated`` when it changed since)."""
    store, draft = await current_draft(ctx)
    draft, procedure, version, updated = await fresh(store, draft)
    return await draft_view(store, draft, procedure, version, updated)


@endpoint("DELETE", "/apply/api/draft", summary="Discard a saved application", access="public", tag=TAG,
          credential="draftCode", errors=("draft_not_found",))
async def discard(ctx: Ctx, _: None) -> dict[str, Any]:
    """Deletes the draft and its attachments."""
    store, draft = await current_draft(ctx)
    await store.discard_draft(draft.id)
    return {"discarded": True}


async def files_for(store: FormStore, draft: DraftRow) -> dict[str, FileInfo]:
    """Attachments the draft's answers may name (its own, and a corrected application's)."""
    files = await store.files_of(draft.id)
    if draft.application_id:
        files |= await store.files_of(draft.application_id)
    return files


def field_details(errors: list[engine.FieldError]) -> list[dict[str, Any]]:
    """Engine errors as the envelope's details (``field``, ``problem``, ``message``)."""
    return [{"field": e.path, "problem": e.code, "message": e.message} for e in errors[:100]]


@endpoint("PUT", "/apply/api/draft", summary="Save answers and continue (次へ)", access="public", tag=TAG,
          body=AnswersIn, credential="draftCode",
          errors=("draft_not_found", "answers_invalid", "procedure_not_open"), max_body=ANSWERS_BYTES)
async def save(ctx: Ctx, body: AnswersIn) -> dict[str, Any]:
    """Keeps the answers as given (so nothing typed is lost) and checks the page
    ``page``: with errors the answer is 422 ``answers_invalid`` whose details
    name each field (for the error summary); else ``next`` is the page to show
    (``null``: check your answers), ``exit`` an exit page reached, and
    ``shown`` which questions each page (and each group item) shows for these
    answers: a page saved with ``page: null`` as the citizen types learns which
    conditional questions to show, decided by the server."""
    store, draft = await current_draft(ctx)
    draft, _, version, updated = await fresh(store, draft)
    form = version.form
    if body.page is not None and form.page(body.page) is None:
        raise ApiError("answers_invalid", "このページはこの様式にありません。 This page is not in the form.",
                       [{"field": "page", "problem": "unknown_page", "message": body.page}])
    await store.save_answers(draft.id, body.answers, body.page)
    files = await files_for(store, draft)
    checked = engine.check(form, body.answers, today=today(ctx), files=files, only_page=body.page)
    if body.page is not None and checked.errors:
        raise ApiError("answers_invalid", "入力内容を確認してください。 Check the answers marked.",
                       field_details(checked.errors))
    nxt = engine.next_page(form, body.answers, body.page, today=today(ctx), files=files) if body.page else None
    return {"next": nxt, "exit": checked.exit, "pages": checked.pages, "shown": checked.shown,
            "form_updated": updated, "version_id": version.id}


@endpoint("POST", "/apply/api/draft/files", summary="Attach a file (添付)", access="public", tag=TAG,
          headers=(("X-File-Name", "The file's name, percent-encoded (UTF-8)."),), credential="draftCode",
          query=UploadQuery,
          status=201, errors=("draft_not_found", "file_type", "file_too_large", "bad_file", "answers_invalid"))
async def upload(ctx: Ctx, _: None) -> dict[str, Any]:
    """The request body is the file itself (``application/octet-stream``). Its
    type is read from its bytes and checked with its size against the question;
    it is kept under a random id, never under its name. The answer's ``id`` goes
    into the answers as ``{"id": …}``."""
    store, draft = await current_draft(ctx)
    draft, _p, version, _u = await fresh(store, draft)
    query: UploadQuery = ctx.query
    question = file_question(version.form, query.question)
    held = await store.files_of(draft.id)
    if len(held) >= MAX_DRAFT_FILES or sum(f.size for f in held.values()) >= MAX_DRAFT_BYTES:
        mb = MAX_DRAFT_BYTES // 1024 // 1024
        raise StoreError("file_too_large", f"添付できるのは1件の申請につき{MAX_DRAFT_FILES}ファイル・{mb}MBまでです。 "
                                           f"An application holds at most {MAX_DRAFT_FILES} files, {mb} MB in all.")
    name, media_type, data = await receive_file(ctx, question)
    info = await store.add_attachment(draft.id, name, media_type, data)
    return {"id": info.id, "name": info.name, "type": info.type, "size": info.size}


async def receive_file(ctx: Ctx, question: Any) -> tuple[str, str, bytes]:
    """The request body as a file for ``question``: ``(name, media type, bytes)``,
    its size and type (read from the bytes) checked against the question.
    Raises StoreError ``file_too_large``/``bad_file``, AnswerError ``file_type``."""
    from urllib.parse import unquote

    declared = ctx.request.headers.get("content-length")
    limit = min(question.max_bytes or MAX_UPLOAD, MAX_UPLOAD)
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise StoreError("file_too_large", f"ファイルは{limit / 1024 / 1024:g}MBまでです。 "
                                           f"The file must be at most {limit / 1024 / 1024:g} MB.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in ctx.request.stream():
        size += len(chunk)
        if size > limit:
            raise StoreError("file_too_large", f"ファイルは{limit / 1024 / 1024:g}MBまでです。 "
                                               f"The file must be at most {limit / 1024 / 1024:g} MB.")
        chunks.append(chunk)
    data = b"".join(chunks)
    if not data:
        raise StoreError("bad_file", "空のファイルです。 The file is empty.")
    media_type = await forms(ctx).offload(sniff, data)
    check_file(question, media_type, len(data))
    return unquote(ctx.request.headers.get("x-file-name", "file"))[:200], media_type, data


def file_question(form: Form, path: str) -> Any:
    """The file question at ``path`` (``id``, or ``group.n.id``) of ``form``; 422 otherwise."""
    parts = path.split(".")
    top = form.question(parts[0])
    q = top
    if top is not None and top.type == "group" and len(parts) == 3 and parts[1].isdigit():
        q = next((s for s in top.questions if s.id == parts[2]), None)
    elif len(parts) != 1:
        q = None
    if q is None or q.type != "file":
        raise ApiError("answers_invalid", "ファイルを添付する質問ではありません。 This question does not take a file.",
                       [{"field": "question", "problem": "not_a_file_question", "message": path}])
    return q


@endpoint("GET", "/apply/api/draft/review", summary="Check your answers (入力内容の確認)", access="public", tag=TAG,
          credential="draftCode", errors=("draft_not_found", "procedure_not_open"))
async def review(ctx: Ctx, _: None) -> dict[str, Any]:
    """Every answer that will be sent, as it will be stored and shown, grouped by
    page (each with a change link's page id); ``errors`` left to fix; ``ready``
    when it can be submitted."""
    store, draft = await current_draft(ctx)
    draft, procedure, version, updated = await fresh(store, draft)
    checked = engine.check(version.form, draft.answers, today=today(ctx), files=await files_for(store, draft))
    shown = [{"page": r.page, "page_id": _page_of(version.form, r.path), "path": r.path, "label": r.label,
              "value": r.value} for r in rows(version.form, checked.answers)]
    return {"procedure": procedure_summary(procedure), "version_id": version.id, "rows": shown,
            "errors": field_details(checked.errors), "exit": checked.exit, "form_updated": updated,
            "ready": checked.ok and checked.exit is None}


def _page_of(form: Form, path: str) -> str:
    top = path.split(".", 1)[0]
    return next((p.id for p, q in form.questions() if q.id == top), "")


@endpoint("POST", "/apply/api/draft/submit", summary="Send the application (送信)", access="public", tag=TAG,
          body=SubmitIn, credential="draftCode", status=201,
          errors=("draft_not_found", "form_version_stale", "answers_invalid", "not_eligible", "procedure_not_open",
                  "not_returned"))
async def submit(ctx: Ctx, body: SubmitIn) -> Response | dict[str, Any]:
    """Sends the draft's answers as checked on version ``version_id``. Exactly
    once: sent again with the same code (a double tap, a reloaded page), the
    answer is the same application (200, ``replayed``) with a fresh receipt
    token. A form changed since it was checked is 409 ``form_version_stale``
    (the draft moves to the new version; check again); answers that do not hold
    are 422 with each field; an exit page reached is 409 ``not_eligible``."""
    store = forms(ctx)
    code = ctx.request.headers.get("x-draft-code", "")
    key = digest("draft:" + normal_code(code)) if code and len(code) <= 40 else ""
    try:
        _, draft = await current_draft(ctx)
    except StoreError:
        if key:
            replay = await store.replay(key)
            if replay is not None:
                return JSONResponse({**await receipt_head(store, replay[0]), "receipt_token": replay[1],
                                     "replayed": True})
        raise
    draft, _, version, updated = await fresh(store, draft)
    if updated or body.version_id != version.id:
        raise StoreError("form_version_stale",
                         "申請書の様式が更新されました。入力内容を確認し直してください（入力は残っています）。 "
                         "The form was updated: check your answers again (they are kept).")
    files = await files_for(store, draft)
    checked = engine.check(version.form, draft.answers, today=today(ctx), files=files)
    if checked.exit is not None:
        raise StoreError("not_eligible", "この回答ではオンラインで申請できません。案内をご確認ください。 "
                                         "With these answers the application cannot be made online; see the guidance.")
    if checked.errors:
        raise ApiError("answers_invalid", "入力内容を確認してください。 Check the answers marked.",
                       field_details(checked.errors))
    problems = validate(schema_of(version), checked.answers)
    if problems:  # the engine and the schema disagree: a bug, never the citizen's doing
        log.error("answers checked by the engine break version %s's schema: %s", version.id, problems)
        raise ApiError("answers_invalid", "入力内容を確認してください。 Check the answers.",
                       [{"field": p.split(":")[0], "problem": "schema", "message": p} for p in problems[:20]])
    if draft.application_id is not None:
        corrected = await store.resubmit(await store.application(draft.application_id), version, checked.answers,
                                         draft.id, "citizen")
        return {**await receipt_head(store, corrected), "receipt_token": None, "replayed": False}
    app, token = await store.submit(version, checked.answers, channel="online", submission_key=key, actor="citizen",
                                    files_owner=draft.id)
    return {**await receipt_head(store, app), "receipt_token": token, "replayed": token is None}


_schemas: dict[str, dict[str, Any]] = {}


def schema_of(version: VersionRow) -> dict[str, Any]:
    """The version's JSON Schema (built once per version)."""
    schema = _schemas.get(version.id)
    if schema is None or version.state in ("draft", "pending"):
        schema = json_schema(version.form)
        if version.state in ("published", "retired"):
            if len(_schemas) > 256:
                _schemas.clear()
            _schemas[version.id] = schema
    return schema


async def receipt_head(store: FormStore, app: ApplicationRow) -> dict[str, Any]:
    """The receipt's facts: reference, procedure, status, when."""
    procedure = await store.procedure(app.procedure_id)
    return {
        "reference": app.reference, "procedure": {"slug": procedure.slug, "name": procedure.fields.name.model_dump()},
        "status": app.status, "status_label": STATUSES[app.status], "submitted_at": iso(app.submitted_at),
        "updated_at": iso(app.updated_at),
    }


async def current_application(ctx: Ctx) -> tuple[FormStore, ApplicationRow]:
    """The application of the request's ``X-Receipt-Token``. Raises StoreError ``not_found``."""
    token = ctx.request.headers.get("x-receipt-token", "")
    if not token or len(token) > 100:
        raise StoreError("not_found", "申請が見つかりません。 No application was found for this link.")
    store = forms(ctx)
    return store, await store.by_receipt(token)


@endpoint("GET", "/apply/api/receipt", summary="An application's receipt and status", access="public", tag=TAG,
          credential="receiptToken", errors=("not_found",))
async def receipt(ctx: Ctx, _: None) -> dict[str, Any]:
    """Reference, status (受付・処理中・差し戻し・完了・却下・取下げ), the answers sent,
    and when returned for correction, the message saying what to correct."""
    store, app = await current_application(ctx)
    version = await store.version(app.version_id)
    message = ""
    if app.status == "returned":
        message = next((str(h.detail.get("message", "")) for h in reversed(await store.history(app.id))
                        if h.action == "status" and h.detail.get("to") == "returned"), "")
    shown = [{"page": r.page, "path": r.path, "label": r.label, "value": r.value}
             for r in rows(version.form, app.answers)]
    return {**await receipt_head(store, app), "rows": shown, "return_message": message,
            "can_correct": app.status == "returned", "can_withdraw": app.status not in FINAL}


@endpoint("GET", "/apply/api/receipt.pdf", summary="The receipt as a PDF (申請内容控え)", access="public", tag=TAG,
          credential="receiptToken", errors=("not_found",), media_type="application/pdf")
async def receipt_pdf_file(ctx: Ctx, _: None) -> Response:
    """The answers sent, with the reference number, as a PDF with its Japanese
    fonts embedded; drawn once per version of the answers (off the event loop)
    and kept under the data directory."""
    store, app = await current_application(ctx)
    data = await receipt_bytes(ctx, store, app)
    return Response(data, media_type="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="receipt-{app.reference}.pdf"', "Cache-Control": "no-store"})


async def receipt_bytes(ctx: Ctx, store: FormStore, app: ApplicationRow) -> bytes:
    """The receipt PDF of ``app`` as it stands (kept: the same answers give the same bytes)."""
    from .receipt import Receipt, ReceiptRow, receipt_fonts, receipt_pdf

    path = store.files_dir.parent / "receipts" / f"{app.id}-{int(app.updated_at.timestamp() * 1e6)}.pdf"
    if path.exists():
        return await store.offload(path.read_bytes)
    version = await store.version(app.version_id)
    procedure = await store.procedure(app.procedure_id)
    layout = ctx.services.layout
    receipt = Receipt(
        office_name=f"{layout.office_name.ja} {layout.office_name.en}".strip(),
        procedure_name=f"{procedure.fields.name.ja} {procedure.fields.name.en or ''}".strip(),
        reference=app.reference, submitted_at=app.submitted_at,
        rows=[ReceiptRow(r.label, r.value, r.page) for r in rows(version.form, app.answers)],
        notes=("この控えは申請の内容を記録したものです。審査の結果は受付番号でお問い合わせください。 "
               "This receipt records what was sent; ask about the outcome with the reference number.",))
    fonts = receipt_fonts(ctx.services.settings.ticket_fonts())
    data = await store.offload(receipt_pdf, receipt, fonts)

    def keep() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(data)
        tmp.replace(path)

    await store.offload(keep)
    return data


@endpoint("POST", "/apply/api/receipt/withdraw", summary="Withdraw the application (取下げ)", access="public", tag=TAG,
          credential="receiptToken", errors=("not_found", "application_closed"))
async def withdraw(ctx: Ctx, _: None) -> dict[str, Any]:
    """The citizen withdraws an application not yet decided."""
    store, app = await current_application(ctx)
    return await receipt_head(store, await store.withdraw(app))


@endpoint("POST", "/apply/api/receipt/correction", summary="Correct a returned application (修正)", access="public",
          tag=TAG, credential="receiptToken", status=201, errors=("not_found", "not_returned", "procedure_not_open"))
async def correct(ctx: Ctx, _: None) -> dict[str, Any]:
    """A draft holding the application's answers, on the form citizens fill now;
    sent, it replaces the answers (the old ones stay in the history) and the
    application is received again."""
    from .workflow import citizen_can_correct

    store, app = await current_application(ctx)
    citizen_can_correct(app.status)
    procedure, version = await live_version(store, app.procedure_id)
    draft, code = await store.start_draft(version.id, app.answers, application_id=app.id)
    return {"code": code, **await draft_view(store, draft, procedure, version)}


@endpoint("GET", "/apply/api/postal-codes/{code}", summary="Addresses of a postal code (郵便番号から住所)",
          access="public", tag=TAG, errors=("invalid_request",),
          path_patterns={"code": r"^〒?[0-9０-９]{3}[-‐‑‒–—−ー－]?[0-9０-９]{4}$"})
async def postal_code(ctx: Ctx, _: None) -> dict[str, Any]:
    """The towns Japan Post lists for a 7-digit postal code, from the data kept
    with the server (no outside service); empty for an unknown code."""
    try:
        found = await forms(ctx).offload(postal.lookup, ctx.path["code"])
    except ValueError as err:
        raise ApiError("invalid_request", str(err)) from None
    return {"addresses": [{"postal_code": a.postal_code, "prefecture": a.prefecture, "city": a.city, "town": a.town,
                           "address": f"{a.prefecture}{a.city}{a.town}"} for a in found],
            "data_version": postal.data_version()}
