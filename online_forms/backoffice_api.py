"""The back office's door: a back-office system pulls the applications of its
procedures that it has not taken yet, with their answers and attachments, and
acknowledges them (issue 14, point 5; seeds 000 8.9, 002 2.1.2(エ)).

A back-office system is a system account: a device of kind ``backoffice``
(:mod:`server.auth`) that an admin registers here with its scope (the
procedures it may read), and that pairs like any device
(``POST /api/devices/pair``) to get its own bearer token; an admin revokes it
with ``DELETE /api/devices/{id}``. Its routes (access ``backoffice``) are:

- ``GET /api/forms/feed?after=&limit=``: what it has not taken, in a stable
  order, a page at a time (an opaque ``cursor`` to go on from);
- ``GET /api/forms/feed/{reference}``: one application (answers, form version
  and its JSON Schema's id, attachments with their download routes), recorded
  as delivered;
- ``GET /api/forms/feed/{reference}/files/{fid}``: an attachment's bytes;
- ``POST /api/forms/feed/ack``: taken (not offered again until it changes);
- ``POST /api/forms/feed/redeliver``: offer acknowledged ones again (an admin
  can ask the same for a system);
- ``GET /api/forms/feed/schemas/{version_id}``: the JSON Schema (2020-12) of a
  form version's answers, the contract of what it receives.

An application outside the system's scope does not exist for it (404). The
rules of the feed are in :mod:`online_forms.feed`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from server.api.registry import Ctx, endpoint
from server.errors import ApiError
from server.storage.database import write_audit
from server.views import iso

from .feed import Feed, FeedEntry, cursor_of, read_cursor, system_actor
from .schema import json_schema
from .store import ApplicationRow, FormStore, ProcedureRow, StoreError, VersionRow, from_us, us
from .workflow import STATUSES

TAG = "backoffice"
FEED = "/api/forms/feed"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FeedQuery(Body):
    """A page of the feed."""

    after: str | None = Field(None, max_length=64,
                              description="the cursor of the page before (left out: from the start)")
    limit: int = Field(100, ge=1, le=500, description="how many applications at most")


class AckIn(Body):
    """Applications the system has taken (their references)."""

    references: list[str] = Field(min_length=1, max_length=500)


class RedeliverIn(Body):
    """Applications to offer again: these references, or ``"all"`` those acknowledged."""

    references: Annotated[list[str], Field(min_length=1, max_length=500)] | Literal["all"]


class SystemIn(Body):
    """A back-office system to register, with the procedures (short names or ids) it may read."""

    name: str = Field(min_length=1, max_length=100)
    procedures: list[str] = Field(max_length=200)


class ScopeIn(Body):
    """The procedures (short names or ids) a back-office system may read."""

    procedures: list[str] = Field(max_length=200)


def forms(ctx: Ctx) -> FormStore:
    """The online applications' store of the running app."""
    store: FormStore = ctx.services.forms
    return store


def feed_of(ctx: Ctx) -> Feed:
    """The feed's storage, on the online applications' engine."""
    store = forms(ctx)
    return Feed(store.engine, store.turns)


def now_us(ctx: Ctx) -> int:
    """The moment now (UTC epoch µs)."""
    return us(ctx.services.clock())


def system(ctx: Ctx) -> tuple[str, str]:
    """The calling system's device id and name."""
    return ctx.principal.id or "?", ctx.principal.name or "?"


def schema_id(ctx: Ctx, version: VersionRow) -> str:
    """The ``$id`` of a version's JSON Schema: where the system can read it."""
    return f"{ctx.services.public_url}{FEED}/schemas/{version.id}"


def not_found() -> StoreError:
    """The one answer for an application that does not exist or is outside the scope."""
    return StoreError("not_found", "その申請はありません。 No such application.")


async def in_scope(ctx: Ctx, key: str) -> tuple[ApplicationRow, list[str]]:
    """Application ``key`` (its reference) if the calling system may read it (else 404), and the scope."""
    scope = await feed_of(ctx).scope(system(ctx)[0])
    try:
        app = await forms(ctx).application(key)
    except StoreError:
        raise not_found() from None
    if app.procedure_id not in scope:
        raise not_found()
    return app, scope


