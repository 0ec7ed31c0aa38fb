"""Read-only views of the floor."""

from __future__ import annotations

from typing import Any

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


@endpoint("GET", "/api/health", summary="Liveness", access="public", tag="public")
async def health(ctx: Ctx, _: None) -> dict[str, Any]:
    """``{"status": "ok"}`` while the writer runs. Carries no version."""
    return {"status": "ok", "seq": ctx.services.hub.seq, "ws_clients": len(ctx.services.hub.subscribers)}
