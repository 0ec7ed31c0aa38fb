"""Read-only views of the floor."""

from __future__ import annotations

from typing import Any

from ..errors import ApiError
from ..views import office_snapshot
from .registry import Ctx, endpoint


@endpoint("GET", "/api/state", summary="The floor now (public)", access="public", tag="public", rate_limited=True)
async def state(ctx: Ctx, _: None) -> dict[str, Any]:
    """Queues with people waiting and expected wait, counters, recent calls and
    hand-over numbers. No personal data (seed 004 8(5))."""
    return office_snapshot(ctx.services.processor.current_floor(), ctx.services.clock())


@endpoint("GET", "/api/staff/state", summary="The floor now (staff view)", access="staff", tag="counters")
async def staff_state(ctx: Ctx, _: None) -> dict[str, Any]:
    """As ``/api/state`` plus waiting lists with estimates, held and no-show tickets."""
    return office_snapshot(ctx.services.processor.current_floor(), ctx.services.clock(), staff=True)


@endpoint("GET", "/api/health", summary="Liveness", access="public", tag="public", errors=("storage_unavailable",))
async def health(ctx: Ctx, _: None) -> dict[str, Any]:
    """``{"status": "ok"}`` while the writer can write; 503 ``storage_unavailable``
    naming the cause (e.g. the disk is full) from the writer's last failed
    write until a write succeeds again. Staff also get ``seq`` (the last
    event's number) and ``ws_clients`` (open WebSockets); anonymous callers
    get only the status. Carries no version."""
    failure = ctx.services.processor.log.failure
    if failure is not None:
        raise ApiError("storage_unavailable", f"the server cannot store commands: {failure}")
    if not ctx.principal.is_staff:
        return {"status": "ok"}
    return {"status": "ok", "seq": ctx.services.hub.seq, "ws_clients": len(ctx.services.hub.subscribers)}