async def references_in_scope(ctx: Ctx, device: str, references: list[str]) -> dict[str, str]:
    """``{application id: reference}`` of ``references``; 404 ``not_found`` naming every one
    that does not exist or is outside system ``device``'s scope (nothing is done then)."""
    scope = set(await feed_of(ctx).scope(device))
    found: dict[str, str] = {}
    unknown: list[str] = []
    for ref in dict.fromkeys(references):
        try:
            app = await forms(ctx).application(ref)
        except StoreError:
            app = None
        if app is None or app.procedure_id not in scope:
            unknown.append(ref)
        else:
            found[app.id] = app.reference
    if unknown:
        raise ApiError("not_found", "見つからない申請があります。 Some applications were not found.",
                       [{"field": "references", "problem": "not_found", "message": ref[:60]} for ref in unknown[:100]])
    return found


async def entry_view(store: FormStore, e: FeedEntry, procedures: dict[str, ProcedureRow]) -> dict[str, Any]:
    """One application on the feed (no answers: fetch it for those)."""
    version = await store.version(e.version_id)
    return {"reference": e.reference, "procedure": procedures[e.procedure_id].slug, "event": e.event,
            "state": e.state, "status": e.status, "channel": e.channel, "version": version.number,
            "submitted_at": iso(from_us(e.submitted_at_us)), "updated_at": iso(from_us(e.updated_at_us)),
            "cursor": cursor_of(e.seq), "href": f"{FEED}/{quote(e.reference)}"}


@endpoint("GET", FEED, summary="Applications not taken yet (未取込の申請)", access="backoffice", tag=TAG,
          query=FeedQuery, errors=("bad_cursor",))
async def feed(ctx: Ctx, _: None) -> dict[str, Any]:
    """The applications of the system's procedures whose latest submission it has
    not acknowledged, oldest first in a stable order (the feed's sequence, never a
    clock). ``state``: ``new``, ``delivered`` (fetched, not acknowledged) or
    ``changed`` (resent after correction since it was fetched). ``cursor`` goes on
    after this page (send it as ``after``); ``more`` says whether there is more.
    Start each pull without ``after``: everything not acknowledged comes again."""
    query: FeedQuery = ctx.query
    after = read_cursor(query.after)
    device, _name = system(ctx)
    store, storage = forms(ctx), feed_of(ctx)
    entries = await storage.entries(device, await storage.scope(device), after, query.limit + 1)
    page = entries[:query.limit]
    procedures = {p.id: p for p in await store.procedures()}
    return {"applications": [await entry_view(store, e, procedures) for e in page],
            "cursor": cursor_of(page[-1].seq) if page else (query.after or None),
            "more": len(entries) > query.limit}


@endpoint("GET", FEED + "/{reference}", summary="One application for the back office", access="backoffice", tag=TAG,
          errors=("not_found",))
async def feed_application(ctx: Ctx, _: None) -> dict[str, Any]:
    """The application as sent: its answers (shaped as the version's JSON Schema,
    ``version.schema_id``, says), status, channel, the form version it was made on,
    and its attachments with their download routes. Recorded as delivered to this
    system (in the application's history too)."""
    app, _scope = await in_scope(ctx, ctx.path["reference"])
    device, name = system(ctx)
    store = forms(ctx)
    delivery = await feed_of(ctx).delivered(device, name, app.id, now_us(ctx), "application")
    app = await store.application(app.id)   # read after the delivery: never older than what it records
    version = await store.version(app.version_id)
    procedure = await store.procedure(app.procedure_id)
    files = await feed_of(ctx).files(app.id)
    ref = quote(app.reference)
    return {
        "reference": app.reference, "procedure": {"slug": procedure.slug, "name": procedure.fields.name.model_dump()},
        "status": app.status, "status_label": STATUSES[app.status], "channel": app.channel,
        "submitted_at": iso(app.submitted_at), "updated_at": iso(app.updated_at),
        "version": {"number": version.number, "id": version.id, "schema_id": schema_id(ctx, version)},
        "answers": app.answers,
        "attachments": [{"id": f.id, "name": f.name, "type": f.type, "size": f.size, "sha256": f.sha256,
                         "href": f"{FEED}/{ref}/files/{f.id}"} for f in files],
        "delivery": {"state": delivery.state, "cursor": cursor_of(delivery.delivered_seq),
                     "delivered_at": iso(from_us(delivery.delivered_at_us)),
                     "acknowledged_at": iso(from_us(delivery.acked_at_us)) if delivery.acked_at_us else None},
    }


@endpoint("GET", FEED + "/{reference}/files/{fid}", summary="An attachment for the back office",
          access="backoffice", tag=TAG, errors=("not_found",), media_type="application/octet-stream")
async def feed_file(ctx: Ctx, _: None) -> Response:
    """The attachment's bytes with its type (found in its bytes when received);
    the download is recorded in the application's history."""
    app, _scope = await in_scope(ctx, ctx.path["reference"])
    info = next((f for f in await feed_of(ctx).files(app.id) if f.id == ctx.path["fid"]), None)
    if info is None:
        raise StoreError("not_found", "そのファイルはありません。 No such file.")
    data = await forms(ctx).offload(forms(ctx).file_path(info.id).read_bytes)
    device, name = system(ctx)
    await feed_of(ctx).file_taken(device, name, app.id, now_us(ctx), info.name)
    return Response(data, media_type=info.type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(info.name)}",
        "X-Content-Type-Options": "nosniff", "Digest": f"sha-256={info.sha256}"})


@endpoint("POST", FEED + "/ack", summary="Acknowledge applications taken (取込済み)", access="backoffice", tag=TAG,
          body=AckIn, errors=("not_found", "not_delivered"))
async def acknowledge(ctx: Ctx, body: AckIn) -> dict[str, Any]:
    """Each application's delivered answers are taken: it leaves the feed until it
    changes (resent after correction). Every reference must be in the system's
    scope (404 naming those that are not) and fetched first (409
    ``not_delivered``); either way nothing is acknowledged. Acknowledging again is
    harmless."""
    device, name = system(ctx)
    apps = await references_in_scope(ctx, device, body.references)
    await feed_of(ctx).acknowledge(device, name, apps, now_us(ctx))
    return {"acknowledged": list(apps.values())}


async def redeliver_for(ctx: Ctx, device: str, name: str, body: RedeliverIn, actor: str) -> list[str]:
    """Offer again what system ``device`` acknowledged (``body``), asked by ``actor``;
    the references re-offered."""
    ids = None if body.references == "all" else list(await references_in_scope(ctx, device, body.references))
    return await feed_of(ctx).redeliver(device, name, ids, actor, now_us(ctx))


@endpoint("POST", FEED + "/redeliver", summary="Offer acknowledged applications again", access="backoffice",
          tag=TAG, body=RedeliverIn, errors=("not_found",))
async def redeliver(ctx: Ctx, body: RedeliverIn) -> dict[str, Any]:
    """Re-runs a delivery: the acknowledged applications named (or ``"all"``) are on
    the feed again; ``redelivered`` lists those that were acknowledged."""
    device, name = system(ctx)
    return {"redelivered": await redeliver_for(ctx, device, name, body, system_actor(device))}


@endpoint("GET", FEED + "/schemas/{version_id}", summary="A form version's JSON Schema", access="backoffice",
          tag=TAG, errors=("not_found",))
async def feed_schema(ctx: Ctx, _: None) -> dict[str, Any]:
    """The JSON Schema (2020-12) of the answers of applications made on this version
    (its ``$id`` is this route), for the system's procedures only."""
    try:
        version = await forms(ctx).version(ctx.path["version_id"])
    except StoreError:
        version = None
    if version is None or version.procedure_id not in await feed_of(ctx).scope(system(ctx)[0]):
        raise StoreError("not_found", "その版はありません。 No such form version.")
    return json_schema(version.form, schema_id=schema_id(ctx, version))


# ------------------------------------------------------------------ admins: the systems
async def procedure_ids(ctx: Ctx, keys: list[str]) -> list[str]:
    """The ids of procedures ``keys`` (short names or ids); 404 ``not_found`` naming each unknown one."""
    ids, unknown = [], []
    for key in dict.fromkeys(keys):
        try:
            ids.append((await forms(ctx).procedure(key)).id)
        except StoreError:
            unknown.append(key)
    if unknown:
        raise ApiError("not_found", "その手続はありません。 No such procedure.",
                       [{"field": "procedures", "problem": "unknown_procedure", "message": k[:60]} for k in unknown])
    return ids


async def system_view(ctx: Ctx, device: dict[str, Any], scope: list[str],
                      counts: dict[str, int] | None = None) -> dict[str, Any]:
    """A back-office system for admins: device, scope (short names), deliveries."""
    procedures = {p.id: p.slug for p in await forms(ctx).procedures()}
    return {"id": device["id"], "name": device["name"], "paired": device.get("paired", False),
            "revoked": device.get("revoked", False), "procedures": sorted(procedures[p] for p in scope),
            **(counts or {"delivered": 0, "acknowledged": 0})}


async def backoffice_device(ctx: Ctx) -> dict[str, Any]:
    """The back-office system in the path (404 for none, or another kind of device)."""
    found = next((d for d in await ctx.services.auth.list_devices()
                  if d["id"] == ctx.path["device_id"] and d["kind"] == "backoffice"), None)
    if found is None:
        raise ApiError("not_found", "その連携システムはありません。 No such back-office system.")
    return found


async def audit(ctx: Ctx, action: str, detail: str) -> None:
    """One row in the audit log (who: the admin)."""
    async with ctx.services.engine.begin() as conn:
        await write_audit(conn, ctx.staff or "?", action, detail, now_us(ctx))


@endpoint("POST", "/api/forms/backoffice", summary="Register a back-office system", access="admin", tag=TAG,
          body=SystemIn, status=201, errors=("not_found",))
async def create_system(ctx: Ctx, body: SystemIn) -> dict[str, Any]:
    """A system account (a device of kind ``backoffice``) that may read the
    applications of ``procedures``; returns a one-time pairing code the system
    trades for its token at ``POST /api/devices/pair`` (``kind: backoffice``).
    Revoke it with ``DELETE /api/devices/{id}``."""
    ids = await procedure_ids(ctx, body.procedures)
    device, code = await ctx.services.auth.create_device("backoffice", body.name, ctx.staff or "?")
    await feed_of(ctx).set_scope(device["id"], ids)
    await audit(ctx, "forms.backoffice_scope", f"{body.name}: {', '.join(sorted(body.procedures))}")
    return {"system": await system_view(ctx, device, ids), "pairing_code": code}


@endpoint("GET", "/api/forms/backoffice", summary="Back-office systems", access="admin", tag=TAG)
async def list_systems(ctx: Ctx, _: None) -> dict[str, Any]:
    """Every back-office system: paired or not, revoked or not, its procedures, and
    how many applications were delivered to it and acknowledged."""
    storage = feed_of(ctx)
    scopes, counts = await storage.scopes(), await storage.counts()
    return {"systems": [await system_view(ctx, d, scopes.get(d["id"], []), counts.get(d["id"]))
                        for d in await ctx.services.auth.list_devices() if d["kind"] == "backoffice"]}


@endpoint("PUT", "/api/forms/backoffice/{device_id}/scope", summary="Set what a back-office system may read",
          access="admin", tag=TAG, body=ScopeIn, errors=("not_found",))
async def set_scope(ctx: Ctx, body: ScopeIn) -> dict[str, Any]:
    """Replaces the system's procedures; what it acknowledged stays recorded."""
    device = await backoffice_device(ctx)
    ids = await procedure_ids(ctx, body.procedures)
    await feed_of(ctx).set_scope(device["id"], ids)
    await audit(ctx, "forms.backoffice_scope", f"{device['name']}: {', '.join(sorted(body.procedures))}")
    return await system_view(ctx, device, ids)


@endpoint("POST", "/api/forms/backoffice/{device_id}/redeliver", summary="Re-run a delivery to a back-office system",
          access="admin", tag=TAG, body=RedeliverIn, errors=("not_found",))
async def admin_redeliver(ctx: Ctx, body: RedeliverIn) -> dict[str, Any]:
    """As the system's own ``POST /api/forms/feed/redeliver``, asked by an admin
    (recorded with the admin as the actor)."""
    device = await backoffice_device(ctx)
    done = await redeliver_for(ctx, device["id"], device["name"], body, ctx.staff or "?")
    await audit(ctx, "forms.backoffice_redelivery", f"{device['name']}: {len(done)} applications")
    return {"redelivered": done}
